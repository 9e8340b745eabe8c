/**
 * `struct malloc_state` per release: 0x898 bytes with fastbins up to 2.42, 0x840 in 2.43
 * (`have_fastchunks` and `fastbinsY` removed), so a thread heap's first chunk sits at
 * heap+0x8d0 up to 2.42 and at heap+0x870 in 2.43 (seen in thread-waves recorded under the
 * real 2.43: apps/demo/test/glibc-243-recordings.test.ts), and `top` is main_arena+0x60 or +0x08.
 */
import { describe, expect, it } from "vitest";
import { GlibcMalloc, Glibc241Malloc, Glibc242Malloc, Glibc243Malloc } from "../src/index.js";
import { HEAP_MAX_SIZE } from "../src/heap.js";
import { freshProcess } from "./support/replay.js";

const releases = [
  { release: "2.36", make: GlibcMalloc, size: 0x898, firstChunk: 0x8d0, topField: 0x60 },
  { release: "2.41", make: Glibc241Malloc, size: 0x898, firstChunk: 0x8d0, topField: 0x60 },
  { release: "2.42", make: Glibc242Malloc, size: 0x898, firstChunk: 0x8d0, topField: 0x60 },
  { release: "2.43", make: Glibc243Malloc, size: 0x840, firstChunk: 0x870, topField: 0x08 },
] as const;

describe("malloc_state layout per release", () => {
  for (const { release, make, size, firstChunk, topField } of releases) {
    it(`${release}: malloc_state is 0x${size.toString(16)} bytes, a thread heap's first chunk at heap+0x${firstChunk.toString(16)}, top at av+0x${topField.toString(16)}`, () => {
      const process = freshProcess();
      const libc = new make(process, { tcacheKey: 0x1234 });
      const main = libc.malloc(24);
      libc.setThread(2);
      const first = libc.malloc(100);
      libc.malloc(5000);
      libc.free(first);
      libc.malloc(40);
      const walk = libc.walkThreadHeaps()[0]!;
      const heap = walk.heaps[0]!.start;
      expect(heap % HEAP_MAX_SIZE).toBe(0);
      expect(walk.arena).toBe(heap + 0x30);
      expect(walk.arenaSize).toBe(size);
      expect(walk.chunks[0]!.address).toBe(heap + firstChunk);
      expect(libc.arenas()).toEqual([libc.mainArena, walk.arena]); // av->next read at its release's offset
      // the arena's top pointer is where that release keeps it, and names the heap's last chunk
      const top = process.memory.load64(walk.arena + topField);
      expect(top).toBe(walk.chunks.at(-1)!.address);
      // main_arena has the same layout
      expect(process.memory.load64(libc.mainArena + topField)).toBeGreaterThan(main);
      libc.checkHeap();
      libc.setThread(1);
      libc.free(main);
      libc.checkHeap();
    });
  }
});
