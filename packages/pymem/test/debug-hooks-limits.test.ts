import { describe, expect, it } from "vitest";
import type { PyMemAllocatorEx } from "../src/index.js";
import { makeStack } from "./support/stack.js";

type Domain = "raw" | "mem" | "obj";
const DOMAINS: Domain[] = ["raw", "mem", "obj"];

/**
 * Wraps a domain's allocator the way @mem/small-object's pymalloc behaves: a size it cannot
 * represent exactly (2^53 or more) is refused with a thrown error, and `failNext` makes the
 * next realloc throw (an allocator fault beneath the hooks).
 */
function strictBeneath(inner: PyMemAllocatorEx): { allocator: PyMemAllocatorEx; failNext: () => void } {
  let fail = false;
  const check = (n: number): void => {
    if (!Number.isSafeInteger(n)) throw new RangeError(`beneath: size ${n} is not below 2^53`);
  };
  return {
    failNext: () => {
      fail = true;
    },
    allocator: {
      ctx: null,
      malloc: (_c, n) => (check(n), inner.malloc(inner.ctx, n)),
      calloc: (_c, a, b) => (check(a * b), inner.calloc(inner.ctx, a, b)),
      realloc: (_c, p, n) => {
        check(n);
        if (fail) {
          fail = false;
          throw new Error("beneath: simulated fault in realloc");
        }
        return inner.realloc(inner.ctx, p, n);
      },
      free: (_c, p) => inner.free(inner.ctx, p),
    },
  };
}

function debugStack(): { stack: ReturnType<typeof makeStack>; failNext: Map<Domain, () => void> } {
  const stack = makeStack("default");
  const failNext = new Map<Domain, () => void>();
  for (const d of DOMAINS) {
    const s = strictBeneath(stack.py.getAllocator(d));
    stack.py.setAllocator(d, s.allocator);
    failNext.set(d, s.failNext);
  }
  stack.py.setupDebugHooks();
  return { stack, failNext };
}

/** Found by fuzzing (issue 11). CPython: `nbytes > PY_SSIZE_T_MAX - 24` returns NULL, anything else asks the allocator beneath, which returns NULL for an impossible size. */
describe("debug hooks: sizes no allocator can satisfy", () => {
  for (const d of DOMAINS) {
    it(`${d}: malloc(2**53-1) and calloc(1, 2**53-1) return NULL instead of throwing`, () => {
      const { stack } = debugStack();
      expect(stack.py.malloc(d, 2 ** 53 - 1)).toBe(0);
      expect(stack.py.calloc(d, 1, 2 ** 53 - 1)).toBe(0);
      expect(stack.py.malloc(d, 2 ** 60)).toBe(0);
    });

    it(`${d}: a failed realloc(p, 2**53-1) returns NULL and leaves the block intact and readable`, () => {
      const { stack } = debugStack();
      const p = stack.py.malloc(d, 200);
      const data = Uint8Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff);
      stack.py.memory.write(p, data);
      const before = stack.py.memory.read(p - 16, 224);
      expect(stack.py.realloc(d, p, 2 ** 53 - 1)).toBe(0);
      expect(stack.py.memory.read(p - 16, 224)).toEqual(before);
      stack.py.free(d, p); // the pad checks pass: no fatal error
    });

    it(`${d}: an allocator that throws inside realloc leaves the block as it was (header, data, pads)`, () => {
      const { stack, failNext } = debugStack();
      const p = stack.py.malloc(d, 300);
      stack.py.memory.write(p, Uint8Array.from({ length: 300 }, (_, i) => i & 0xff));
      const before = stack.py.memory.read(p - 16, 324);
      failNext.get(d)!();
      expect(() => stack.py.realloc(d, p, 400)).toThrow("beneath: simulated fault in realloc");
      expect(stack.py.memory.read(p - 16, 324)).toEqual(before);
      const q = stack.py.realloc(d, p, 400);
      expect(stack.py.memory.read(q, 300)).toEqual(before.subarray(16, 316));
      stack.py.free(d, q);
    });
  }
});
