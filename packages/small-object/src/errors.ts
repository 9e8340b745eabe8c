/**
 * Typed errors of the small-object tier. Every message names the tier, the address or
 * size involved and the rule that was broken; a call that throws leaves pymalloc's state
 * as it was.
 */

/** Formats an address the way the whole stack prints them: lowercase hex with `0x`. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** `hex` for an address, the value as written for anything else (1.5, -16, NaN). */
function shown(value: number): string {
  return Number.isSafeInteger(value) && value >= 0 ? hex(value) : String(value);
}

/** A bad call into pymalloc (an invalid free, an impossible size). State is unchanged. */
export class PymallocError extends Error {
  override readonly name = "PymallocError";
  /** The operation that was refused: `malloc`, `calloc`, `realloc`, `free` or `poolHeader`. */
  readonly operation: string;
  /** The pointer involved (0 when none). */
  readonly address: number;
  /** The size involved (0 when none). */
  readonly size: number;
  /** A short name of the rule that was broken, e.g. `double-free`. */
  readonly rule: string;

  /** Creates the error; `detail` explains the rule in words. */
  constructor(operation: string, address: number, size: number, rule: string, detail: string) {
    const args = operation === "free" || operation === "poolHeader" || operation === "expectArena" ? shown(address) : address !== 0 ? `${shown(address)}, ${size}` : String(size);
    super(`small-object: ${operation}(${args}): ${rule}: ${detail}`);
    this.operation = operation;
    this.address = address;
    this.size = size;
    this.rule = rule;
  }
}

/** Parameters that obmalloc.c would refuse to compile with (its `#error` checks). */
export class PymallocConfigError extends Error {
  override readonly name = "PymallocConfigError";
  /** The name of the parameter set. */
  readonly params: string;

  /** Creates the error for parameter set `params` breaking `rule`. */
  constructor(params: string, rule: string) {
    super(`small-object: invalid parameters "${params}": ${rule}`);
    this.params = params;
  }
}

/** Raised by `Pymalloc.check()`: the first structural invariant found broken. */
export class PymallocInvariantError extends Error {
  override readonly name = "PymallocInvariantError";
  /** The invariant's short name, e.g. `usable-arenas-sorted`. */
  readonly invariant: string;
  /** The address of the arena object, pool or block where it broke. */
  readonly address: number;

  /** Creates the error for `invariant` broken at `address`. */
  constructor(invariant: string, address: number, detail: string) {
    super(`small-object: invariant ${invariant} broken at ${hex(address)}: ${detail}`);
    this.invariant = invariant;
    this.address = address;
  }
}
