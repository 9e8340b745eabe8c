import {
  DEFAULT_FRAME_SIZE,
  DEFAULT_RAM_SIZE,
  MAX_RAM_SIZE,
  type Memory,
  type MemoryCounters,
  type PhysicalMemoryOptions,
} from "./api.js";
import { AlignmentError, BusError, hex } from "./errors.js";

/** Frames per directory chunk: the backing store is a two-level table of frames. */
const CHUNK_BITS = 10;
const CHUNK_FRAMES = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_FRAMES - 1;
const TWO_32 = 2 ** 32;
/** Highest 32-bit half of a 64-bit value that still fits in a safe integer. */
const MAX_SAFE_HIGH = 0x1fffff;

type Chunk = (DataView | undefined)[];

/**
 * Physical RAM: a physical address space of `size` bytes divided into frames.
 *
 * Backing storage is lazy. The address space is a two-level directory
 * (`directory[frame >> 10][frame & 1023]`), and a frame gets its own `ArrayBuffer` of
 * `frameSize` bytes only when it is first written; a frame never written reads as zeros
 * and costs nothing. A frame that is filled entirely with zeros gives its backing back.
 *
 * ```
 *   physical address ──► frame = address / frameSize, offset = address % frameSize
 *   directory ─► chunk (1024 slots) ─► DataView over one frame's ArrayBuffer | undefined (= zeros)
 * ```
 *
 * The hot path (an aligned access inside one frame) is a range check, a cached or
 * two-level frame lookup and one `DataView` call. Accesses that straddle two frames take a
 * byte-wise slow path with the same semantics.
 */
export class PhysicalMemory implements Memory {
  /** Installed RAM in bytes. */
  readonly size: number;
  /** Bytes per frame (a power of two). */
  readonly frameSize: number;
  /** Number of frames of installed RAM. */
  readonly frameCount: number;
  /** Whether misaligned accesses raise {@link AlignmentError}. */
  readonly checkAlignment: boolean;

  private readonly inverseFrameSize: number;
  private readonly directory: (Chunk | undefined)[] = [];
  private readonly zeroFrame: DataView;
  private lastFrame = -1;
  private lastView: DataView;

  private loadCount = 0;
  private storeCount = 0;
  private movedBytes = 0;
  private materialised = 0;

