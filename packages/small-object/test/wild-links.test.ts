import { SegmentationFault } from "@mem/os-vm";
import { describe, expect, it } from "vitest";
import { PymallocInvariantError } from "../src/index.js";
import { makeStack } from "./helpers/stack.js";

/** A free-list link of 2^53 or more: 0xdead_beef_0000_0000 written over the first word of a freed block. */
const WILD = 0xdead_beef_0000_0000n;

function corruptedStack() {
  const stack = makeStack();
  const pm = stack.pm!;
  const a = pm.malloc(32);
  const b = pm.malloc(32);
  pm.malloc(32); // keeps the pool in use
  pm.free(b);
  pm.free(a); // free list: a -> b -> (virgin)
  stack.process.memory.store64Big(a, WILD); // use after free: a's link is now wild
  return { stack, pm, a, b };
}

/**
 * Found by fuzzing (issue 11). CPython's pymalloc_alloc pops `bp = pool->freeblock` and sets
 * `pool->freeblock = *(block **)bp` without looking at the link: the malloc that pops the block
 * succeeds, and the next one dereferences the wild link and dies of SIGSEGV.
 */
describe("pymalloc: a wild free-list link", () => {
  it("the pop hands the block out; the next malloc of the class faults at the wild address (SIGSEGV), not a hardware RangeError", () => {
    const { stack, pm, a } = corruptedStack();
    expect(pm.malloc(32)).toBe(a);
    expect(stack.process.memory.load64Big(a)).toBe(WILD); // the block still holds what was written
    let error: unknown;
    try {
      pm.malloc(32);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SegmentationFault);
    expect((error as SegmentationFault).code).toBe("SI_KERNEL");
  });

  it("free of a block while the pool's free-list head is wild copies the link without following it", () => {
    const { stack, pm, a } = corruptedStack();
    expect(pm.malloc(32)).toBe(a); // freeblock is now the wild value
    pm.free(a); // *(block **)a = pool->freeblock (wild); pool->freeblock = a
    expect(stack.process.memory.load64Big(a)).toBe(WILD);
  });

  it("check() reports the wild link as a typed invariant error, never a RangeError or a segfault", () => {
    const { pm } = corruptedStack();
    let error: unknown;
    try {
      pm.check();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PymallocInvariantError);
    expect((error as PymallocInvariantError).invariant).toBe("pool-free-list");
    expect((error as Error).message).toContain("0xdeadbeef00000000");
  });

  it("check() reports a usable_arenas link into unmapped memory as a typed invariant error", () => {
    const stack = makeStack();
    const pm = stack.pm!;
    pm.malloc(32);
    const ao = pm.usableArenas;
    stack.process.memory.store64Big(ao + 32, WILD);
    expect(() => pm.check()).toThrow(PymallocInvariantError);
  });
});
