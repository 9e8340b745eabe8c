/**
 * Raised for a key or value a {@link PointerMap} cannot hold (NULL, a non-integer, a
 * BigInt or string, the reserved value -1). A `RangeError`, so existing `catch` clauses
 * still match. The map is unchanged.
 */
export class PointerMapError extends RangeError {
  override readonly name = "PointerMapError";
}

/** Describes a rejected argument by type and value. */
function describe(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "bigint") return `bigint ${value.toString()}`;
  return typeof value === "number" || typeof value === "boolean" || value == null ? String(value) : typeof value;
}

function notANumber(value: unknown): PointerMapError {
  return new PointerMapError(`memtrace: a PointerMap key must be a number, got ${describe(value)}`);
}

/** Scratch space for {@link PointerMap}'s hash: a double and its two 32-bit words. */
const KEY_BITS = new Float64Array(1);
const KEY_WORDS = new Uint32Array(KEY_BITS.buffer);

/**
 * A hash map from a recorded pointer to a number (typically the pointer the replaying
 * allocator returned for it): what every replayer needs, and much faster than a `Map`
 * for addresses above 2^31, which are not small integers to the engine. Open
 * addressing with linear probing over two Float64Arrays; deletion by backward shift,
 * so that no tombstones slow the probes down. Key 0 (NULL) cannot be stored.
 *
 * ```
 * keys:   [ 0 | 0x7f..030 | 0 | 0x55..2a0 | ... ]   capacity slots, a power of two
 * values: [ - | 0x10030   | - | 0x202a0   | ... ]
 * ```
 */
export class PointerMap {
  private keys: Float64Array;
  private values: Float64Array;
  private mask: number;
  private shift: number;
  private count = 0;
  /**
   * A third column, an extra number per entry (created by the first {@link setWithExtra}):
   * a replayer keeps the requested size beside the simulated pointer, at no second probe.
   */
  private extras: Float64Array | undefined;
  /** The extra number of the entry the last {@link setWithExtra} replaced (0 when it added one). */
  previousExtra = 0;

  /** Creates an empty map with room for about `capacity * 3/4` entries before it grows. */
  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.keys = new Float64Array(cap);
    this.values = new Float64Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  /** The number of entries. */
  get size(): number {
    return this.count;
  }

  private slot(key: number): number {
    // Hash the key's IEEE-754 bits, read through a typed-array alias: equal numbers have equal
    // bits, and no float-to-integer conversion of a value above 2^31 is needed (those are slow).
    // The top bits of the multiplicative mix depend on every bit of both words.
    KEY_BITS[0] = key;
    return Math.imul(KEY_WORDS[0]! ^ Math.imul(KEY_WORDS[1]!, 0x27d4eb2d), 0x9e3779b1) >>> this.shift;
  }

  /**
   * The value stored for `key`, or -1 if there is none (always -1 for 0, NULL, which is
   * never stored).
   * @throws {@link PointerMapError} when `key` is not a number.
   */
  get(key: number): number {
    if (typeof key !== "number") throw notANumber(key);
    const keys = this.keys;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i]!;
      // The empty-slot test first: an empty slot holds 0, which must not match key 0.
      if (k === 0) return -1;
      if (k === key) return this.values[i]!;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Whether `key` is stored.
   * @throws {@link PointerMapError} when `key` is not a number.
   */
  has(key: number): boolean {
    return this.get(key) !== -1;
  }