  /** Creates RAM of `options.size` bytes (default 1 GiB) in frames of `options.frameSize` (default 4 KiB). */
  constructor(options: PhysicalMemoryOptions = {}) {
    const frameSize = options.frameSize ?? DEFAULT_FRAME_SIZE;
    const size = options.size ?? DEFAULT_RAM_SIZE;
    if (!Number.isInteger(frameSize) || frameSize < 256 || frameSize > 1 << 20 || (frameSize & (frameSize - 1)) !== 0) {
      throw new RangeError(`hardware: frameSize must be a power of two between 256 and 1048576, got ${String(frameSize)}`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_RAM_SIZE || size % frameSize !== 0) {
      throw new RangeError(
        `hardware: size must be a positive multiple of the frame size (${frameSize}) up to 2^52 bytes, got ${String(size)}`,
      );
    }
    if (size / frameSize > 2 ** 31) {
      throw new RangeError(`hardware: at most 2^31 frames are supported, ${size / frameSize} asked for`);
    }
    this.size = size;
    this.frameSize = frameSize;
    this.frameCount = size / frameSize;
    this.checkAlignment = options.checkAlignment ?? false;
    this.inverseFrameSize = 1 / frameSize;
    this.zeroFrame = new DataView(new ArrayBuffer(frameSize));
    this.lastView = this.zeroFrame;
  }

  /** A snapshot of the traffic and backing-storage counters. */
  get counters(): MemoryCounters {
    return {
      loads: this.loadCount,
      stores: this.storeCount,
      bytesMoved: this.movedBytes,
      framesMaterialised: this.materialised,
      hostBytes: this.materialised * this.frameSize,
    };
  }

  /** Resets the load, store and byte counters (the backing-storage counters stay true). */
  resetCounters(): void {
    this.loadCount = 0;
    this.storeCount = 0;
    this.movedBytes = 0;
  }

  /** Whether the frame holding `address` has backing storage. */
  isMaterialised(address: number): boolean {
    this.checkRange(address, 1, "load");
    return this.backing(Math.floor(address * this.inverseFrameSize)) !== undefined;
  }

  // ---- loads -------------------------------------------------------------------------

  /** {@inheritDoc Memory.load8} */
  load8(address: number): number {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (address >= 0 && address < this.size && (offset | 0) === offset) {
      this.loadCount++;
      this.movedBytes += 1;
      return this.readView(frame).getUint8(offset);
    }
    return this.slowLoad(address, 1);
  }

  /** {@inheritDoc Memory.load16} */
  load16(address: number): number {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (address >= 0 && address <= this.size - 2 && (offset | 0) === offset && offset <= this.frameSize - 2) {
      if (this.checkAlignment && (offset & 1) !== 0) throw new AlignmentError(address, 2);
      this.loadCount++;
      this.movedBytes += 2;
      return this.readView(frame).getUint16(offset, true);
    }
    return this.slowLoad(address, 2);
  }

  /** {@inheritDoc Memory.load32} */
  load32(address: number): number {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (address >= 0 && address <= this.size - 4 && (offset | 0) === offset && offset <= this.frameSize - 4) {
      if (this.checkAlignment && (offset & 3) !== 0) throw new AlignmentError(address, 4);
      this.loadCount++;
      this.movedBytes += 4;
      return this.readView(frame).getUint32(offset, true);
    }
    return this.slowLoad(address, 4);
  }

  /** {@inheritDoc Memory.load64} */
  load64(address: number): number {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (address >= 0 && address <= this.size - 8 && (offset | 0) === offset && offset <= this.frameSize - 8) {
      if (this.checkAlignment && (offset & 7) !== 0) throw new AlignmentError(address, 8);
      const view = this.readView(frame);
      const high = view.getUint32(offset + 4, true);
      if (high > MAX_SAFE_HIGH) throw unsafe64(address, high, view.getUint32(offset, true));
      this.loadCount++;
      this.movedBytes += 8;
      return high * TWO_32 + view.getUint32(offset, true);
    }
    return this.slowLoad(address, 8);
  }

  /** {@inheritDoc Memory.load64Big} */
  load64Big(address: number): bigint {
    this.checkAccess(address, 8, "load");
    const bytes = this.read(address, 8);
    return new DataView(bytes.buffer).getBigUint64(0, true);
  }

  // ---- stores ------------------------------------------------------------------------

  /** {@inheritDoc Memory.store8} */
  store8(address: number, value: number): void {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (address >= 0 && address < this.size && (offset | 0) === offset && (value & 0xff) === value) {
      this.storeCount++;
      this.movedBytes += 1;
      this.writeView(frame).setUint8(offset, value);
      return;
    }
    this.slowStore(address, 1, value);
  }

  /** {@inheritDoc Memory.store16} */
  store16(address: number, value: number): void {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (
      address >= 0 &&
      address <= this.size - 2 &&
      (offset | 0) === offset &&
      offset <= this.frameSize - 2 &&
      (value & 0xffff) === value
    ) {
      if (this.checkAlignment && (offset & 1) !== 0) throw new AlignmentError(address, 2);
      this.storeCount++;
      this.movedBytes += 2;
      this.writeView(frame).setUint16(offset, value, true);
      return;
    }
    this.slowStore(address, 2, value);
  }

  /** {@inheritDoc Memory.store32} */
  store32(address: number, value: number): void {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (
      address >= 0 &&
      address <= this.size - 4 &&
      (offset | 0) === offset &&
      offset <= this.frameSize - 4 &&
      value >>> 0 === value
    ) {
      if (this.checkAlignment && (offset & 3) !== 0) throw new AlignmentError(address, 4);
      this.storeCount++;
      this.movedBytes += 4;
      this.writeView(frame).setUint32(offset, value, true);
      return;
    }
    this.slowStore(address, 4, value);
  }

  /** {@inheritDoc Memory.store64} */
  store64(address: number, value: number): void {
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (
      address >= 0 &&
      address <= this.size - 8 &&
      (offset | 0) === offset &&
      offset <= this.frameSize - 8 &&
      value >= 0 &&
      value <= Number.MAX_SAFE_INTEGER &&
      Math.floor(value) === value
    ) {
      if (this.checkAlignment && (offset & 7) !== 0) throw new AlignmentError(address, 8);
      this.storeCount++;
      this.movedBytes += 8;
      const view = this.writeView(frame);
      const low = value >>> 0;
      view.setUint32(offset, low, true);
      view.setUint32(offset + 4, (value - low) / TWO_32, true);
      return;
    }
    this.slowStore(address, 8, value);
  }

  /** {@inheritDoc Memory.store64Big} */
  store64Big(address: number, value: bigint): void {
    if (typeof value !== "bigint" || value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new RangeError(`hardware: store64Big value must be a bigint in 0..2^64-1, got ${String(value)}`);
    }
    this.checkAccess(address, 8, "store");
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, value, true);
    this.write(address, bytes);
  }

