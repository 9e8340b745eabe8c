import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_PROGRAM_WRITES, parseRssEvery, rssCheck, rssCheckText, rssCommentOf, touchedCommentOf, type ProgramWrites, type RssSample } from "../src/rss-check.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/rss/", import.meta.url));

const total = (p: RssSample["predicted"]): number => p.heap + p.arenas + p.mmapped;
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
