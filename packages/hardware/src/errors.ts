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
