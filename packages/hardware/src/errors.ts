/**
 * Raised for an access outside installed RAM: the machine-check a real bus raises when no
 * device answers an address. Nothing is changed by the faulting access.
 */
export class BusError extends Error {
  override readonly name = "BusError";
  /** The first byte address of the access. */
  readonly address: number;
  /** The width of the access in bytes. */
  readonly length: number;
  /** Whether the access was a load or a store. */
  readonly access: "load" | "store";

  /** Creates the error for an access of `length` bytes at `address` in RAM of `ramSize` bytes. */
  constructor(address: number, length: number, access: "load" | "store", ramSize: number) {
    super(
      `hardware: bus error: ${access} of ${length} byte${length === 1 ? "" : "s"} at physical address ${hex(address)} ` +
        `is outside installed RAM (0x0..${hex(ramSize)})`,
    );
    this.address = address;
    this.length = length;
    this.access = access;
  }
}

/** Raised, when alignment checking is on, for an access not aligned to its own width. */
export class AlignmentError extends Error {
  override readonly name = "AlignmentError";
  /** The misaligned address. */
  readonly address: number;
  /** The width of the access in bytes. */
  readonly width: number;

  /** Creates the error for a `width`-byte access at `address`. */
  constructor(address: number, width: number) {
    super(`hardware: alignment check: ${width}-byte access at ${hex(address)} is not ${width}-byte aligned`);
    this.address = address;
    this.width = width;
  }
}

/** Formats an address the way the whole stack prints them: lowercase hex with `0x`. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/** How an argument of the wrong type is described in an error: its type and its value. */
export function describeArgument(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "bigint") return `bigint ${value.toString()}`;
  if (typeof value === "number") return String(value);
  if (value === null) return "null";
  if (typeof value === "boolean" || value === undefined) return String(value);
  return typeof value;
}

/**
 * Raised when a caller passes an argument of the wrong type (a string, a BigInt, NaN or a
 * fraction where an integer address belongs). A `TypeError`, so existing `catch` clauses
 * still match; its own class tells a caller's mistake from a fault inside the simulator.
 * Nothing is changed by the call.
 */
export class InvalidArgumentError extends TypeError {
  override readonly name = "InvalidArgumentError";
}

/**
 * Raised when a numeric argument is outside the range its parameter allows (a store value
 * wider than the access, a negative length, an impossible RAM configuration). A
 * `RangeError`, so existing `catch` clauses still match. Nothing is changed by the call.
 */
export class ArgumentRangeError extends RangeError {
  override readonly name = "ArgumentRangeError";
}

/**
 * Raised by the `number` 64-bit loads when the stored value is 2^53 or more and cannot be
 * returned exactly: read such words with `load64Big`. Software that follows a pointer it
 * loaded from memory catches this to model what a real CPU does with a wild pointer.
 */
export class UnsafeIntegerError extends RangeError {
  override readonly name = "UnsafeIntegerError";
  /** The address of the 64-bit word. */
  readonly address: number;
  /** The stored value, exactly. */
  readonly value: bigint;

  /** Creates the error for the 64-bit `value` found at `address`. */
  constructor(address: number, value: bigint) {
    super(`hardware: the 64-bit value ${hex(value)} at ${hex(address)} is above 2^53-1; read it with load64Big`);
    this.address = address;
    this.value = value;
  }
}
