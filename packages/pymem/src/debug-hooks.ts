import type { Memory } from "@mem/hardware";
import type { PyMemAllocatorEx } from "./api.js";
import { PYMEM_CLEANBYTE, PYMEM_DEADBYTE, PYMEM_DEBUG_EXTRA_BYTES } from "./api.js";
import { checkDebugBlock, readRequestedSize, type DebugReporter } from "./debug-dump.js";
import { PyFatalError, PyMemUsageError } from "./errors.js";
import { exceedsSsizeMaxMinus } from "./size.js";

/**
 * The debug hooks of `PYTHONMALLOC=debug` (`_PyMem_DebugRawMalloc` & co.). Each wraps the
 * allocator that was in the slot and decorates every block, in the memory beneath:
 *
 * ```
 *   q = what the underlying allocator returned        p = q + 16 = what the caller gets
 *   |                                                 |
 *   v                                                 v
 *   +----------------------------+----+---------------+------------------+-------------+
 *   | n: requested size, 8 bytes | id | 7 x 0xFD      | n data bytes     | 8 x 0xFD    |
 *   | BIG-endian                 |'r' | leading pad   | 0xCD after malloc| trailing pad|
 *   |                            |'m' |               | 0x00 after calloc|             |
 *   |                            |'o' |               |                  |             |
 *   +----------------------------+----+---------------+------------------+-------------+
 *   q                            q+8  q+9             p                  p+n           p+n+8
 * ```
 *
 * The underlying request is n + 24 bytes. Free checks the block, fills all n + 24 bytes with
 * 0xDD and frees q. Realloc checks, erases (0xDD) the header, trailer and up to 64 data bytes
 * at each end after saving them, reallocates q, rewrites header and trailer, restores the saved
 * bytes and fills the growth with 0xCD.
 */

/** The context of one domain's debug hooks (CPython's `debug_alloc_api_t`). */
export interface DebugApi {
  /** The API id byte (`'r'`, `'m'`, `'o'` as a char code). */
  readonly apiId: number;
  /** The allocator the hooks wrap (saved from the slot when the hooks were installed). */
  alloc: PyMemAllocatorEx;
  /** The memory the blocks live in. */
  readonly memory: Memory;
  /** Produces the fatal-error reports and knows the GIL and tracemalloc state. */
  readonly reporter: DebugReporter;
}

const SST = 8;
const ERASED_SIZE = 64;
const FORBIDDEN_WORD = 0xfdfdfdfd;


/** Byte-swaps a 32-bit value (for the big-endian size field). */
function bswap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** Writes the header at `q` (big-endian size, API id, 7 x 0xFD) and the 8 x 0xFD trailer at `q + 16 + n`. */
function writeDecorations(memory: Memory, q: number, n: number, apiId: number): void {
  memory.store32(q, bswap32(Math.floor(n / 4294967296)));
  memory.store32(q + 4, bswap32(n >>> 0));
  memory.store32(q + 8, (apiId | 0xfdfdfd00) >>> 0);
  memory.store32(q + 12, FORBIDDEN_WORD);
  const tail = q + 2 * SST + n;
  memory.store32(tail, FORBIDDEN_WORD);
  memory.store32(tail + 4, FORBIDDEN_WORD);
}

/**
 * The request the hooks pass beneath for `nbytes`: `nbytes + 24`. A total of 2^53 or more is
 * not an exact number, and no allocator can satisfy it (user space is 47 bits): it is asked
 * as 2^53 - 1, which the allocator beneath refuses the way it refuses the real request
 * (NULL and ENOMEM), so that realloc then restores the block as CPython does.
 */
function underlyingRequest(nbytes: number): number {
  return nbytes > Number.MAX_SAFE_INTEGER - PYMEM_DEBUG_EXTRA_BYTES ? Number.MAX_SAFE_INTEGER : nbytes + PYMEM_DEBUG_EXTRA_BYTES;
}

