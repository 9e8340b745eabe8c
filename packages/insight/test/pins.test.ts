import { describe, expect, it } from "vitest";
import type { GlibcMalloc } from "@mem/libc-malloc";
import { accountDetail, pinsOf } from "../src/index.js";
import { makeStack } from "./support.js";

describe("pins", () => {
  it("the malloc_trim(0) dry run predicts the drop of RssAnon that glibc's mallocTrim(0) causes", () => {
    for (const seed of [1, 2, 5]) {
      const s = makeStack("malloc");
      const libc = s.libc as GlibcMalloc;
      const blocks: number[] = [];
      for (let i = 0; i < 400; i++) {
        const n = ((i * 7919 * seed) % 20000) + 16;
        const p = libc.malloc(n);
        s.process.memory.fill(p, n, 1); // a program writes what it allocates
        blocks.push(p);
      }
      for (let i = 0; i < blocks.length; i++) if ((i * seed) % 3 !== 0) libc.free(blocks[i]!);
      const dry = pinsOf(s, accountDetail(s)).trim!;
      const before = s.process.mm.rssAnon * 4096;
      libc.mallocTrim(0);
      const after = s.process.mm.rssAnon * 4096;
      expect(dry.rssDrop).toBe(before - after);
      expect(dry.rssDrop).toBeGreaterThan(0);
    }
  });

  it("names the chunk that keeps the top from being trimmed, and what freeing it returns", () => {
    const s = makeStack("malloc");
    const libc = s.libc as GlibcMalloc;
    const blocks: number[] = [];
    for (let i = 0; i < 100; i++) blocks.push(libc.malloc(5000));
    const last = blocks.pop()!;
    for (const b of blocks) libc.free(b);
    const pins = pinsOf(s, accountDetail(s));
    expect(pins.top?.chunk).toBe(last - 16);
    expect(pins.top?.state).toBe("in-use");
    expect(pins.top?.freeAbove).toBeLessThan(pins.top!.trimThreshold);
    const brk = s.process.brk(0);
    expect(pins.top!.wouldTrim).toBeGreaterThan(0);
    libc.free(last);
    expect(brk - s.process.brk(0)).toBe(pins.top!.wouldTrim);
  });

  it("lists the live blocks that keep each pymalloc arena, and counts the bytes malloc_trim cannot reach", () => {
    const s = makeStack();
    const objs: number[] = [];
    for (let i = 0; i < 40000; i++) objs.push(s.pymem.objectMalloc(64));
    const keep = new Set([5, 20000, 39999]);
    for (let i = 0; i < objs.length; i++) if (!keep.has(i)) s.pymem.objectFree(objs[i]!);
    const d = accountDetail(s);
    const pins = pinsOf(s, d);
    const listed = pins.arenas.flatMap((a) => a.blocks.map((b) => b.address)).sort((a, b) => a - b);
    expect(listed).toEqual([...keep].map((i) => objs[i]!).sort((a, b) => a - b));
    for (const a of pins.arenas) expect(a.liveBytes).toBe(64 * a.liveBlocks);
    expect(pins.trim!.unreachablePymalloc).toBeGreaterThan(1_000_000);
  });
});
