/**
 * `--cpus` (replay) and `cpus=N` (compare): the CPU count glibc sizes its arena limit from
 * (8 × CPUs on 64-bit, applied once more than arena_test = 8 arenas exist), the command line
 * winning over the trace header's `# cpus`. thread-waves is deterministic (its threads take
 * turns), and was run on this machine as if on 1, 2 and 4 CPUs (a file bind-mounted over
 * /sys/devices/system/cpu/online, which glibc 2.36 reads): 9, 16 and 19 arenas. A replay under
 * another CPU count than the recording's must end with that run's malloc_stats (as far as the
 * runs' thread exits came at the same points), and report that its blocks no longer sit where
 * the recording's did.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { GlibcMalloc } from "@mem/libc-malloc";
import { compareTrace } from "../src/compare-command.js";
import { parseCompareSettings } from "../src/compare-settings.js";
import { prepareReplay } from "../src/replay-command.js";
import { replayFile } from "../src/replay-file.js";
import { LIBC_RECORDINGS } from "./support-fixtures.js";

/** Recorded on this machine's 2 CPUs. */
const WAVES = `${LIBC_RECORDINGS}thread-waves.memtrace.gz`;
/** The same program recorded as if on 1 CPU. */
const WAVES_1 = `${LIBC_RECORDINGS}thread-waves-cpus-1.memtrace.gz`;
const realStats = (cpus: 1 | 2 | 4) => readFileSync(`${LIBC_RECORDINGS}thread-waves${cpus === 2 ? "" : `-cpus-${cpus}`}.stats.txt`, "utf8");
const MiB = 1024 * 1024;

async function replay(trace: string, cpus: number | undefined) {
  const notes: string[] = [];
  const prepared = await prepareReplay(trace, { cpus, seed: 1 }, { ramSize: 512 * MiB }, (line) => notes.push(line));
  const summary = await replayFile(prepared.stack, trace, {});
  const libc = prepared.stack.libc as GlibcMalloc;
  return { notes, summary, arenas: libc.arenas().length, stats: libc.mallocStats() };
}

describe("--cpus: the arena limit of the recording machine, or another", () => {
  it("as recorded (# cpus 2): 16 arenas, every block where glibc put it, the real malloc_stats", { timeout: 120_000 }, async () => {
    const { notes, summary, arenas, stats } = await replay(WAVES, undefined);
    expect(notes).toEqual(["from the trace header: 2 CPUs"]);
    expect(arenas).toBe(16);
    expect(summary.placements).toMatchObject({ moved: 0, firstMovedLine: null });
    expect(summary.placements.compared).toBeGreaterThan(400);
    expect(stats).toBe(realStats(2));
  });

  it("--cpus 2 (the recorded count) changes nothing and warns of nothing", { timeout: 120_000 }, async () => {
    const { notes, summary, stats } = await replay(WAVES, 2);
    expect(notes).toEqual([]);
    expect(summary.placements.moved).toBe(0);
    expect(stats).toBe(realStats(2));
  });

  it("--cpus 1: 9 arenas and the 1-CPU run's malloc_stats; the override said, the moved blocks reported", { timeout: 120_000 }, async () => {
    const { notes, summary, arenas, stats } = await replay(WAVES, 1);
    expect(notes).toEqual(["the trace was recorded on 2 CPUs; --cpus 1 wins (glibc's arena limit 8 instead of 16, unless arena_max is set)"]);
    expect(arenas).toBe(9);
    // every arena's blocks in use as in the 1-CPU run; one arena's heap (Arena 6) kept 68 KiB
    // less there: the threads of that run exited at other points between the calls (the order
    // of x lines differs from this trace's), and a heap shrinks as its top is freed
    const inUse = (text: string) => text.split("\n").filter((l) => !l.startsWith("system bytes"));
    expect(inUse(stats)).toEqual(inUse(realStats(1)));
    expect(stats).not.toBe(realStats(1));
    expect(summary.placements.moved).toBeGreaterThan(0);
    expect(summary.placements.firstMovedLine).not.toBeNull();
  });

  it("--cpus 4: 19 arenas (the limit 32 is not reached), as the 4-CPU run", { timeout: 120_000 }, async () => {
    const { arenas, summary, stats } = await replay(WAVES, 4);
    expect(arenas).toBe(19);
    expect(stats).toBe(realStats(4));
    expect(summary.placements.moved).toBeGreaterThan(0);
  });

  it("the 1-CPU recording: exact as recorded; under --cpus 2 it ends as the 2-CPU run", { timeout: 120_000 }, async () => {
    const recorded = await replay(WAVES_1, undefined);
    expect(recorded.notes).toEqual(["from the trace header: 1 CPU"]);
    expect(recorded.summary.placements.moved).toBe(0);
    expect(recorded.stats).toBe(realStats(1));
    const two = await replay(WAVES_1, 2);
    expect(two.stats).toBe(realStats(2));
    expect(two.summary.placements.moved).toBeGreaterThan(0);
  });

  it("--no-trace-settings with --cpus: the given count alone, no warning", { timeout: 120_000 }, async () => {
    const notes: string[] = [];
    const prepared = await prepareReplay(WAVES, { cpus: 1, traceSettings: false }, { ramSize: 512 * MiB }, (line) => notes.push(line));
    expect(notes).toEqual([]);
    expect(prepared.settings.glibc).toEqual({ cpus: 1 });
  });
});

describe("compare cpus=N", () => {
  it("thread-waves under cpus=1: 7 thread heaps fewer than recorded, 64 MiB of VmSize each", { timeout: 300_000 }, async () => {
    const outcome = await compareTrace(WAVES, {}, [parseCompareSettings("cpus=1"), parseCompareSettings("cpus=2")], 10_000);
    const [base, one, two] = outcome.columns.map((c) => c.figures!);
    expect(outcome.columns[1]!.describe).toBe("libc=glibc cpus=1");
    // 15 thread heaps recorded (16 arenas), 8 on one CPU (9 arenas); the heaps left grow a little instead
    expect(base!.endVmSize - one!.endVmSize).toBeGreaterThan(7 * 64 * MiB);
    expect(base!.endVmSize - one!.endVmSize).toBeLessThan(7 * 64 * MiB + MiB);
    expect(two!.endVmSize).toBe(base!.endVmSize);
    expect(two!.endRssAnon).toBe(base!.endRssAnon);
  });
});
