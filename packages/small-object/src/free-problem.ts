import { PymallocError, hex } from "./errors.js";

/** What pymalloc's free-path validation found wrong with a pointer handed to free or realloc. */
export const enum FreeProblem {
  /** A live block: nothing wrong. */
  None,
  /** The pointer lies in the part of an unaligned arena that holds no pool. */
  AlignmentLoss,
  /** The pointer lies in a pool of the arena that was never carved. */
  NeverCarved,
  /** The pool has no allocated block (so this block cannot be live). */
  EmptyPool,
  /** Not the first byte of a block of the pool's size class. */
  NotBlockStart,
  /** A block past the pool's carved (ever handed out) blocks. */
  NeverHandedOut,
  /** The block is the head of its pool's free list: freed just before. */
  HeadOfFreeList,
  /** The block is on its pool's free list (found by `strictFree`). */
  OnFreeList,
}

/** The typed error for `problem` found at `p` (pool `pool` of size class `blockSize`, arena `base`). */
export function freeProblemError(
  operation: string,
  p: number,
  size: number,
  pool: number,
  base: number,
  blockSize: number,
  problem: FreeProblem,
): PymallocError {
  const [rule, detail]: [string, string] = (
    {
      [FreeProblem.None]: ["", ""],
      [FreeProblem.AlignmentLoss]: ["not-a-block", `the address lies in the part of the arena at ${hex(base)} lost to alignment`],
      [FreeProblem.NeverCarved]: ["not-a-block", `the pool at ${hex(pool)} of the arena at ${hex(base)} was never carved`],
      [FreeProblem.EmptyPool]: ["double-free", `the pool at ${hex(pool)} has no allocated block`],
      [FreeProblem.NotBlockStart]: ["not-a-block", `not the start of a ${blockSize}-byte block of the pool at ${hex(pool)}`],
      [FreeProblem.NeverHandedOut]: ["not-a-block", `the ${blockSize}-byte block was never handed out (pool at ${hex(pool)})`],
      [FreeProblem.HeadOfFreeList]: ["double-free", `the block is already at the head of the free list of the pool at ${hex(pool)}`],
      [FreeProblem.OnFreeList]: ["double-free", `the block is already on the free list of the pool at ${hex(pool)}`],
    } satisfies Record<FreeProblem, [string, string]>
  )[problem];
  return new PymallocError(operation, p, size, rule, detail);
}
