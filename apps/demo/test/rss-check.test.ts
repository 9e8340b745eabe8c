import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DEFAULT_PROGRAM_WRITES, parseRssEvery, rssCheck, rssCheckText, rssCommentOf, rssThreadHeapsCommentOf, touchedCommentOf, type ProgramWrites, type RssSample } from "../src/rss-check.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/rss/", import.meta.url));

const total = (p: RssSample["predicted"]): number => p.heap + p.arenas + p.mmapped + (p.threadHeaps ?? 0);
const maxError = (samples: readonly RssSample[]): number => Math.max(...samples.map((s) => Math.abs(s.errorPercent)));
const check = (name: string, writes: ProgramWrites = DEFAULT_PROGRAM_WRITES) => rssCheck(`${FIXTURES}${name}.memtrace.gz`, {}, writes);

describe("# rss comments", () => {
  it("parses the five numbers and nothing else", () => {
    expect(rssCommentOf(" rss 200 57344 0 4096 770048")).toEqual({ event: 200, heap: 57344, arenas: 0, mmapped: 4096, rssAnon: 770048 });
    expect(rssCommentOf(" rss 200 57344 0 4096")).toBeUndefined();
    expect(rssCommentOf(" exit: 3 events")).toBeUndefined();
  });
  it("--rss-every takes 0 or a count of events, nothing else", () => {
    expect(parseRssEvery("0")).toBe(0);
    expect(parseRssEvery("2000")).toBe(2000);
    for (const bad of ["-1", "1.5", "", "ten"]) expect(() => parseRssEvery(bad)).toThrow(/--rss-every/);
  });
  it("parses # rss-thread-heaps (event, heaps, resident bytes) and nothing else", () => {
    expect(rssThreadHeapsCommentOf(" rss-thread-heaps 1548 15 2097152")).toEqual({ event: 1548, heaps: 15, resident: 2097152 });
    expect(rssThreadHeapsCommentOf(" rss-thread-heaps 1548 15")).toBeUndefined();
    expect(rssCommentOf(" rss-thread-heaps 1548 15 2097152")).toBeUndefined();
  });
  it("parses # touched page ranges", () => {
    expect(touchedCommentOf(" touched 0x7f3fa301f010 0-3 6-8 16-16")).toEqual({ block: 0x7f3fa301f010, ranges: [[0, 3], [6, 8], [16, 16]] });
    expect(touchedCommentOf(" touched 0x7f3fa301f010")).toBeUndefined();
  });
});

/*
 * Recorded on this machine (glibc 2.36, CPython 3.11.7) with the recorders' # rss samples
 * (fixtures/rss/README.md). The bounds are the errors measured when the fixtures were made
 * (apps/demo/README.md, "Predicted RSS against the real RSS") plus a margin of 0.1 point.
 * ls-lR-touched-64k and python-dicts come from the first recorders (# touched for blocks of
 * 64 KiB or more only, no # touched-min line; the CPython recorder without --libc-calls):
 * they still replay, with the errors measured then.
 */
describe("predicted allocator RSS against the recorded one (default model: " + DEFAULT_PROGRAM_WRITES + ")", () => {
  it.each([
    ["sort-lines", 0, 3],
    ["awk", 0, 2],
    ["sed", 0, 172],
    ["xz", 0, 2],
    ["ls-lR", 0, 267],
    ["find", 0, 79],
    ["python-site-dicts", 0, 154],
    ["ls-lR-touched-64k", 44.44, 267],
    ["python-dicts", 2.44, 49],
    ["thread-waves", 0, 8],
    ["python-threads", 0, 110],
    ["python-threads-in-call", 0, 110],
  ] as const)("%s: the error at every sample within %s percent (+0.1 point), %s samples", async (name, measured, count) => {
    const samples = await check(name);
    expect(samples).toHaveLength(count);
    expect(maxError(samples)).toBeLessThanOrEqual(measured + 0.1);
    expect(rssCheckText(samples, DEFAULT_PROGRAM_WRITES)).toContain(`over ${count} samples`);
  });

  it("the same ls -lR with # touched from 8 KiB: opendir's 32 KiB buffers, mostly unwritten, are no longer written whole (64 KiB: up to 44% high)", async () => {
    expect(maxError(await check("ls-lR-touched-64k"))).toBeGreaterThan(40);
    expect(maxError(await check("ls-lR"))).toBeLessThan(0.1);
    expect(maxError(await check("find", "all"))).toBeGreaterThan(50);
  });

  it("CPython with site imports and --libc-calls: every sample exact, the brk heap included", async () => {
    for (const s of await check("python-site-dicts")) expect(s.predicted).toEqual({ heap: s.recorded.heap, arenas: s.recorded.arenas, mmapped: s.recorded.mmapped });
  });

  it("the metadata-only model is worse: pages the programs wrote are missing", async () => {
    expect(maxError(await check("sort-lines", "none"))).toBeGreaterThan(50);
    expect(maxError(await check("python-dicts", "none"))).toBeGreaterThan(40);
    expect(maxError(await check("python-site-dicts", "none"))).toBeGreaterThan(40);
  });

  it("ls -lR ends exact only with the measured pages of its large blocks (written whole: 36% too high)", async () => {
    expect(Math.abs((await check("ls-lR")).at(-1)!.errorPercent)).toBeLessThan(0.5);
    expect((await check("ls-lR", "all")).at(-1)!.errorPercent).toBeGreaterThan(30);
  });

  it("the events and the recorded parts are the recorder's, the pymalloc arenas predicted exactly for python-dicts at the end", async () => {
    const samples = await check("python-dicts");
    const last = samples.at(-1)!;
    expect(last.predicted.arenas).toBe(last.recorded.arenas);
    for (let i = 1; i < samples.length; i++) expect(samples[i]!.event).toBeGreaterThanOrEqual(samples[i - 1]!.event);
  });

  it("xz fills only part of its buffers: metadata-only is far too low, written-whole far too high", async () => {
    const none = await check("xz", "none");
    const all = await check("xz", "all");
    const end = none.length - 1;
    expect(total(none[end]!.predicted)).toBeLessThan(total(none[end]!.recorded) / 100);
    expect(total(all[end]!.predicted)).toBeGreaterThan(total(all[end]!.recorded) * 4);
    expect(maxError(await check("xz", "all-but-calloc-mmap"))).toBeGreaterThan(300);
  });
});

