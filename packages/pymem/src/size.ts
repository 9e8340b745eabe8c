import { PyMemUsageError } from "./errors.js";

/**
 * Size arithmetic of the C API with JavaScript numbers. Sizes are C `size_t` values given as
 * non-negative integer numbers; `PY_SSIZE_T_MAX` (2^63 - 1) is not a double, so every
 * comparison with it on a number above 2^53 is done exactly with bigints (slow path only).
 */

/** 2^63 as a number: the smallest number above `PY_SSIZE_T_MAX`. */
const TWO_63 = 2 ** 63;
const PY_SSIZE_T_MAX_BIG = 0x7fff_ffff_ffff_ffffn;

/**
 * Throws {@link PyMemUsageError} unless `value` is a valid `size_t` as a number.
 * Call only after the fast check `(value >>> 0) !== value` failed.
 */
export function checkSizeArgument(func: string, what: string, value: number): void {
  if (!(value >= 0) || !Number.isInteger(value)) {
    throw new PyMemUsageError(`pymem: ${func}: ${what} must be a non-negative integer (a C size_t), got ${String(value)}`);
  }
}

/** Whether `size > PY_SSIZE_T_MAX` (the wrappers' "return NULL without calling the allocator" rule). */
export function exceedsSsizeMax(size: number): boolean {
  return size >= TWO_63;
}

/** Whether `size > PY_SSIZE_T_MAX - extra`, exactly (the debug hooks' overflow guard, extra = 24). */
export function exceedsSsizeMaxMinus(size: number, extra: number): boolean {
  if (size <= Number.MAX_SAFE_INTEGER) return false;
  return BigInt(size) > PY_SSIZE_T_MAX_BIG - BigInt(extra);
}

/** The wrappers' calloc check: `elsize != 0 && nelem > PY_SSIZE_T_MAX / elsize` (integer division). */
export function callocOverflows(nelem: number, elsize: number): boolean {
  if (elsize === 0) return false;
  if (nelem * elsize <= Number.MAX_SAFE_INTEGER) return false;
  return BigInt(nelem) > PY_SSIZE_T_MAX_BIG / BigInt(elsize);
}
