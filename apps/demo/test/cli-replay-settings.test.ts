/**
 * `mem-demo replay` as users run it: what it takes from the trace header is said on standard
 * error in one line, the command line wins, versions without a preset are refused, --seed.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const TUNED = fileURLToPath(new URL("./fixtures/glibc-env/heap-workout-tunables.memtrace.gz", import.meta.url));
const run = (args: string[], input?: string) =>
  spawnSync(process.execPath, ["--import", "tsx", cli, ...args], { encoding: "utf8", input, env: { ...process.env, NO_COLOR: "1" } });

const header313 = "# memtrace v1\n# recorder memtrace_python: CPython 3.13.0, pymalloc arena size 1048576\n# env PYTHONMALLOC=debug\nm obj 10 0x10\n";
const header314 = header313.replace("3.13.0", "3.14.0");

describe("mem-demo replay and the trace header", () => {
  it("says on standard error which settings came from the header; the C trace gets glibc's statistics", () => {
    const r = run(["replay", TUNED]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("mem-demo replay: from the trace header: glibc.malloc.mmap_threshold=65536, glibc.malloc.tcache_count=0\n");
    expect(r.stdout).toContain("placements       769 of 769 libc results where glibc put them\n");
    expect(r.stdout).toContain("\nArena 0:\n");
    expect(r.stdout).not.toContain("Small block threshold");
  }, 60_000);

  it("reads the header from standard input too", () => {
    const r = run(["replay", "-"], gunzipSync(readFileSync(TUNED)).toString("utf8"));
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("mem-demo replay: from the trace header: glibc.malloc.mmap_threshold=65536, glibc.malloc.tcache_count=0\n");
    expect(r.stdout).toMatch(/^calls {12}1,498 \(libc 1,498\) in 1,505 lines\n/);
    expect(r.stdout).toContain("placements       769 of 769 libc results where glibc put them\n");
  }, 60_000);

  it("--glibc-tunables wins over the header, tunable by tunable; --no-trace-settings ignores it", () => {
    const r = run(["replay", TUNED, "--glibc-tunables", "glibc.malloc.tcache_count=7", "--json"]);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as { configuration: { glibc: Record<string, number> }; summary: { placements: { moved: number } } };
    expect(json.configuration.glibc).toEqual({ "glibc.malloc.mmap_threshold": 65536, "glibc.malloc.tcache_count": 7 });
    expect(r.stderr).toContain("the trace was recorded with glibc.malloc.tcache_count=0; --glibc-tunables glibc.malloc.tcache_count=7 wins\n");
    const ignored = run(["replay", TUNED, "--no-trace-settings", "--json"]);
    expect(ignored.stderr).toBe("");
    expect((JSON.parse(ignored.stdout) as typeof json).summary.placements.moved).toBeGreaterThan(100);
  }, 60_000);

  it("refuses a CPython version without a preset, unless --pymalloc-version is given", () => {
    const refused = run(["replay", "-"], header314);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      "mem-demo replay: -: the trace was recorded by CPython 3.14.0, which has no pymalloc preset here (3.8, 3.9, 3.10, 3.11, 3.12, 3.13): give --pymalloc-version to replay it with one of them\n",
    );
    const given = run(["replay", "-", "--pymalloc-version", "3.12"], header314);
    expect(given.status).toBe(0);
    expect(given.stderr).toBe(
      "mem-demo replay: from the trace header: PYTHONMALLOC=debug\nmem-demo replay: the trace was recorded by CPython 3.14.0; --pymalloc-version 3.12 wins\n",
    );
  }, 60_000);

  it("a CPython 3.13 trace replays with the 3.13 preset; another --pymalloc-version says what it does", () => {
    const r = run(["replay", "-", "--json"], header313);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("mem-demo replay: from the trace header: CPython 3.13, PYTHONMALLOC=debug\n");
    expect((JSON.parse(r.stdout) as { configuration: { pymallocVersion: string } }).configuration.pymallocVersion).toBe("3.13");
    const other = run(["replay", "-", "--pymalloc-version", "3.8"], header313);
    expect(other.status).toBe(0);
    expect(other.stderr).toBe(
      "mem-demo replay: from the trace header: PYTHONMALLOC=debug\nmem-demo replay: the trace was recorded by CPython 3.13.0; --pymalloc-version 3.8 wins\n",
    );
  }, 60_000);

  it("refuses a trace recorded under PYTHONMALLOC=mimalloc: no mimalloc tier exists yet", () => {
    // a real recording: `PYTHONMALLOC=mimalloc mem-demo record -- ~/.pyenv/versions/3.13.0/bin/python3 -S startup.py`
    // (no A lines; its statistics are mimalloc's: "Small block threshold = 16384, in 73 size classes.")
    const real = fileURLToPath(new URL("./fixtures/cpython-3.13/startup-mimalloc.memtrace.gz", import.meta.url));
    expect(readFileSync(real.replace(".memtrace.gz", ".stats.txt"), "utf8")).toMatch(/^Small block threshold = 16384, in 73 size classes\.\nMedium block threshold/);
    const r = run(["replay", real]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("the trace was recorded under PYTHONMALLOC=mimalloc: mimalloc, not pymalloc, served the mem and obj domains, and no mimalloc tier exists yet");
    const whatIf = run(["replay", real, "--pythonmalloc", "pymalloc"]);
    expect(whatIf.status).toBe(0);
    expect(whatIf.stderr).toContain("the trace was recorded under PYTHONMALLOC=mimalloc, and no mimalloc tier exists yet; --pythonmalloc pymalloc wins (a what-if, not a reproduction)");
  }, 60_000);

  it("--seed makes the tcache key reproducible", () => {
    const key = (...extra: string[]) =>
      (JSON.parse(run(["replay", "-", "--json", ...extra], "# memtrace v1\nm libc 24 0x10\nf libc 0x10\n").stdout) as { configuration: { tcacheKey: number } })
        .configuration.tcacheKey;
    expect(key("--seed", "7")).toBe(key("--seed", "7"));
    expect(key("--seed", "7")).not.toBe(key("--seed", "8"));
    expect(run(["replay", "-", "--seed", "-1"], "# memtrace v1\n").status).not.toBe(0);
  }, 60_000);
});
