/**
 * The `Memory` interface: the common currency of the whole @mem stack.
 *
 * Physical RAM implements it at physical addresses; a process of `@mem/os-vm` implements it
 * at virtual addresses. Every multi-byte value is little-endian, as on x86-64.
 */
export interface Memory {
  /** Number of addressable bytes: valid addresses are `0 .. size - 1`. */
  readonly size: number;

  /** Reads the unsigned byte at `address`. */
  load8(address: number): number;
  /** Reads the little-endian unsigned 16-bit value at `address`. */
  load16(address: number): number;
  /** Reads the little-endian unsigned 32-bit value at `address`. */
  load32(address: number): number;
  /**
   * Reads the little-endian unsigned 64-bit value at `address` as a number.
   * @throws UnsafeIntegerError (a RangeError) when the stored value is above `Number.MAX_SAFE_INTEGER` (use {@link Memory.load64Big}).
   */
  load64(address: number): number;
  /** Reads the little-endian unsigned 64-bit value at `address` as a bigint. */
  load64Big(address: number): bigint;

  /** Writes the byte `value` (0..255) at `address`. */
  store8(address: number, value: number): void;
  /** Writes `value` (0..65535) little-endian at `address`. */
  store16(address: number, value: number): void;
  /** Writes `value` (0..2^32-1) little-endian at `address`. */
  store32(address: number, value: number): void;
  /** Writes `value` (0..2^53-1) little-endian as 64 bits at `address`. */
  store64(address: number, value: number): void;
  /** Writes `value` (0..2^64-1) little-endian as 64 bits at `address`. */
  store64Big(address: number, value: bigint): void;

  /** Copies `length` bytes starting at `address` out into a new array. */
  read(address: number, length: number): Uint8Array;
  /** Copies `target.length` bytes starting at `address` into `target`. */
  readInto(address: number, target: Uint8Array): void;
  /** Copies `bytes` into memory starting at `address`. */
  write(address: number, bytes: Uint8Array): void;
  /** Sets `length` bytes starting at `address` to `byte` (memset). */
  fill(address: number, length: number, byte: number): void;
  /** Copies `length` bytes from `source` to `destination`; the ranges may overlap (memmove). */
  copy(destination: number, source: number, length: number): void;
}

/** Options of {@link PhysicalMemory}. */
export interface PhysicalMemoryOptions {
  /**
   * Installed RAM in bytes: a multiple of the frame size, at most 2^52.
   * @defaultValue 1 GiB
   */
  size?: number;
  /**
   * Frame size in bytes: a power of two between 256 and 1 MiB. Backing storage is
   * allocated one frame at a time, when a frame is first written.
   * @defaultValue 4096
   */
  frameSize?: number;
  /**
   * When true, an access whose address is not a multiple of its width raises an
   * {@link AlignmentError} (like x86's AC flag). When false, misaligned accesses work as on x86.
   * @defaultValue false
   */
  checkAlignment?: boolean;
}

/** Counters of a {@link PhysicalMemory}, for users who want to see the traffic. */
export interface MemoryCounters {
  /** Load operations (every `load*`, `read` and `readInto` counts one; `copy` counts one). */
  loads: number;
  /** Store operations (every `store*`, `write` and `fill` counts one; `copy` counts one). */
  stores: number;
  /** Bytes moved by loads and stores together. */
  bytesMoved: number;
  /** Frames that have backing storage (were written at least once). */
  framesMaterialised: number;
  /** Host bytes held as backing storage: `framesMaterialised * frameSize`. */
  hostBytes: number;
}

/**
 * Live load and store counters of a {@link PhysicalMemory}. A translator that reads and
 * writes frames directly through {@link PhysicalMemory.frameView} adds its own accesses
 * here, so the counters stay true whichever path an access took.
 */
export interface MemoryTraffic {
  /** Load operations. */
  loads: number;
  /** Store operations. */
  stores: number;
  /** Bytes moved by loads and stores together. */
  bytesMoved: number;
}

/** 4 KiB: the x86-64 base page and the default frame size. */
export const DEFAULT_FRAME_SIZE = 4096;
/** 1 GiB: the default installed RAM. */
export const DEFAULT_RAM_SIZE = 1024 * 1024 * 1024;
/** 2^52: the largest RAM this tier models (x86-64's architectural physical address limit). */
export const MAX_RAM_SIZE = 2 ** 52;