/** `_PyMem_DebugRawAlloc(use_calloc, ctx, nbytes)`. */
function debugRawAlloc(useCalloc: boolean, api: DebugApi, nbytes: number): number {
  if (nbytes > Number.MAX_SAFE_INTEGER - PYMEM_DEBUG_EXTRA_BYTES && exceedsSsizeMaxMinus(nbytes, PYMEM_DEBUG_EXTRA_BYTES)) return 0;
  const total = underlyingRequest(nbytes);
  const alloc = api.alloc;
  const q = useCalloc ? alloc.calloc(alloc.ctx, 1, total) : alloc.malloc(alloc.ctx, total);
  if (q === 0) return 0;
  const memory = api.memory;
  writeDecorations(memory, q, nbytes, api.apiId);
  if (nbytes > 0 && !useCalloc) memory.fill(q + 2 * SST, nbytes, PYMEM_CLEANBYTE);
  return q + 2 * SST;
}

/** `_PyMem_DebugRawMalloc`: the RAW domain's debug malloc. */
export function debugRawMalloc(api: DebugApi, nbytes: number): number {
  return debugRawAlloc(false, api, nbytes);
}

/** `_PyMem_DebugRawCalloc`: the wrappers already refused `nelem * elsize > PY_SSIZE_T_MAX`. */
export function debugRawCalloc(api: DebugApi, nelem: number, elsize: number): number {
  return debugRawAlloc(true, api, nelem * elsize);
}

/** A pointer argument no C `void *` can hold (a BigInt, a string, a fraction) is a usage error, not a crash. */
function checkPointer(func: string, p: number): void {
  if (typeof p !== "number" || !Number.isSafeInteger(p) || p < 0) {
    throw new PyMemUsageError(`pymem: ${func}: the pointer must be an address (an integer in 0..2^53-1), got ${typeof p === "bigint" ? `bigint ${String(p)}` : String(p)}`);
  }
}

/** `_PyMem_DebugRawFree`: check, fill the whole block with 0xDD, free. */
export function debugRawFree(api: DebugApi, p: number): void {
  if (p === 0) return;
  checkPointer("_PyMem_DebugRawFree", p);
  checkDebugBlock("_PyMem_DebugRawFree", api.apiId, api.memory, p, api.reporter);
  const q = p - 2 * SST;
  const nbytes = readRequestedSize(api.memory, q) + PYMEM_DEBUG_EXTRA_BYTES;
  api.memory.fill(q, nbytes, PYMEM_DEADBYTE);
  const alloc = api.alloc;
  alloc.free(alloc.ctx, q);
}

/** `_PyMem_DebugRawRealloc`: see the module comment for the erase/restore dance. */
export function debugRawRealloc(api: DebugApi, p: number, nbytes: number): number {
  if (p === 0) return debugRawAlloc(false, api, nbytes);
  checkPointer("_PyMem_DebugRawRealloc", p);
  const memory = api.memory;
  checkDebugBlock("_PyMem_DebugRawRealloc", api.apiId, memory, p, api.reporter);
  const head = p - 2 * SST;
  const original = readRequestedSize(memory, head);
  if (nbytes > Number.MAX_SAFE_INTEGER - PYMEM_DEBUG_EXTRA_BYTES && exceedsSsizeMaxMinus(nbytes, PYMEM_DEBUG_EXTRA_BYTES)) {
    return 0;
  }
  const total = underlyingRequest(nbytes);
  const tail = p + original;
  // Mark the header, the trailer and ERASED_SIZE bytes at each end as dead, saving the data.
  // `save[2*ERASED_SIZE]`: one per call, since realloc nests (OBJ debug -> pymalloc -> RAW debug).
  let save: Uint8Array;
  if (original <= 2 * ERASED_SIZE) {
    save = memory.read(p, original);
    memory.fill(head, original + PYMEM_DEBUG_EXTRA_BYTES, PYMEM_DEADBYTE);
  } else {
    save = new Uint8Array(2 * ERASED_SIZE);
    memory.readInto(p, save.subarray(0, ERASED_SIZE));
    memory.fill(head, ERASED_SIZE + 2 * SST, PYMEM_DEADBYTE);
    memory.readInto(tail - ERASED_SIZE, save.subarray(ERASED_SIZE));
    memory.fill(tail - ERASED_SIZE, ERASED_SIZE + PYMEM_DEBUG_EXTRA_BYTES - 2 * SST, PYMEM_DEADBYTE);
  }
  const alloc = api.alloc;
  let r: number;
  try {
    r = alloc.realloc(alloc.ctx, head, total);
  } catch (error) {
    // A typed fault beneath (not a C outcome): leave the block as a NULL return would.
    restoreBlock(memory, head, original, original, save, api.apiId);
    throw error;
  }
  const size = r === 0 ? original : nbytes;
  const data = (r === 0 ? head : r) + 2 * SST;
  restoreBlock(memory, r === 0 ? head : r, original, size, save, api.apiId);
  if (r === 0) return 0;
  if (size > original) memory.fill(data + original, size - original, PYMEM_CLEANBYTE);
  return data;
}

