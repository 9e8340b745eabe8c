/**
 * The mem-demo command as users run it (through tsx, from the sources).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PYTHON_RECORDINGS } from "./support-fixtures.js";

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const run = (args: string[], input?: string) =>
  spawnSync(process.execPath, ["--import", "tsx", cli, ...args], { encoding: "utf8", input, env: { ...process.env, NO_COLOR: "1" } });
const scratch = mkdtempSync(join(tmpdir(), "mem-demo-cli-"));

describe("mem-demo", () => {
  it("runs the walk-through, plain when piped", () => {
    const r = run([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("2. Python creates a Person object: PyObject_Malloc(78)");
    expect(r.stdout).not.toContain("\u001b[");
  }, 60_000);

  it("--json prints the same steps for machines", () => {
    const r = run(["--json", "--pythonmalloc", "malloc"]);
    const walk = JSON.parse(r.stdout) as { configuration: { pythonMalloc: string }; steps: unknown[] };
    expect(walk.configuration.pythonMalloc).toBe("malloc");
    expect(walk.steps).toHaveLength(6);
  }, 60_000);

  it("replay prints the summary, then exactly the real pymalloc statistics of a recording", () => {
    const r = run(["replay", join(PYTHON_RECORDINGS, "startup.memtrace.gz")]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^calls {12}[\d,]+ \(obj [\d,]+, mem [\d,]+, raw [\d,]+\) in [\d,]+ lines\n/);
    expect(r.stdout).toContain("\ndivergences      0\n");
    const stats = readFileSync(join(PYTHON_RECORDINGS, "startup.stats.txt"), "utf8");
    expect(r.stdout.endsWith(`\n\n${stats}`)).toBe(true);
    expect(r.stderr).toBe("mem-demo replay: from the trace header: CPython 3.11\n");
  }, 60_000);

  it("replay reads standard input and writes the replayed trace with --out", () => {
    const out = join(scratch, "out.memtrace");
    const trace = "# memtrace v1\nm libc 100 0x5000\nm libc 200 0x5070\nf libc 0x5000\n";
    const r = run(["replay", "-", "--stats", "libc", "--out", out], trace);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^calls {12}3 \(libc 3\) in 4 lines\n[^]*\n\nArena 0:\nsystem bytes {5}= +\d+/);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0]).toBe("# memtrace v1");
    expect(lines).toContain("# heap-start 0x555555559000");
    expect(lines.slice(-3)).toEqual(["m libc 100 0x5555555592a0", "m libc 200 0x555555559310", "f libc 0x5555555592a0"]);
  }, 60_000);

  it("stops at a malformed line with its number and what is wrong", () => {
    const r = run(["replay", "-"], "# memtrace v1\nm obj 16 0x10\nr obj 0x10\n");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^mem-demo replay: -: memtrace: line 3: /);
  }, 60_000);

  it("stops at a simulated fault with the real system's message and the event's line", () => {
    const overflow = "# memtrace v1\nm obj 16 0x10\nw 0x10 16 41\nf obj 0x10\n";
    const r = run(["replay", "-", "--pythonmalloc", "debug"], overflow);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("line 4: PyFatalError:");
    expect(r.stderr).toContain("bad trailing pad byte");
    const doubleFree = run(["replay", "-"], "# memtrace v1\nm libc 24 0x10\nf libc 0x10\nf libc 0x10\n");
    expect(doubleFree.status).toBe(1);
    expect(doubleFree.stderr).toBe("mem-demo replay: -: line 4: MallocAbort: free(): double free detected in tcache 2\n");
    // Writing after free over tcache's key lets the second free through to... the fastbin check.
    const useAfterFree = run(["replay", "-"], "# memtrace v1\nm libc 24 0x10\nf libc 0x10\nw 0x10 8 0000000000000000\nf libc 0x10\n");
    expect(useAfterFree.status).toBe(0);
  }, 60_000);

  it("rejects an unknown preset with the choices", () => {
    const r = run(["replay", "-", "--pythonmalloc", "mimalloc"], "# memtrace v1\n");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Allowed choices are default, malloc, pymalloc, debug, malloc_debug, pymalloc_debug");
  }, 60_000);
});