  /**
   * Stores `value` for `key` (a pointer: an integer in 1..2^53-1), replacing any previous value,
   * and returns the previous value or -1 if there was none. Store any number but -1, which
   * {@link get} uses for "absent" (and NaN).
   * @throws {@link PointerMapError} for another key or value; the map is then unchanged.
   */
  set(key: number, value: number): number {
    if (typeof key !== "number") throw notANumber(key);
    if (key === 0) throw new PointerMapError("memtrace: PointerMap cannot store the NULL pointer");
    if (!(key > 0 && key <= Number.MAX_SAFE_INTEGER && Math.floor(key) === key)) {
      throw new PointerMapError(`memtrace: a PointerMap key must be a pointer, an integer in 1..2^53-1, got ${String(key)}`);
    }
    if (typeof value !== "number" || value === -1 || Number.isNaN(value)) {
      throw new PointerMapError(`memtrace: a PointerMap value may be any number but -1 and NaN, got ${describe(value)}`);
    }
    if ((this.count + 1) * 4 > this.keys.length * 3) this.grow();
    const keys = this.keys;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        const previous = this.values[i]!;
        this.values[i] = value;
        return previous;
      }
      if (k === 0) {
        keys[i] = key;
        this.count++;
        this.values[i] = value;
        return -1;
      }
      i = (i + 1) & this.mask;
    }
  }

  /**
   * {@link set} with an extra number kept beside the value (see {@link extraOf}); the replaced
   * entry's extra is left in {@link previousExtra}. One probe for both.
   * @throws {@link PointerMapError} as {@link set} does; also for an extra that is not a finite number.
   */
  setWithExtra(key: number, value: number, extra: number): number {
    if (typeof extra !== "number" || !Number.isFinite(extra)) throw new PointerMapError(`memtrace: a PointerMap extra must be a finite number, got ${describe(extra)}`);
    if (
      typeof key !== "number" ||
      !(key > 0 && key <= Number.MAX_SAFE_INTEGER && Math.floor(key) === key) ||
      typeof value !== "number" ||
      value === -1 ||
      Number.isNaN(value)
    ) {
      return this.set(key, value); // throws the error set gives
    }
    if (this.extras === undefined) this.extras = new Float64Array(this.keys.length);
    if ((this.count + 1) * 4 > this.keys.length * 3) this.grow();
    // one probe for the value and the extra
    const keys = this.keys;
    const extras = this.extras;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        const previous = this.values[i]!;
        this.values[i] = value;
        this.previousExtra = extras[i]!;
        extras[i] = extra;
        return previous;
      }
      if (k === 0) {
        keys[i] = key;
        this.count++;
        this.values[i] = value;
        this.previousExtra = 0;
        extras[i] = extra;
        return -1;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** The extra number stored with `key` by {@link setWithExtra} (0 when absent or never given). */
  extraOf(key: number): number {
    const extras = this.extras;
    if (extras === undefined || typeof key !== "number") return 0;
    const keys = this.keys;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i]!;
      if (k === 0) return 0;
      if (k === key) return extras[i]!;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Removes `key` and returns its value, or -1 if it was not stored.
   * @throws {@link PointerMapError} when `key` is not a number.
   */
  delete(key: number): number {
    if (typeof key !== "number") throw notANumber(key);
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i]!;
      if (k === 0) return -1;
      if (k === key) break;
      i = (i + 1) & mask;
    }
    const value = values[i]!;
    // backward shift: move later entries of the probe run into the hole when allowed
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const kj = keys[j]!;
      if (kj === 0) break;
      const home = this.slot(kj);
      const movable = i <= j ? home <= i || home > j : home <= i && home > j;
      if (movable) {
        keys[i] = kj;
        values[i] = values[j]!;
        if (this.extras !== undefined) this.extras[i] = this.extras[j]!;
        i = j;
      }
    }
    keys[i] = 0;
    if (this.extras !== undefined) this.extras[i] = 0;
    this.count--;
    return value;
  }

  /** Removes every entry. */
  clear(): void {
    this.keys.fill(0);
    this.extras?.fill(0);
    this.count = 0;
  }

  /** Calls `fn` for every entry, in no particular order (`extra`: see {@link setWithExtra}, else 0). */
  forEach(fn: (value: number, key: number, extra: number) => void): void {
    const keys = this.keys;
    const extras = this.extras;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) fn(this.values[i]!, keys[i]!, extras === undefined ? 0 : extras[i]!);
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const oldExtras = this.extras;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.values = new Float64Array(oldKeys.length * 2);
    this.extras = oldExtras === undefined ? undefined : new Float64Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    this.shift--;
    this.count = 0;
    // rehash: every key is distinct, so each goes to the first empty slot of its probe run
    const keys = this.keys;
    const values = this.values;
    const extras = this.extras;
    for (let i = 0; i < oldKeys.length; i++) {
      const key = oldKeys[i]!;
      if (key === 0) continue;
      let j = this.slot(key);
      while (keys[j] !== 0) j = (j + 1) & this.mask;
      keys[j] = key;
      values[j] = oldValues[i]!;
      if (extras !== undefined) extras[j] = oldExtras![i]!;
      this.count++;
    }
  }
}