  // ---- ranges ------------------------------------------------------------------------

  /** {@inheritDoc Memory.read} */
  read(address: number, length: number): Uint8Array {
    checkLength(length);
    const out = new Uint8Array(length);
    this.readInto(address, out);
    return out;
  }

  /** {@inheritDoc Memory.readInto} */
  readInto(address: number, target: Uint8Array): void {
    const length = target.length;
    this.checkRange(address, length, "load");
    this.loadCount++;
    this.movedBytes += length;
    let done = 0;
    while (done < length) {
      const here = address + done;
      const frame = Math.floor(here * this.inverseFrameSize);
      const offset = here - frame * this.frameSize;
      const n = Math.min(this.frameSize - offset, length - done);
      const view = this.backing(frame);
      if (view === undefined) target.fill(0, done, done + n);
      else target.set(new Uint8Array(view.buffer, offset, n), done);
      done += n;
    }
  }

  /** {@inheritDoc Memory.write} */
  write(address: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("hardware: write expects a Uint8Array");
    const length = bytes.length;
    this.checkRange(address, length, "store");
    this.storeCount++;
    this.movedBytes += length;
    let done = 0;
    while (done < length) {
      const here = address + done;
      const frame = Math.floor(here * this.inverseFrameSize);
      const offset = here - frame * this.frameSize;
      const n = Math.min(this.frameSize - offset, length - done);
      new Uint8Array(this.writeView(frame).buffer, offset, n).set(bytes.subarray(done, done + n));
      done += n;
    }
  }

  /**
   * {@inheritDoc Memory.fill}
   *
   * Filling a whole frame with zero releases its backing storage (it reads as zeros anyway).
   */
  fill(address: number, length: number, byte: number): void {
    checkLength(length);
    if ((byte & 0xff) !== byte) throw new RangeError(`hardware: fill byte must be 0..255, got ${String(byte)}`);
    this.checkRange(address, length, "store");
    this.storeCount++;
    this.movedBytes += length;
    let done = 0;
    while (done < length) {
      const here = address + done;
      const frame = Math.floor(here * this.inverseFrameSize);
      const offset = here - frame * this.frameSize;
      const n = Math.min(this.frameSize - offset, length - done);
      if (byte === 0 && n === this.frameSize) this.release(frame);
      else if (byte !== 0 || this.backing(frame) !== undefined) {
        new Uint8Array(this.writeView(frame).buffer, offset, n).fill(byte);
      }
      done += n;
    }
  }

  /** {@inheritDoc Memory.copy} */
  copy(destination: number, source: number, length: number): void {
    checkLength(length);
    this.checkRange(source, length, "load");
    this.checkRange(destination, length, "store");
    const temp = this.read(source, length);
    this.write(destination, temp);
    // read and write each counted one operation; a copy is one load and one store.
  }

