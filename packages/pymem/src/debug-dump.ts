import type { Memory } from "@mem/hardware";
import { PYMEM_FORBIDDENBYTE } from "./api.js";
import { PyFatalError, PySegmentationFault } from "./errors.js";

/**
 * The checks the debug hooks run on every free and realloc (`_PyMem_DebugCheckAddress`), and
 * the diagnostic CPython prints when one fails (`_PyObject_DebugDumpAddress`), byte for byte.
 * Layout read here (see debug-hooks.ts):
 *
 * ```
 *   p-16        p-8  p-7 .. p-1   p .. p+n-1   p+n .. p+n+7
 *   [size, BE] [id] [7 x 0xFD]   [data]       [8 x 0xFD]
 * ```
 *
 * Checks, in CPython's order: the API id at p-8; the leading pad bytes p-7 down to p-1; then,
 * with n read from the header, the trailing pad bytes p+n .. p+n+7.
 */

/** What the debug hooks need from their PyMem: the GIL state, the fatal-error tail, tracemalloc's view of a block. */
export interface DebugReporter {
  /** Whether the current thread holds the GIL (`PyGILState_Check()`). */
  gilHeld(): boolean;
  /**
   * The text `_Py_FatalErrorFunc(func, reason)` writes: `Fatal Python error: func: reason`,
   * `Python runtime state: initialized` and the current thread's stack if known.
   */
  fatalReport(func: string, reason: string): string;
  /** What `_PyMem_DumpTraceback(fd, p)` writes after the dump (tracemalloc's allocation traceback). */
  allocationTraceback(p: number): string;
}

const SST = 8;
const TWO_32 = 4294967296;
const FORBIDDEN_WORD = 0xfdfdfdfd;

/** Reads the big-endian size field at `q` as a number (callers only use it after the checks passed). */
export function readRequestedSize(memory: Memory, q: number): number {
  return readBigEndian32(memory, q) * TWO_32 + readBigEndian32(memory, q + 4);
}

/** Reads the big-endian size field at `q` exactly. */
function readRequestedSizeBig(memory: Memory, q: number): bigint {
  return (BigInt(readBigEndian32(memory, q)) << 32n) | BigInt(readBigEndian32(memory, q + 4));
}

