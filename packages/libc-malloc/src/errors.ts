import { hex } from "./constants.js";

/**
 * A simulated `abort()` raised by one of glibc's integrity checks (`malloc_printerr`).
 *
 * `message` is exactly the text glibc writes to stderr (without the newline), e.g.
 * `"free(): double free detected in tcache 2"`, so it can be compared with a real run.
 * `detail` adds what this tier knows: the call, the chunk address and the rule broken.
 * The allocator is left as glibc left it at the moment of the check (no half-done update
 * of the structure being checked); it stays usable.
 */
export class MallocAbort extends Error {
  override readonly name = "MallocAbort";
  /** The chunk (or user pointer) the failing check was looking at; 0 when none. */
  readonly address: number;
  /** `libc-malloc: <call>: <message> at <address>`: the message with its context. */
  readonly detail: string;
  /** The signal the real process dies of: always `"SIGABRT"`. */
  readonly signal = "SIGABRT";

  /** Creates the abort for the glibc `message` raised in `call` about `address`. */
  constructor(message: string, call: string, address: number) {
    super(message);
    this.address = address;
    this.detail = `libc-malloc: ${call}: ${message} (chunk at ${hex(address)})`;
  }
}

/** A broken heap invariant found by the heap checker. */
export class HeapCheckError extends Error {
  override readonly name = "HeapCheckError";
  /** The address of the chunk, bin or structure that breaks the rule. */
  readonly address: number;
  /** The invariant that does not hold. */
  readonly rule: string;

  /** Creates the report of `rule` broken at `address`. */
  constructor(rule: string, address: number) {
    super(`libc-malloc: heap check: ${rule} at ${hex(address)}`);
    this.address = address;
    this.rule = rule;
  }
}

/** Whether `error` is the kernel tier's `SyscallError` (checked by shape, not by class). */
export function isSyscallError(error: unknown): error is Error & { errno: number } {
  return error instanceof Error && (error.name === "SyscallError" || typeof (error as { errno?: unknown }).errno === "number");
}

/** Whether `error` is a fault of the memory beneath: a segfault, a bus error, or a load of a value above 2^53-1. */
export function isMemoryFault(error: unknown): error is Error {
  return error instanceof RangeError || (error instanceof Error && (error.name === "SegmentationFault" || error.name === "BusError"));
}

/**
 * Runs a heap checker so that corruption is always reported as a {@link HeapCheckError}: a
 * checker following a corrupted link or size into memory it cannot read (a segfault, a bus
 * error, a 64-bit value above 2^53-1) reports that instead of crashing with it.
 */
export function guardChecker(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof HeapCheckError || !isMemoryFault(error)) throw error;
    const where = (error as { address?: unknown }).address;
    const address = typeof where === "number" && Number.isSafeInteger(where) ? where : 0;
    throw new HeapCheckError(`a link or size leads where the checker cannot read (${error.message.split("\n")[0]!})`, address);
  }
}
