import Ajv2020 from "ajv/dist/2020.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { accountDetail, countSyscalls, explainJson, pinsOf, renderReport, Timeline, type SyscallCounts } from "../src/index.js";
import { makeStack } from "./support.js";

const schema = JSON.parse(readFileSync(new URL("../schema/explain.schema.json", import.meta.url), "utf8")) as object;

function run(every: number, maxSamples?: number) {
  const s = makeStack();
  const t = new Timeline(s, { every, maxSamples, at: 1500 });
  const live: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const size = i % 50 === 0 ? 200_000 : 24 + (i % 13) * 8;
    const p = s.pymem.objectMalloc(size);
    live.push(p);
    t.allocated(p, size);
    t.afterCall();
  }
  for (let i = 0; i < live.length; i++) {
    if (i % 10 === 0) continue;
    s.pymem.objectFree(live[i]!);
    t.released(live[i]!);
    t.afterCall();
  }
  return t.finish();
}

describe("Timeline", () => {
  it("samples every K call events and at the end, each summing to RssAnon; keeps the peak's account", () => {
    const r = run(500);
    expect(r.timeline.map((x) => x.event)).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 5700]);
    for (const x of r.timeline) expect(Object.values(x.causes).reduce((a, b) => a + b, 0)).toBe(x.rssAnon);
    expect(r.peak.rssAnon).toBe(Math.max(...r.timeline.map((x) => x.rssAnon)));
    expect(r.peak.account.rssAnon).toBe(r.peak.rssAnon);
    expect(r.end.event).toBe(5700);
    expect(r.at?.event).toBe(1500);
    expect(r.peakLive.event).toBe(3000);
    expect(r.end.liveRequested).toBe(r.timeline.at(-1)!.liveRequested);
    expect(r.events.some((e) => e.kind === "mmap-threshold")).toBe(false); // no munmap listener wired here
  });

  it("thins itself to stay within maxSamples (memory constant in trace length)", () => {
    const r = run(100, 8);
    expect(r.timeline.length).toBeLessThanOrEqual(9);
    expect(r.every).toBeGreaterThan(100);
    for (const x of r.timeline.slice(0, -1)) expect(x.event % r.every).toBe(0); // on the grid of the doubled interval
    expect(r.timeline.at(-1)!.event).toBe(5700);
  });

  it("refuses a sampling interval that is not a positive integer", () => {
    expect(() => new Timeline(makeStack(), { every: 0 })).toThrow(/positive integer/);
    expect(() => new Timeline(makeStack(), { every: -3 })).toThrow(/positive integer/);
  });

  it("refuses limits and modes it cannot honour", () => {
    expect(() => new Timeline(makeStack(), { maxSamples: 1 })).toThrow(/maxSamples/);
    expect(() => new Timeline(makeStack(), { maxSamples: Number.NaN })).toThrow(/maxSamples/);
    expect(() => new Timeline(makeStack(), { maxEvents: -1 })).toThrow(/maxEvents/);
    expect(() => new Timeline(makeStack(), { incremental: "yes" as unknown as boolean })).toThrow(/incremental/);
    expect(() => new Timeline(makeStack(), { incremental: "auto", incrementalFrom: 0.5 })).toThrow(/incrementalFrom/);
    expect(() => new Timeline(makeStack(), { incremental: "auto", incrementalFrom: 0, maxSamples: 2, maxEvents: 0 })).not.toThrow();
  });

  it("counts system calls between samples and narrates glibc's mmap threshold rising", () => {
    const watch: { timeline?: Timeline; counts?: SyscallCounts } = {};
    const s = makeStack("default", "glibc", 256, (p) => {
      const counted = countSyscalls(p, (call, args) => watch.timeline?.onSyscall(call, args));
      watch.counts = counted.counts;
      return counted.process;
    });
    const timeline = new Timeline(s, { every: 2, syscalls: watch.counts });
    watch.timeline = timeline;
    const big = s.libc.malloc(300_000);
    timeline.afterCall();
    s.libc.free(big);
    timeline.afterCall();
    const r = timeline.finish();
    expect(r.timeline[0]!.syscalls.mmap).toBeGreaterThanOrEqual(1);
    expect(r.timeline[0]!.syscalls.munmap).toBe(1);
    expect(r.events.map((e) => e.kind)).toContain("mmap-threshold");
  });

  it("produces JSON that validates against the shipped schema, and a report that leads with a paragraph", () => {
    const r = run(1000);
    const json = explainJson(r);
    const ajv = new Ajv2020({ allErrors: true });
    const validate = ajv.compile(schema);
    const ok = validate(JSON.parse(JSON.stringify(json)));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    const broken = JSON.parse(JSON.stringify(json)) as { timeline: { rssAnon: unknown }[] };
    broken.timeline[0]!.rssAnon = "big";
    expect(validate(broken)).toBe(false);
    const text = renderReport(r);
    expect(text).toMatch(/^RSS is [\d.]+ [KM]iB at the end (although only|while) [\d.]+ [KM]?i?B of objects are live/);
    expect(text).toContain("= RssAnon");
    expect(text).toMatch(/[▁▂▃▄▅▆▇█]{5,}/);
  });
});