function readBigEndian32(memory: Memory, address: number): number {
  const x = memory.load32(address);
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/** glibc's `%p`: `0x` and lowercase hex, `(nil)` for NULL. */
export function formatPointer(address: number | bigint): string {
  return address === 0 || address === 0n ? "(nil)" : `0x${address.toString(16)}`;
}

/** `%02x`. */
function hex2(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

/** `%c` of a byte: one character whose code is the byte (the reports are binary strings, see report-bytes.ts). */
function char(byte: number): string {
  return String.fromCharCode(byte);
}

/** Reads the byte at `address` (a bigint, possibly wild); a failed read is the crash of the real process. */
function loadOrCrash(memory: Memory, address: bigint, written: string): number {
  if (address > BigInt(Number.MAX_SAFE_INTEGER)) throw new PySegmentationFault(address, written);
  try {
    return memory.load8(Number(address));
  } catch (error) {
    // a process the OOM killer ended is not a segmentation fault: its SIGKILL goes on up
    if (error instanceof Error && error.name === "ProcessKilledError") throw error;
    throw new PySegmentationFault(address, written, error);
  }
}

/**
 * `_PyMem_DebugCheckAddress(func, api, p)`: throws {@link PyFatalError} with CPython's complete
 * report on the first failing check, or {@link PySegmentationFault} where CPython would crash.
 */
export function checkDebugBlock(func: string, apiId: number, memory: Memory, p: number, reporter: DebugReporter): void {
  // Fast path: id + 3 pad bytes, 4 pad bytes, a sane size, 8 trailing pad bytes, in word loads.
  if (memory.load32(p - 8) === ((apiId | 0xfdfdfd00) >>> 0) && memory.load32(p - 4) === FORBIDDEN_WORD) {
    const hi = readBigEndian32(memory, p - 16);
    if (hi <= 0x1fffff) {
      const tail = p + hi * TWO_32 + readBigEndian32(memory, p - 12);
      if (tail + SST <= memory.size && memory.load32(tail) === FORBIDDEN_WORD && memory.load32(tail + 4) === FORBIDDEN_WORD) return;
    }
  }
  checkDebugBlockSlowly(func, apiId, memory, p, reporter);
}

/** The checks one byte at a time, in CPython's order, reporting the first failure. */
function checkDebugBlockSlowly(func: string, apiId: number, memory: Memory, p: number, reporter: DebugReporter): void {
  const id = memory.load8(p - SST);
  if (id !== apiId) {
    fail(func, `bad ID: Allocated using API '${char(id)}', verified using API '${char(apiId)}'`, memory, p, reporter);
  }
  for (let i = SST - 1; i >= 1; --i) {
    if (memory.load8(p - i) !== PYMEM_FORBIDDENBYTE) fail(func, "bad leading pad byte", memory, p, reporter);
  }
  const tail = BigInt(p) + readRequestedSizeBig(memory, p - 2 * SST);
  for (let i = 0n; i < BigInt(SST); ++i) {
    if (loadOrCrash(memory, tail + i, "") !== PYMEM_FORBIDDENBYTE) fail(func, "bad trailing pad byte", memory, p, reporter);
  }
}

function fail(func: string, reason: string, memory: Memory, p: number, reporter: DebugReporter): never {
  const report = dumpDebugBlock(memory, p) + reporter.allocationTraceback(p) + reporter.fatalReport(func, reason);
  throw new PyFatalError(func, reason, p, report);
}

/**
 * `_PyObject_DebugDumpAddress(p)` without its tracemalloc part: the text CPython prints about
 * the debug block at `p`, as a binary string (one character per byte written: the API id is
 * the raw byte, e.g. `'\xe9'`; turn it into bytes with {@link reportBytes}). Throws {@link PySegmentationFault} (carrying the text printed so far)
 * where the real dump reads a wild tail address.
 */
export function dumpDebugBlock(memory: Memory, p: number): string {
  let out = `Debug memory block at address p=${formatPointer(p)}:`;
  if (p === 0) return out + "\n";
  out += ` API '${char(memory.load8(p - SST))}'\n`;
  const nbytes = readRequestedSizeBig(memory, p - 2 * SST);
  out += `    ${nbytes} bytes originally requested\n`;
  out += `    The ${SST - 1} pad bytes at p-${SST - 1} are `;
  let ok = true;
  for (let i = 1; i <= SST - 1; ++i) {
    if (memory.load8(p - i) !== PYMEM_FORBIDDENBYTE) {
      ok = false;
      break;
    }
  }
  if (ok) {
    out += "FORBIDDENBYTE, as expected.\n";
  } else {
    out += `not all FORBIDDENBYTE (0x${hex2(PYMEM_FORBIDDENBYTE)}):\n`;
    for (let i = SST - 1; i >= 1; --i) {
      const byte = memory.load8(p - i);
      out += `        at p-${i}: 0x${hex2(byte)}${byte !== PYMEM_FORBIDDENBYTE ? " *** OUCH" : ""}\n`;
    }
    out +=
      "    Because memory is corrupted at the start, the count of bytes requested\n" +
      "       may be bogus, and checking the trailing pad bytes may segfault.\n";
  }
  const tail = BigInt(p) + nbytes;
  out += `    The ${SST} pad bytes at tail=${formatPointer(tail & 0xffff_ffff_ffff_ffffn)} are `;
  const tailBytes: number[] = [];
  for (let i = 0n; i < BigInt(SST); ++i) tailBytes.push(loadOrCrash(memory, tail + i, out));
  if (tailBytes.every((b) => b === PYMEM_FORBIDDENBYTE)) {
    out += "FORBIDDENBYTE, as expected.\n";
  } else {
    out += `not all FORBIDDENBYTE (0x${hex2(PYMEM_FORBIDDENBYTE)}):\n`;
    tailBytes.forEach((byte, i) => {
      out += `        at tail+${i}: 0x${hex2(byte)}${byte !== PYMEM_FORBIDDENBYTE ? " *** OUCH" : ""}\n`;
    });
  }
  if (nbytes > 0n) {
    // Up to 8 bytes at the start, then " ..." and the last 8 if more than 8 remain.
    const n = Number(nbytes);
    out += "    Data at p:";
    let i = 0;
    for (; i < n && i < 8; i++) out += ` ${hex2(memory.load8(p + i))}`;
    if (i < n) {
      if (n - i > 8) {
        out += " ...";
        i = n - 8;
      }
      for (; i < n; i++) out += ` ${hex2(memory.load8(p + i))}`;
    }
    out += "\n";
  }
  return out + "\n";
}
