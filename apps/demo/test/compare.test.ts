/**
 * `mem-demo compare` on committed real recordings: the baseline is explain's replay, the
 * what-ifs move RSS the way measured, a failing configuration fails alone, the JSON follows
 * its schema, and the time proxy does not depend on the sampling.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compareJson, compareTrace, renderCompare } from "../src/compare-command.js";
import { parseCompareSettings } from "../src/compare-settings.js";
import { explainTrace } from "../src/explain-command.js";
import { LIBC_RECORDINGS, PYTHON_RECORDINGS } from "./support-fixtures.js";

const require = createRequire(import.meta.url);
type Validator = ((data: unknown) => boolean) & { errors?: unknown[] | null };
// ajv 8 is @mem/insight's devDependency: resolved from there
const Ajv2020 = createRequire(require.resolve("@mem/insight/package.json"))("ajv/dist/2020.js") as { default: new (options: object) => { compile(s: object): Validator } };
const schema = JSON.parse(readFileSync(fileURLToPath(new URL("../schema/compare.schema.json", import.meta.url)), "utf8")) as object;
const validate = new Ajv2020.default({ allErrors: true }).compile(schema);

/** CPython 3.11: 1.2 M small objects made, most freed arena by arena (426,868 call events). */
const PYTHON = `${PYTHON_RECORDINGS}arena-release.memtrace.gz`;
/** C: heap_workout.c under glibc 2.36 (4,492 call events). */
const C = `${LIBC_RECORDINGS}heap-workout.memtrace.gz`;
const SUBINTERPRETER = fileURLToPath(new URL("../../../packages/small-object/test/fixtures/versions/subinterpreter-3.12.1.memtrace.gz", import.meta.url));

describe("compare: the baseline column is the trace as recorded, as explain replays it", () => {
  it.each([PYTHON, C])("%s: peak and end figures equal explain --json's", async (trace) => {
    const every = 5000;
    const [outcome, explained] = await Promise.all([compareTrace(trace, {}, [], every), explainTrace(trace, {}, { every })]);
    const f = outcome.columns[0]!.figures!;
    const { peak, end, timeline } = explained.json;
    expect(f.peakRssAnon).toBe(peak.rssAnon);
    expect(f.peakEvent).toBe(peak.event);
    expect(f.endRssAnon).toBe(end.rssAnon);
    expect(f.endVmRss).toBe(end.vmRss);
    expect(f.peakVmRss).toBe(end.vmHWM);
    expect(f.minorFaults).toBe(end.minorFaults);
    expect(f.events).toBe(end.event);
    // the timeline was not thinned here: the per-sample system calls add up to the totals
    for (const call of ["brk", "mmap", "munmap", "madvise"] as const) expect(f.syscalls[call]).toBe(timeline.reduce((a, s) => a + s.syscalls[call], 0));
    // after the frees: the lowest sample from the sample with the most live bytes on
    const livePeak = timeline.reduce((best, s) => (s.liveRequested > best.liveRequested ? s : best));
    expect(f.afterFreesRssAnon).toBe(Math.min(...timeline.filter((s) => s.event >= livePeak.event).map((s) => s.rssAnon)));
  }, 300_000);
});