describe("Timeline.endDetail: the end's account for drawing more of the end", () => {
  for (const incremental of [false, true]) {
    it(`equals a fresh account of the same moment (pymalloc arenas, glibc chunks, pins of every arena; incremental ${String(incremental)})`, () => {
      const s = makeStack();
      const t = new Timeline(s, { every: 700, incremental });
      const live: number[] = [];
      for (let i = 0; i < 4000; i++) {
        const size = i % 97 === 0 ? 150_000 : i % 7 === 0 ? 700 + (i % 5) * 64 : 16 + (i % 29) * 16;
        const p = s.pymem.objectMalloc(size);
        live.push(p);
        t.allocated(p, size);
        t.afterCall();
      }
      for (let i = 0; i < live.length; i++) {
        if (i % 9 === 0) continue;
        s.pymem.objectFree(live[i]!);
        t.released(live[i]!);
        t.afterCall();
      }
      expect(t.endDetail).toBeUndefined();
      const r = t.finish();
      const end = t.endDetail;
      if (end === undefined) throw new Error("no endDetail after finish()");
      const fresh = accountDetail(s, {});
      expect(end.account).toEqual(r.end.account);
      expect({ ...end.account, liveRequested: undefined }).toEqual(fresh.account);
      expect(end.pymalloc?.arenas).toEqual(fresh.pymalloc?.arenas);
      expect(end.libc.chunks).toEqual(fresh.libc.chunks);
      const all = { maxArenas: s.pymalloc?.narenasCurrentlyAllocated ?? 0, maxBlocks: 8 };
      expect(pinsOf(s, end, all)).toEqual(pinsOf(s, fresh, all));
      expect(pinsOf(s, end).arenas.length).toBeGreaterThan(0);
    });
  }
});

describe("Timeline.follow: the requested sizes a trace line implies", () => {
  it("counts call events only and follows malloc, calloc, memalign, realloc (moved, failed, to 0) and free", () => {
    const t = new Timeline(makeStack(), { every: 1000 });
    const lines = [
      { kind: "malloc", domain: "obj", size: 100, result: 0x10 },
      { kind: "calloc", domain: "mem", nelem: 3, elsize: 8, result: 0x20 },
      { kind: "memalign", domain: "raw", alignment: 64, size: 40, result: 0x30 },
      { kind: "arena", address: 0x1000000, size: 1 << 20 }, // an A line: not a call
      { kind: "realloc", domain: "obj", ptr: 0x10, size: 300, result: 0x40 }, // moved: 100 -> 300
      { kind: "realloc", domain: "obj", ptr: 0x40, size: 1 << 40, result: 0 }, // failed: 0x40 stays live
      { kind: "free", domain: "mem", ptr: 0x20 },
    ] as const;
    const calls = lines.filter((r) => t.follow(r as never)).length;
    expect(calls).toBe(6);
    for (let i = 0; i < calls; i++) t.afterCall();
    expect(t.finish().end.liveRequested).toBe(300 + 40);
  });
});
