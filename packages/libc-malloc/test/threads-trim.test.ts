/**
 * `malloc_trim(0)` over every arena, as glibc 2.36's `__malloc_trim` runs `mtrim` on
 * main_arena and then on each arena of the list: every arena's free chunks in the unsorted
 * bin and the large bins give back their whole pages (madvise MADV_DONTNEED), and only the
 * main arena's top is trimmed (systrim): a thread heap keeps its size and its top's pages.
 * Measured with test/fixtures/thread-trim.c on glibc 2.36 (its output in thread-trim.txt): the
 * same calls here give the same smaps Rss and malloc_stats before and after.
 */
import { describe, expect, it } from "vitest";
import { GlibcMalloc } from "../src/index.js";
import { HEAP_MAX_SIZE } from "../src/heap.js";
import { freshProcess } from "./support/replay.js";

/** The Rss (kB) of the mapping starting at `start`, from smaps. */
function rssAt(smaps: string, start: number): number {
  const lines = smaps.split("\n");
  const i = lines.findIndex((l) => l.startsWith(`${start.toString(16)}-`));
  if (i < 0) throw new Error(`no mapping at 0x${start.toString(16)}`);
  const rss = lines.slice(i + 1).find((l) => l.startsWith("Rss:"))!;
  return Number(/(\d+) kB/.exec(rss)![1]);
}

describe("malloc_trim(0) with thread arenas", () => {
  it("each thread heap drops its free chunks' pages (760 -> 472 kB), keeps its size; malloc_stats' system bytes move only for arena 0", () => {
    const process = freshProcess(512 * 1024 * 1024);
    const libc = new GlibcMalloc(process, { tcacheKey: 0x1234 });
    const touch = (p: number, n: number) => process.memory.fill(p, n, 1);
    const pattern = () => {
      const b: number[] = [];
      for (let i = 0; i < 20; i++) {
        b.push(libc.malloc(40000));
        touch(b[i]!, 40000);
      }
      return b;
    };
    const main = pattern();
    for (let i = 0; i < 20; i += 2) libc.free(main[i]!);
    const heaps: number[] = [];
    for (const thread of [2, 3]) {
      libc.setThread(thread);
      const b = pattern();
      for (let i = 0; i < 20; i += 2) libc.free(b[i]!);
      libc.free(b[19]!);
      libc.free(b[17]!);
      expect(b[1]! % HEAP_MAX_SIZE).toBe(0xa7c0);
      heaps.push(b[1]! - (b[1]! % HEAP_MAX_SIZE));
    }
    libc.setThread(1);
    const before = process.smaps();
    expect(heaps.map((h) => rssAt(before, h))).toEqual([760, 760]);
    const stats = libc.mallocStats();
    expect(libc.mallocTrim(0)).toBe(1);
    const after = process.smaps();
    expect(heaps.map((h) => rssAt(after, h))).toEqual([472, 472]);
    const system = (text: string) => [...text.matchAll(/^system bytes += +(\d+)$/gm)].map((m) => Number(m[1]));
    expect(system(libc.mallocStats()).slice(1, 3)).toEqual(system(stats).slice(1, 3));
    expect(system(stats).slice(1, 3)).toEqual([778240, 778240]);
    // arena 0: systrim lowers the break by 128 KiB, as the real run's (933,888 -> 802,816)
    expect([system(stats), system(libc.mallocStats())]).toEqual([
      [933888, 778240, 778240, 2490368],
      [802816, 778240, 778240, 2359296],
    ]);
    // the brk heap: 784 -> 432 kB resident in the real run
    expect([rssAt(before, libc.heapStart), rssAt(after, libc.heapStart)]).toEqual([784, 432]);
  });
});
