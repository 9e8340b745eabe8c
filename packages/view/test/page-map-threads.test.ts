/** The page map with thread arenas: a thread heap's resident pages are held by glibc's causes, not other.anon. */
import { describe, expect, it } from "vitest";
import type { GlibcMalloc } from "@mem/libc-malloc";
import { collectMaps } from "../src/index.js";
import { makeStack } from "./support.js";

describe("page map: thread heaps", () => {
  it("every resident page of two thread heaps has a glibc holder", () => {
    const s = makeStack("malloc");
    const libc = s.libc as GlibcMalloc;
    libc.malloc(100);
    const heaps: number[] = [];
    for (const thread of [2, 3]) {
      libc.setThread(thread);
      const blocks: number[] = [];
      for (let i = 0; i < 30; i++) {
        blocks.push(libc.malloc(9000));
        s.process.memory.fill(blocks[i]!, 9000, 7);
      }
      for (let i = 0; i < 30; i += 3) libc.free(blocks[i]!);
      heaps.push(blocks[0]! - (blocks[0]! % (64 * 1024 * 1024)));
    }
    libc.setThread(1);
    const pages = collectMaps(s).pages;
    for (const heap of heaps) {
      const row = pages.mappings.find((m) => m.start === heap)!;
      expect(row.name).toBe("");
      const held: string[] = [];
      for (let i = 0; i < row.runs.length; i += 2) if (row.runs[i]! >= 2) held.push(pages.causes[row.runs[i]! - 2]!);
      expect(held.length).toBeGreaterThan(0);
      expect(held.filter((c) => c.startsWith("other"))).toEqual([]);
      // the first page: heap_info, malloc_state and the thread's tcache struct; then the blocks
      expect(held[0]).toBe("glibc.structures");
      expect(held).toContain("glibc.in-use");
    }
  });
});
