/**
 * `mem-demo replay` honours what the trace says about how it was recorded, and reports
 * what it did: real recordings made on this machine under CPython 3.8 and under
 * GLIBC_TUNABLES, the report's layout, pointers returned twice, and --seed.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TraceStream } from "@mem/memtrace";
import { describe, expect, it } from "vitest";
import { prepareReplay, replayReport } from "../src/replay-command.js";
import { replayFile } from "../src/replay-file.js";
import { Replayer } from "../src/replay.js";
import { createStack, seededKey } from "../src/stack.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
/** `python3.8 -S -c "x = [str(i) for i in range(500)]"` recorded by memtrace_python built against CPython 3.8.18 (with its statistics). */
const PY38 = fixture("cpython-3.8/list-of-str.memtrace.gz");
/** `heap_workout 1` (apps/demo/native) recorded under GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536. */
const TUNED = fixture("glibc-env/heap-workout-tunables.memtrace.gz");
const BASE = { ramSize: 512 * 1024 * 1024 };

async function replay(trace: string, flags: Parameters<typeof prepareReplay>[1] = {}) {
  const notes: string[] = [];
  const warnings: string[] = [];
  const prepared = await prepareReplay(trace, flags, BASE, (line) => notes.push(line));
  const summary = await replayFile(prepared.stack, trace, { warn: (line) => warnings.push(line) });
  return { prepared, summary, notes, warnings };
}

describe("a CPython 3.8 recording replays with 3.8's pymalloc", () => {
  it("the header's version is used, said on standard error, and the statistics equal the real run's", { timeout: 60_000 }, async () => {
    const { prepared, summary, notes } = await replay(PY38);
    expect(notes).toEqual(["from the trace header: CPython 3.8"]);
    expect(prepared.stack.options.pymallocVersion).toBe("3.8");
    expect(summary.divergences).toBe(0);
    expect(summary.arenasRecorded).toBe(7); // the recorder's A lines, 256 KiB arenas under 3.8
    expect(prepared.stack.pymalloc!.debugMallocStats()).toBe(readFileSync(PY38.replace(/\.memtrace\.gz$/, ".stats.txt"), "utf8"));
  });

  it("ignoring the header (the old behaviour) replays it as 3.11, and the statistics differ", { timeout: 60_000 }, async () => {
    const { prepared, warnings } = await replay(PY38, { traceSettings: false });
    expect(prepared.stack.options.pymallocVersion).toBe("3.11");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^line \d+: the recorded pymalloc arenas are 262144 bytes; pymalloc 3\.11 uses 1048576 /);
    expect(prepared.stack.pymalloc!.debugMallocStats()).not.toBe(readFileSync(PY38.replace(/\.memtrace\.gz$/, ".stats.txt"), "utf8"));
  });

  it("arenas of another size than the preset's are warned about", async () => {
    const probe = fileURLToPath(new URL("../../../packages/small-object/test/fixtures/probe/basic-3.8.memtrace.gz", import.meta.url));
    const { warnings } = await replay(probe);
    expect(warnings).toEqual([
      "line 3: the recorded pymalloc arenas are 262144 bytes; pymalloc 3.11 uses 1048576 (recorded by another CPython version? give --pymalloc-version)",
    ]);
    expect((await replay(probe, { pymallocVersion: "3.8" })).warnings).toEqual([]);
  });
});

describe("a C program recorded under GLIBC_TUNABLES", () => {
  it("replays with the recorded tunables: every placement as glibc's", { timeout: 60_000 }, async () => {
    const { prepared, summary, notes } = await replay(TUNED);
    expect(notes).toEqual(["from the trace header: glibc.malloc.mmap_threshold=65536, glibc.malloc.tcache_count=0"]);
    expect(prepared.stack.options.glibc).toMatchObject({ tcacheCount: 0, mmapThreshold: 65536 });
    expect(summary.placements).toEqual({ compared: 769, moved: 0, firstMovedLine: null });
    expect(summary.divergences).toBe(0);
  });

  it("with glibc's defaults (the old behaviour) it diverges", { timeout: 60_000 }, async () => {
    const { summary } = await replay(TUNED, { traceSettings: false });
    expect(summary.placements.moved).toBeGreaterThan(100);
    expect(summary.placements.firstMovedLine).toBeGreaterThan(0);
  });

  it("a tunable on the command line wins over the header's", { timeout: 60_000 }, async () => {
    const { prepared, notes } = await replay(TUNED, { glibcTunables: "glibc.malloc.tcache_count=7" });
    expect(prepared.stack.options.glibc).toMatchObject({ tcacheCount: 7, mmapThreshold: 65536 });
    expect(notes).toEqual([
      "from the trace header: glibc.malloc.mmap_threshold=65536",
      "the trace was recorded with glibc.malloc.tcache_count=0; --glibc-tunables glibc.malloc.tcache_count=7 wins",
    ]);
  });
});