  // ---- internals ---------------------------------------------------------------------

  private backing(frame: number): DataView | undefined {
    return this.directory[frame >>> CHUNK_BITS]?.[frame & CHUNK_MASK];
  }

  private readView(frame: number): DataView {
    if (frame === this.lastFrame) return this.lastView;
    const view = this.directory[frame >>> CHUNK_BITS]?.[frame & CHUNK_MASK];
    if (view === undefined) return this.zeroFrame;
    this.lastFrame = frame;
    this.lastView = view;
    return view;
  }

  private writeView(frame: number): DataView {
    if (frame === this.lastFrame) return this.lastView;
    const index = frame >>> CHUNK_BITS;
    let chunk = this.directory[index];
    if (chunk === undefined) {
      chunk = new Array<DataView | undefined>(CHUNK_FRAMES).fill(undefined);
      this.directory[index] = chunk;
    }
    let view = chunk[frame & CHUNK_MASK];
    if (view === undefined) {
      view = new DataView(new ArrayBuffer(this.frameSize));
      chunk[frame & CHUNK_MASK] = view;
      this.materialised++;
    }
    this.lastFrame = frame;
    this.lastView = view;
    return view;
  }

  private release(frame: number): void {
    const chunk = this.directory[frame >>> CHUNK_BITS];
    if (chunk?.[frame & CHUNK_MASK] === undefined) return;
    chunk[frame & CHUNK_MASK] = undefined;
    this.materialised--;
    if (this.lastFrame === frame) {
      this.lastFrame = -1;
      this.lastView = this.zeroFrame;
    }
  }

  private checkAccess(address: number, width: number, access: "load" | "store"): void {
    this.checkRange(address, width, access);
    if (this.checkAlignment && address % width !== 0) throw new AlignmentError(address, width);
  }

  private checkRange(address: number, length: number, access: "load" | "store"): void {
    if (typeof address !== "number" || !Number.isInteger(address)) {
      throw new TypeError(`hardware: address must be an integer, got ${String(address)}`);
    }
    if (address < 0 || address + length > this.size) throw new BusError(address, length, access, this.size);
  }

  /** Loads that are not a single in-frame access of a valid integer address. */
  private slowLoad(address: number, width: number): number {
    this.checkAccess(address, width, "load");
    let value = 0;
    for (let i = width - 1; i >= 0; i--) {
      const here = address + i;
      const frame = Math.floor(here * this.inverseFrameSize);
      value = value * 256 + this.readView(frame).getUint8(here - frame * this.frameSize);
    }
    if (value > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(
        `hardware: the 64-bit value at ${hex(address)} is above 2^53-1; read it with load64Big`,
      );
    }
    this.loadCount++;
    this.movedBytes += width;
    return value;
  }

  /** Stores that are not a single in-frame access of a valid address and value. */
  private slowStore(address: number, width: number, value: number): void {
    const max = width === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * width) - 1;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`hardware: store${8 * width} value must be an integer in 0..${max}, got ${String(value)}`);
    }
    this.checkAccess(address, width, "store");
    let rest = value;
    for (let i = 0; i < width; i++) {
      const here = address + i;
      const frame = Math.floor(here * this.inverseFrameSize);
      const byte = rest % 256;
      this.writeView(frame).setUint8(here - frame * this.frameSize, byte);
      rest = (rest - byte) / 256;
    }
    this.storeCount++;
    this.movedBytes += width;
  }
}

function unsafe64(address: number, high: number, low: number): RangeError {
  const big = (BigInt(high) << 32n) | BigInt(low);
  return new RangeError(
    `hardware: the 64-bit value ${hex(big)} at ${hex(address)} is above 2^53-1; read it with load64Big`,
  );
}

function checkLength(length: number): void {
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`hardware: length must be a non-negative integer, got ${String(length)}`);
  }
}
