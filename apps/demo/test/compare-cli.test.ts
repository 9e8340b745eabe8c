/** `mem-demo compare` as users run it (the built CLI). */
import { describe, expect, it } from "vitest";
import { built, cleanTempDirs, mem, tempDir } from "./cli-support.js";
import { LIBC_RECORDINGS } from "./support-fixtures.js";

cleanTempDirs();
const C = `${LIBC_RECORDINGS}heap-workout.memtrace.gz`;

describe.skipIf(!built)("mem-demo compare", () => {
  it("a bad settings string is one clear line and a usage error", () => {
    const r = mem(["compare", C, "--with", "PYTHONMALLOC=malloc", "--with", "MALLOC_ARENA_MAX=two"], { cwd: tempDir() });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`mem-demo compare: --with 'MALLOC_ARENA_MAX=two': "MALLOC_ARENA_MAX=two": expected a whole number (decimal, 0x hexadecimal, or 0 octal)\n`);
  });

  it("a missing trace is one line, not a failure per column", () => {
    const r = mem(["compare", "missing.memtrace.gz", "--with", "trim-every=10"], { cwd: tempDir() });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^mem-demo compare: missing\.memtrace\.gz: ENOENT/);
  });

  it("prints one table in the width of COLUMNS when piped, and JSON with --json", () => {
    const r = mem(["compare", C, "--with", "trim-every=100", "--with", "--libc tlsf", "--with", "GLIBC_TUNABLES=glibc.malloc.trim_threshold=0"], {
      cwd: tempDir(),
      env: { COLUMNS: "64" },
    });
    expect(r.status).toBe(0);
    for (const line of r.stdout.split("\n")) expect(line.length, line).toBeLessThanOrEqual(64);
    expect(r.stdout).toMatch(/^RssAnon at end +196\.0 KiB +88\.0 KiB \(-55%\)$/m);
    const j = mem(["compare", C, "--with", "trim-every=100", "--json"], { cwd: tempDir() });
    const json = JSON.parse(j.stdout) as { columns: { label: string; figures: { endRssAnon: number } }[] };
    expect(json.columns.map((c) => [c.label, c.figures.endRssAnon])).toEqual([
      ["baseline", 200_704],
      ["trim-every=100", 90_112],
    ]);
  }, 120_000);

  it("--jobs 2 replays in worker threads with the same figures as one after the other", () => {
    const args = ["compare", C, "--with", "trim-every=100", "--with", "--libc tlsf", "--with", "MALLOC_ARENA_MAX=1", "--json", "--every", "500"];
    const serial = mem([...args, "--jobs", "1"], { cwd: tempDir() });
    const parallel = mem([...args, "--jobs", "2"], { cwd: tempDir() });
    expect(serial.status).toBe(0);
    expect(parallel.status).toBe(0);
    expect(parallel.stdout).toBe(serial.stdout);
    expect(parallel.stderr).toBe(serial.stderr);
  }, 120_000);
});