describe("the report", () => {
  it("a C trace without --stats: the summary, then glibc's malloc_stats, no pymalloc table", { timeout: 60_000 }, async () => {
    const { prepared, summary } = await replay(TUNED);
    const text = replayReport(prepared, summary, undefined, false);
    expect(text).not.toContain("Small block threshold");
    expect(text).toMatch(/^calls {12}1,498 \(libc 1,498\) in 1,505 lines\nlive blocks {6}1 at the end, \d+ at the peak\ndivergences {6}0\n/);
    expect(text).toContain("placements       769 of 769 libc results where glibc put them\n");
    expect(text.indexOf("divergences")).toBeLessThan(text.indexOf("Arena 0:\nsystem bytes     ="));
    expect(text).toMatch(/\nTotal \(incl\. mmap\):\nsystem bytes {5}= +\d+\nin use bytes {5}= +\d+\nmax mmap regions = +\d+\nmax mmap bytes {3}= +\d+\n$/);
  });

  it("--stats all has a heading over each section", { timeout: 60_000 }, async () => {
    const { prepared, summary } = await replay(TUNED);
    const text = replayReport(prepared, summary, "all", false);
    const headings = text.split("\n").filter((l) => l.startsWith("== "));
    expect(headings).toEqual([
      "== pymalloc: sys._debugmallocstats() ==",
      "== libc: glibc malloc_stats() ==",
      `== kernel: /proc/${prepared.stack.process.pid}/status and /proc/${prepared.stack.process.pid}/maps ==`,
    ]);
  });

  it("--json carries numbers: no prose, no text blobs", { timeout: 60_000 }, async () => {
    const { prepared, summary } = await replay(PY38);
    const json = JSON.parse(replayReport(prepared, summary, "all", true)) as {
      summary: Record<string, unknown>;
      stats: { pymalloc: { classes: unknown[]; totals: Record<string, number> }; libc: { mallinfo2: Record<string, number> }; vm: { status: Record<string, number> } };
    };
    const strings: string[] = [];
    const walk = (v: unknown) => {
      if (typeof v === "string") strings.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === "object") Object.values(v).forEach(walk);
    };
    walk(json);
    // strings: only names (settings, permissions, paths, hex addresses), never a line of text
    for (const s of strings) expect(s, s).not.toMatch(/\n| {2}/);
    expect(json.summary.calls).toBeTypeOf("number");
    expect(json.stats.pymalloc.classes.length).toBeGreaterThan(5);
    expect(json.stats.pymalloc.totals).toMatchObject({ arenaSize: 262144, poolSize: 4096 });
    expect(json.stats.pymalloc.totals.arenasAllocatedCurrent).toBeGreaterThan(0);
    expect(json.stats.libc.mallinfo2.arena).toBeGreaterThan(0);
    expect(json.stats.vm.status.VmRSS).toBeGreaterThan(0);
  });
});

describe("a pointer the trace returns twice while it is live", () => {
  it("is a divergence with a warning, not a silent leak", () => {
    const stack = createStack(BASE);
    const warnings: string[] = [];
    const replayer = new Replayer(stack, undefined, { warn: (w) => warnings.push(w) });
    const stream = new TraceStream((record, line) => replayer.handle(record, line));
    stream.push("# memtrace v1\nm libc 24 0x5000\nm libc 24 0x5000\nf libc 0x5000\n");
    stream.end();
    const s = replayer.finish();
    expect(s.reusedLive).toBe(1);
    expect(s.divergences).toBe(1);
    expect(s.live).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^line 3: 0x5000 returned again while still live \(no free in the trace\): the earlier block \(simulated 0x[0-9a-f]+\) stays allocated$/);
  });
});

describe("--seed", () => {
  it("makes glibc's tcache_key reproducible (and the key in a freed tcache entry)", () => {
    const key = (seed?: number) => {
      const stack = createStack({ ...BASE, seed });
      const p = stack.libc.malloc(24);
      stack.libc.free(p);
      const inMemory = stack.process.memory.load64(p + 8);
      expect(inMemory).toBe(stack.options.glibc.tcacheKey);
      return stack.options.glibc.tcacheKey;
    };
    expect(key(42)).toBe(key(42));
    expect(key(42)).toBe(seededKey(42));
    expect(key(42)).not.toBe(key(43));
    expect(key()).not.toBe(key()); // without a seed: random, as before
  });
});
