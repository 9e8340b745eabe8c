import type { Memory } from "@mem/hardware";
import { PYMEM_DEBUG_EXTRA_BYTES, PYMEM_FORBIDDENBYTE, type PyMemDomain } from "./api.js";
import { readRequestedSize } from "./debug-dump.js";

/**
 * What the debug hooks wrote around one block, read back from memory (read-only: nothing is
 * checked, reported or changed). The layout (see debug-hooks.ts):
 *
 * ```
 *   base = p - headerBytes                                      p + requestedSize
 *   |                                                           |
 *   [size word, big-endian][api id][leading pad x 0xFD][data ...][trailing pad x 0xFD]
 *    sizeWordBytes          1 byte  leadingPadBytes      n bytes   trailingPadBytes
 * ```
 */
export interface DebugBlockView {
  /** The domain whose hooks decorated the block. */
  readonly domain: PyMemDomain;
  /** The pointer the caller holds (`p`). */
  readonly pointer: number;
  /** The pointer the allocator beneath returned (`q = p - headerBytes`). */
  readonly base: number;
  /** The requested size `n`, as the size word says. */
  readonly requestedSize: number;
  /** What the hooks asked of the allocator beneath: `n + headerBytes + trailerBytes`. */
  readonly underlyingSize: number;
  /** Bytes of the size word (a `size_t`, big-endian). */
  readonly sizeWordBytes: number;
  /** The API id byte at `p - leadingPadBytes - 1`, as a character. */
  readonly apiId: string;
  /** `PYMEM_FORBIDDENBYTE`, the value of every pad byte. */
  readonly forbiddenByte: number;
  /** Pad bytes between the API id and the data. */
  readonly leadingPadBytes: number;
  /** Pad bytes after the data. */
  readonly trailingPadBytes: number;
  /** Bytes of decoration before `p`. */
  readonly headerBytes: number;
  /** Bytes of decoration after the data. */
  readonly trailerBytes: number;
  /** Whether every pad byte still holds {@link DebugBlockView.forbiddenByte}. */
  readonly intact: boolean;
}

const SST = 8;
const HEADER = 2 * SST;
const TRAILER = PYMEM_DEBUG_EXTRA_BYTES - HEADER;
const LEADING_PAD = SST - 1;

/** Reads the decoration of the debug block `p` of `domain` (see {@link DebugBlockView}). */
export function readDebugBlock(memory: Memory, domain: PyMemDomain, p: number): DebugBlockView {
  const base = p - HEADER;
  const requestedSize = readRequestedSize(memory, base);
  const padOk = (from: number, count: number): boolean => {
    for (let i = 0; i < count; i++) if (memory.load8(from + i) !== PYMEM_FORBIDDENBYTE) return false;
    return true;
  };
  const trailerOk = (): boolean => {
    if (!Number.isSafeInteger(p + requestedSize + TRAILER)) return false;
    try {
      return padOk(p + requestedSize, TRAILER);
    } catch {
      return false; // a size word so corrupt that the trailer is not even mapped
    }
  };
  const intact = padOk(p - LEADING_PAD, LEADING_PAD) && trailerOk();
  return {
    domain,
    pointer: p,
    base,
    requestedSize,
    underlyingSize: requestedSize + PYMEM_DEBUG_EXTRA_BYTES,
    sizeWordBytes: SST,
    apiId: String.fromCharCode(memory.load8(p - SST)),
    forbiddenByte: PYMEM_FORBIDDENBYTE,
    leadingPadBytes: LEADING_PAD,
    trailingPadBytes: TRAILER,
    headerBytes: HEADER,
    trailerBytes: TRAILER,
    intact,
  };
}