describe("compare: what-ifs on real recordings", () => {
  it("CPython arena-release: PYTHONMALLOC=malloc keeps 3.6x the RSS at the end (glibc cannot trim a heap pinned by survivors; pymalloc unmaps emptied arenas)", async () => {
    const outcome = await compareTrace(PYTHON, {}, [parseCompareSettings("PYTHONMALLOC=malloc")]);
    const [base, malloc] = outcome.columns.map((c) => c.figures!);
    // measured: end 3,440,640 → 12,492,800 bytes; peak 11,948,032 → 12,492,800
    expect(base!.endRssAnon).toBe(3_440_640);
    expect(malloc!.endRssAnon).toBeGreaterThan(3 * base!.endRssAnon);
    expect(malloc!.peakRssAnon).toBeGreaterThan(base!.peakRssAnon);
    expect(malloc!.afterFreesRssAnon).toBeGreaterThan(3 * base!.afterFreesRssAnon);
    // every small object now goes through glibc: more simulated memory traffic (measured +79%)
    expect(malloc!.memoryAccesses).toBeGreaterThan(1.5 * base!.memoryAccesses);
    const json = compareJson(outcome);
    expect(json.columns[1]!.change!.endRssAnon).toBeCloseTo(((12_492_800 - 3_440_640) / 3_440_640) * 100, 6);
  }, 300_000);

  it("C heap-workout: trim-every lowers RSS at the end; one malloc_trim(0) at the last event returns exactly what explain's dry run said", async () => {
    const explained = await explainTrace(C, {}, { every: 5000 });
    const dryRun = explained.json.end.pins.trim!.rssDrop;
    expect(dryRun).toBeGreaterThan(0); // the program left free space glibc keeps
    const events = explained.json.end.event; // 4,492
    const outcome = await compareTrace(C, {}, [parseCompareSettings("trim-every=100"), parseCompareSettings(`trim-every=${events}`)]);
    const [base, every100, once] = outcome.columns.map((c) => c.figures!);
    expect(every100!.trims).toBe(Math.floor(events / 100));
    expect(every100!.endRssAnon).toBeLessThan(base!.endRssAnon); // measured 200,704 → 90,112
    expect(every100!.syscalls.madvise).toBeGreaterThan(0);
    expect(once!.trims).toBe(1);
    expect(once!.endRssAnon).toBe(base!.endRssAnon - dryRun);
  }, 300_000);

  it("a configuration that fails gets its failure in its column, the others still print", async () => {
    // sub-interpreters with their own obmalloc under debug hooks are refused
    const outcome = await compareTrace(SUBINTERPRETER, {}, [parseCompareSettings("PYTHONMALLOC=debug"), parseCompareSettings("PYTHONMALLOC=malloc")]);
    const [base, debug, malloc] = outcome.columns;
    expect(base!.figures).toBeDefined();
    expect(debug!.figures).toBeUndefined();
    expect(debug!.failure).toMatch(/^stopped at line \d+, after \d+ call events: .*ObmallocStateError/);
    expect(malloc!.figures).toBeDefined();
    const text = renderCompare(outcome, 100);
    expect(text).toContain("#1 failed: stopped at line");
    expect(text).toMatch(/peak RssAnon \(sampled\) +\d.* +failed +\d/);
    const json = compareJson(outcome);
    expect(validate(JSON.parse(JSON.stringify(json))), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(json.columns[1]!.figures).toBeNull();
  }, 300_000);

  it("the JSON follows its schema; the time proxy does not depend on the sampling", async () => {
    const configs = ["--libc tlsf", "MALLOC_MMAP_THRESHOLD_=65536 GLIBC_TUNABLES=glibc.malloc.tcache_count=0", "trim-every=1000"].map(parseCompareSettings);
    const [fine, coarse] = await Promise.all([compareTrace(C, {}, configs, 10), compareTrace(C, {}, configs, 100000)]);
    const json = JSON.parse(JSON.stringify(compareJson(fine))) as unknown;
    expect(validate(json), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(fine.columns.map((c) => c.figures!.memoryAccesses)).toEqual(coarse.columns.map((c) => c.figures!.memoryAccesses));
    expect(fine.columns.map((c) => c.figures!.endRssAnon)).toEqual(coarse.columns.map((c) => c.figures!.endRssAnon));
    expect(fine.columns[2]!.describe).toBe("libc=glibc mmap_threshold=65536 tcache_count=0");
  }, 300_000);
});

describe("compare: the table", () => {
  it("fits the width it is given, splitting the columns", async () => {
    const configs = ["trim-every=100", "GLIBC_TUNABLES=glibc.malloc.trim_threshold=0", "--libc tlsf", "MALLOC_ARENA_MAX=1"].map(parseCompareSettings);
    const outcome = await compareTrace(C, {}, configs, 1000);
    for (const width of [50, 72, 120]) {
      const text = renderCompare(outcome, width);
      for (const line of text.split("\n")) expect(line.length, line).toBeLessThanOrEqual(width);
      expect(text).toContain("#4");
    }
    // wide enough: one table, a header line naming every column
    expect(renderCompare(outcome, 200)).toMatch(/^ +baseline +#1 +#2 +#3 +#4$/m);
  }, 300_000);
});

describe("compare: MALLOC_ARENA_MAX on a multi-threaded C trace", () => {
  it("thread-waves (27 threads, 16 arenas on the 2 recorded CPUs): fewer arenas, 64 MiB less VmSize each", async () => {
    const trace = `${LIBC_RECORDINGS}thread-waves.memtrace.gz`;
    const outcome = await compareTrace(trace, {}, [parseCompareSettings("MALLOC_ARENA_MAX=1"), parseCompareSettings("MALLOC_ARENA_MAX=2")], 10_000);
    const [base, one, two] = outcome.columns.map((c) => c.figures!);
    // the recorded run had 15 thread heaps; with one arena there are none, with two just one
    // (less the few MiB the brk heap grows by, serving the threads' blocks instead)
    const MiB = 1024 * 1024;
    expect(base!.endVmSize - one!.endVmSize).toBeGreaterThan(15 * 64 * MiB - 4 * MiB);
    expect(base!.endVmSize - one!.endVmSize).toBeLessThanOrEqual(15 * 64 * MiB);
    expect(base!.endVmSize - two!.endVmSize).toBeGreaterThan(14 * 64 * MiB - 4 * MiB);
    expect(base!.endVmSize - two!.endVmSize).toBeLessThanOrEqual(14 * 64 * MiB);
    expect(one!.syscalls.mmap).toBe(0);
    expect(validate(compareJson(outcome))).toBe(true);
  });
});
