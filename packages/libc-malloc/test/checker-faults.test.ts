import { describe, expect, it } from "vitest";
import { GlibcMalloc, HeapCheckError, TlsfMalloc } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

const WILD = 0xfffffffffffffff1n;

function checkerError(check: () => void): unknown {
  try {
    check();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Found by fuzzing (issue 11): checkers followed corrupted links into faults instead of reporting them. */
describe("checkHeap reports corruption as HeapCheckError, never a segfault or RangeError", () => {
  it("tlsf: a free block's next link of 2^64-15", () => {
    const t = new TlsfMalloc(freshProcess());
    const p = t.malloc(24);
    t.malloc(24);
    t.free(p);
    t.process.memory.store64Big(p, WILD);
    const error = checkerError(() => t.checkHeap());
    expect(error).toBeInstanceOf(HeapCheckError);
    expect((error as Error).message).toMatch(/^libc-malloc: heap check: /);
  });

  it("glibc: a tcache entry's next link and an unsorted chunk's fd of 2^64-15", () => {
    for (const size of [24, 2000]) {
      const g = new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234 });
      const p = g.malloc(size);
      g.malloc(24);
      g.free(p);
      g.process.memory.store64Big(p, WILD);
      const error = checkerError(() => g.checkHeap());
      expect(error, `size ${size}`).toBeInstanceOf(HeapCheckError);
    }
  });
});
