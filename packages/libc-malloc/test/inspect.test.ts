import { describe, expect, it } from "vitest";
import { GlibcMalloc, TlsfMalloc } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

describe("GlibcMalloc.inspect", () => {
  it("reads nothing before initialisation and leaves RSS alone", () => {
    const process = freshProcess();
    const g = new GlibcMalloc(process, { tcacheKey: 1 });
    const rss = process.mm.rssAnon;
    const view = g.inspect();
    expect(view.initialised).toBe(false);
    expect(view.top).toBe(0);
    expect(process.mm.rssAnon).toBe(rss);
  });

  it("names the tcache struct, the top chunk, the thresholds and the mmapped counters", () => {
    const g = new GlibcMalloc(freshProcess(), { tcacheKey: 1 });
    const a = g.malloc(100);
    const big = g.malloc(200_000);
    const view = g.inspect();
    expect(view.tcacheChunk).toBe(g.heapStart);
    expect(view.regions).toEqual([g.heapStart]);
    expect(a - 16).toBe(g.heapStart + 0x290);
    expect(view.top).toBe(g.heapStart + 0x290 + 0x70);
    expect(view.top + view.topSize).toBe(view.brk);
    expect(view.systemMem).toBe(view.brk - g.heapStart);
    expect(view.nMmaps).toBe(1);
    expect(view.mmappedMem).toBe(Math.ceil((200_000 + 8 + 15 + 8) / 4096) * 4096);
    expect(view.mmapThreshold).toBe(128 * 1024);
    g.free(big);
    const after = g.inspect();
    expect(after.nMmaps).toBe(0);
    // glibc's dynamic threshold: freeing a 200 KB mmapped chunk raises it to that chunk's size
    expect(after.mmapThreshold).toBe(view.mmappedMem);
    expect(after.trimThreshold).toBe(2 * view.mmappedMem);
    expect(after.dynamicThreshold).toBe(true);
  });
});

describe("TlsfMalloc.inspect", () => {
  it("lists every block with its state in address order", () => {
    const t = new TlsfMalloc(freshProcess());
    const a = t.malloc(100);
    const b = t.malloc(300);
    t.free(a);
    const view = t.inspect();
    expect(view.blocks[0]).toEqual({ address: a - 16, size: 128, state: "free" });
    expect(view.blocks[1]).toMatchObject({ address: b - 16, state: "in-use" });
    expect(view.blocks.at(-1)?.state).toBe("sentinel");
    const total = view.blocks.reduce((n, x) => n + x.size, 0);
    expect(total).toBe(t.mallinfo2().arena);
  });
});