/**
 * The second half of the realloc dance: rewrites the header and trailer of a block of `size`
 * bytes at `head` and puts back the bytes saved from the `original`-byte block (as many as fit).
 */
function restoreBlock(memory: Memory, head: number, original: number, size: number, save: Uint8Array, apiId: number): void {
  const data = head + 2 * SST;
  writeDecorations(memory, head, size, apiId);
  if (original <= 2 * ERASED_SIZE) {
    memory.write(data, size >= original ? save : save.subarray(0, size));
  } else {
    const i = original - ERASED_SIZE;
    memory.write(data, save.subarray(0, Math.min(size, ERASED_SIZE)));
    if (size > i) memory.write(data + i, save.subarray(ERASED_SIZE, ERASED_SIZE + Math.min(size - i, ERASED_SIZE)));
  }
}

/** `_PyMem_DebugCheckGIL(func)`: the MEM and OBJ hooks abort when the GIL is not held. */
function checkGil(func: string, api: DebugApi): void {
  if (!api.reporter.gilHeld()) {
    const reason = "Python memory allocator called without holding the GIL";
    throw new PyFatalError(func, reason, 0, api.reporter.fatalReport(func, reason));
  }
}

/** `_PyMem_DebugMalloc`: MEM/OBJ debug malloc (GIL check, then the raw debug malloc). */
export function debugMalloc(api: DebugApi, nbytes: number): number {
  checkGil("_PyMem_DebugMalloc", api);
  return debugRawAlloc(false, api, nbytes);
}

/** `_PyMem_DebugCalloc`. */
export function debugCalloc(api: DebugApi, nelem: number, elsize: number): number {
  checkGil("_PyMem_DebugCalloc", api);
  return debugRawAlloc(true, api, nelem * elsize);
}

/** `_PyMem_DebugRealloc`. */
export function debugRealloc(api: DebugApi, p: number, nbytes: number): number {
  checkGil("_PyMem_DebugRealloc", api);
  return debugRawRealloc(api, p, nbytes);
}

/** `_PyMem_DebugFree`. */
export function debugFree(api: DebugApi, p: number): void {
  checkGil("_PyMem_DebugFree", api);
  debugRawFree(api, p);
}

/** Builds the debug record installed in a slot (`PYDBGRAW_ALLOC` / `PYDBGMEM_ALLOC` / `PYDBGOBJ_ALLOC`). */
export function debugAllocator(api: DebugApi, raw: boolean): PyMemAllocatorEx<DebugApi> {
  return raw
    ? { ctx: api, malloc: debugRawMalloc, calloc: debugRawCalloc, realloc: debugRawRealloc, free: debugRawFree }
    : { ctx: api, malloc: debugMalloc, calloc: debugCalloc, realloc: debugRealloc, free: debugFree };
}