/*
 * The thread arenas' heaps (# rss-thread-heaps, recorders since 2026-12-06): thread-waves (27
 * threads in waves, 15 thread arenas on 2 CPUs; mem-demo record --libc --rss-every 200) and
 * python3 -S threads.py (4 workers; --frames 0 --rss-every 1000).
 */
describe("the heaps of glibc's thread arenas, predicted against the recorded ones", () => {
  it("thread-waves: the simulated heaps are as many as the real ones and as resident, at every sample", async () => {
    const samples = await check("thread-waves");
    for (const s of samples) {
      expect(s.predicted.threadHeaps).toBe(s.recorded.threadHeaps);
      expect(s.threadHeapCount!.predicted).toBe(s.threadHeapCount!.recorded);
    }
    const last = samples.at(-1)!;
    expect(last.threadHeapCount).toEqual({ recorded: 15, predicted: 15 });
    expect(last.recorded.threadHeaps).toBe(2048 * 1024);
    expect(rssCheckText(samples, "measured")).toContain("1548  2148  2148  0.00  (100 0 0 2048[15] / 100 0 0 2048[15])");
  });

  it("thread-waves without its thread heaps would be 95% low; the metadata-only model is 70% low", async () => {
    const last = (await check("thread-waves")).at(-1)!;
    expect(1 - total({ ...last.predicted, threadHeaps: 0 }) / total(last.recorded)).toBeGreaterThan(0.95);
    expect(maxError(await check("thread-waves", "none"))).toBeGreaterThan(65);
  });

  it("python3 -S threads.py: every part exact at every sample, the workers' 4 heaps included", async () => {
    const samples = await check("python-threads");
    for (const s of samples) expect(s.predicted).toEqual({ heap: s.recorded.heap, arenas: s.recorded.arenas, mmapped: s.recorded.mmapped, threadHeaps: s.recorded.threadHeaps });
    expect(samples.at(-1)!.threadHeapCount).toEqual({ recorded: 4, predicted: 4 });
  });

  it("traces from the recorders before have no thread heaps on either side", async () => {
    for (const s of await check("python-dicts")) {
      expect(s.recorded.threadHeaps).toBeUndefined();
      expect(s.predicted.threadHeaps).toBeUndefined();
      expect(s.threadHeapCount).toBeUndefined();
    }
    expect(rssCheckText(await check("sed"), "measured")).toContain("(heap arenas mmapped predicted / recorded)");
  });
});

describe("a CPython recording made under glibc 2.41 (Debian 13's)", () => {
  const fixture = `${FIXTURES}python-glibc-2.41.memtrace.gz`;
  const exact = (s: RssSample): boolean =>
    s.predicted.heap === s.recorded.heap && s.predicted.arenas === s.recorded.arenas && s.predicted.mmapped === s.recorded.mmapped;

  it("replays with 2.41's malloc, which the recorder line names: every sample exact", async () => {
    const notes: string[] = [];
    const samples = await rssCheck(fixture, {}, DEFAULT_PROGRAM_WRITES, (line) => notes.push(line));
    expect(notes.join("\n")).toContain("glibc 2.41");
    expect(samples).toHaveLength(136);
    expect(samples.filter((s) => !exact(s))).toEqual([]);
  });

  it("replayed with 2.36's malloc (the recorder line without its glibc, as before the recorder named it), samples are off", async () => {
    const text = gunzipSync(readFileSync(fixture)).toString("latin1");
    expect(text).toMatch(/^# recorder memtrace_python: CPython 3\.11\.7, glibc 2\.41, /m);
    const as236 = join(mkdtempSync(join(tmpdir(), "rss-check-")), "as-2.36.memtrace");
    writeFileSync(as236, text.replace(", glibc 2.41,", ","), "latin1");
    const samples = await rssCheck(as236, {}, DEFAULT_PROGRAM_WRITES);
    expect(samples).toHaveLength(136);
    expect(samples.filter((s) => !exact(s)).length).toBeGreaterThan(0);
    expect(maxError(samples)).toBeGreaterThan(0.3);
  });
});
