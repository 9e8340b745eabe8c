import { readFileSync } from "node:fs";
import type { GlibcMalloc } from "@mem/libc-malloc";
import { describe, expect, it } from "vitest";
import { accountDetail, pinsOf } from "../src/index.js";
import { makeStack } from "./support.js";

/** `name value` lines of a recorded run. */
function recorded(file: string): Record<string, number> {
  const text = readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8");
  return Object.fromEntries(text.trim().split("\n").map((line) => [line.split(" ")[0]!, Number(line.split(" ")[1])]));
}

/** RssAnon bytes of the simulated [heap] (brk heap) pages. */
function heapRss(s: ReturnType<typeof makeStack>): number {
  const d = accountDetail(s);
  return d.vmas.filter((v) => v.name === "[heap]").reduce((n, v) => n + v.pages.length * 4096, 0);
}

describe("pins and the malloc_trim(0) dry run against real glibc 2.36 (fixtures/heap-pin.c)", () => {
  it("frees all but the top-most chunk: no trim; the pin, the dry run and malloc_trim(0) agree with the real run", () => {
    const real = recorded("heap-pin.txt");
    const s = makeStack("malloc");
    const libc = s.libc as GlibcMalloc;
    const p: number[] = [];
    for (let i = 0; i < real.chunks!; i++) {
      p.push(libc.malloc(real.size!));
      s.process.memory.fill(p[i]!, real.size!, 1);
    }
    const brk0 = s.process.brk(0);
    expect(heapRss(s)).toBe(real.heap_rss_kb_live! * 1024);
    for (let i = 0; i < p.length - 1; i++) libc.free(p[i]!);
    expect(s.process.brk(0) - brk0).toBe(real.brk_moved_after_frees); // 0: real glibc did not trim either
    expect(heapRss(s)).toBe(real.heap_rss_kb_after_frees! * 1024);
    const before = pinsOf(s, accountDetail(s));
    expect(before.top?.chunk).toBe(p.at(-1)! - 16); // the top-most live chunk pins the top
    const dry = before.trim!;
    expect(dry.rssDrop).toBe((real.heap_rss_kb_after_frees! - real.heap_rss_kb_after_trim!) * 1024);
    expect(-dry.topTrimBytes).toBe(real.brk_moved_by_trim);
    const brk1 = s.process.brk(0);
    expect(libc.mallocTrim(0)).toBe(real.malloc_trim_result);
    expect(s.process.brk(0) - brk1).toBe(real.brk_moved_by_trim);
    expect(heapRss(s)).toBe(real.heap_rss_kb_after_trim! * 1024);
    const after = pinsOf(s, accountDetail(s));
    expect(-after.top!.wouldTrim).toBe(real.brk_moved_after_freeing_the_pin);
    const brk2 = s.process.brk(0);
    libc.free(p.at(-1)!);
    expect(s.process.brk(0) - brk2).toBe(real.brk_moved_after_freeing_the_pin);
    expect(heapRss(s)).toBe(real.heap_rss_kb_after_freeing_the_pin! * 1024);
  });
});
