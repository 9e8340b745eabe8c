import {
  DEFAULT_FRAME_SIZE,
  DEFAULT_RAM_SIZE,
  MAX_RAM_SIZE,
  type Memory,
  type MemoryCounters,
  type MemoryTraffic,
  type PhysicalMemoryOptions,
} from "./api.js";
import type { CpuCache } from "./cache.js";
import {
  AlignmentError,
  ArgumentRangeError,
  BusError,
  InvalidArgumentError,
  UnsafeIntegerError,
  describeArgument,
} from "./errors.js";

/** Bytes of one backing chunk: host storage is reserved 4 MiB at a time (see the class comment). */
const CHUNK_BYTES = 4 * 1024 * 1024;
const INVERSE_CHUNK_BYTES = 1 / CHUNK_BYTES;
const TWO_32 = 2 ** 32;
/** Highest 32-bit half of a 64-bit value that still fits in a safe integer. */
const MAX_SAFE_HIGH = 0x1fffff;

/** Backing storage of `framesPerChunk` consecutive frames, with a mark per frame that holds data. */
interface Chunk {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  /** 1 for each frame of the chunk that has been written and not zeroed since. */
  readonly marks: Uint8Array;
  /** Number of marked frames. */
  live: number;
  /** Views of single frames handed out by `frameView`, made on first request. */
  readonly frameViews: (DataView | undefined)[];
}

/**
 * Physical RAM: a physical address space of `size` bytes divided into frames.
 *
 * Backing storage is lazy. RAM is cut into 4 MiB chunks; a chunk gets an `ArrayBuffer`
 * only when one of its frames is first written, and a frame never written reads as zeros.
 * Hosts allocate such large zeroed buffers from fresh anonymous memory (calloc/mmap in V8
 * on Linux), so host RAM is committed page by page as frames are written: a simulated
 * 64 GiB machine costs what was written, rounded to host pages, plus 4 MiB of address
 * space per touched chunk. The counters report frames written (`framesMaterialised`) and
 * their bytes. A frame filled entirely with zeros is unmarked; a chunk whose frames are
 * all unmarked gives its buffer back.
 *
 * ```
 *   physical address ──► frame = address / frameSize ──► chunk = frame / framesPerChunk
 *   directory[chunk] ─► { view: DataView over 4 MiB, marks: 1 byte per frame } | undefined (= zeros)
 * ```
 *
 * The hot path is one subtraction against the frame used last, two comparisons and one
 * `DataView` call; a different frame costs one directory lookup. Accesses that straddle
 * two frames take a byte-wise path with the same semantics.
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
  private readonly framesPerChunk: number;
  private readonly directory: (Chunk | undefined)[] = [];
  private readonly zeroFrame: DataView;
  /** Offset of the frame last selected inside its chunk's view (0 for the zero frame). */
  private lastDelta = 0;
  private readonly frameShift: number;
  /** `size - 2`, `size - 4`, `size - 8`: the last valid addresses of 2-, 4- and 8-byte accesses. */
  private readonly limit2: number;
  private readonly limit4: number;
  private readonly limit8: number;
  private readonly frameMask: number;

  /**
   * The load, store and byte counters, live. Translators that access frames through
   * {@link frameView} add their own accesses here (see there).
   */
  readonly traffic: MemoryTraffic = { loads: 0, stores: 0, bytesMoved: 0 };

  private cache: CpuCache | null = null;
  private materialised = 0;
  private generation = 0;

  /** Creates RAM of `options.size` bytes (default 1 GiB) in frames of `options.frameSize` (default 4 KiB). */
  constructor(options: PhysicalMemoryOptions = {}) {
    const frameSize = options.frameSize ?? DEFAULT_FRAME_SIZE;
    const size = options.size ?? DEFAULT_RAM_SIZE;
    if (!Number.isInteger(frameSize) || frameSize < 256 || frameSize > 1 << 20 || (frameSize & (frameSize - 1)) !== 0) {
      throw new ArgumentRangeError(`hardware: frameSize must be a power of two between 256 and 1048576, got ${String(frameSize)}`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_RAM_SIZE || size % frameSize !== 0) {
      throw new ArgumentRangeError(
        `hardware: size must be a positive multiple of the frame size (${frameSize}) up to 2^52 bytes, got ${String(size)}`,
      );
    }
    if (size / frameSize > 2 ** 31) {
      throw new ArgumentRangeError(`hardware: at most 2^31 frames are supported, ${size / frameSize} asked for`);
    }
    this.size = size;
    this.frameSize = frameSize;
    this.frameCount = size / frameSize;
    this.checkAlignment = options.checkAlignment ?? false;
    this.inverseFrameSize = 1 / frameSize;
    this.framesPerChunk = CHUNK_BYTES / frameSize;
    this.frameShift = Math.log2(frameSize);
    this.limit2 = size - 2;
    this.limit4 = size - 4;
    this.limit8 = size - 8;
    this.frameMask = frameSize - 1;
    const chunks = Math.ceil(size / CHUNK_BYTES);
    if (chunks <= 1 << 16) this.directory = new Array<Chunk | undefined>(chunks).fill(undefined);
    this.zeroFrame = new DataView(new ArrayBuffer(frameSize));
  }

  /** A snapshot of the traffic and backing-storage counters. */
  get counters(): MemoryCounters {
    return {
      loads: this.traffic.loads,
      stores: this.traffic.stores,
      bytesMoved: this.traffic.bytesMoved,
      framesMaterialised: this.materialised,
      hostBytes: this.materialised * this.frameSize,
    };
  }

  /** Attaches a CPU cache model: from now on every access is counted as a hit or miss per level. */
  attachCache(cache: CpuCache): void {
    this.cache = cache;
    this.generation++;
  }

  /** Detaches the CPU cache model, if any, and returns it. */
  detachCache(): CpuCache | null {
    const cache = this.cache;
    this.cache = null;
    this.generation++;
    return cache;
  }

  /** Resets the load, store and byte counters (the backing-storage counters stay true). */
  resetCounters(): void {
    this.traffic.loads = 0;
    this.traffic.stores = 0;
    this.traffic.bytesMoved = 0;
  }

  /** Whether the frame holding `address` has backing storage. */
  isMaterialised(address: number): boolean {
    this.checkRange(address, 1, "load");
    return this.isMarked(Math.floor(address * this.inverseFrameSize));
  }

  // ---- loads -------------------------------------------------------------------------
  //
  // Fast path: an in-range access inside one 4 MiB chunk is one directory lookup and one
  // DataView call. (`(address * 2^-22) | 0` is exact for every address below 2^52; an
  // address out of range fails the range test before the index matters.) The DataView is
  // indexed with `offset | 0`: the tests proved it an int32, and an int32 index keeps the
  // engine's DataView access inline. An unbacked chunk reads as zeros, and so do the
  // unwritten frames of a backed chunk (their bytes are kept zero). NaN and fractional
  // addresses fail `(offset | 0) === offset` and take the checked slow path.

  /** {@inheritDoc Memory.load8} */
  load8(address: number): number {
    if (typeof address !== "number") return this.loadSlow(address, 1);
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    if (address >= 0 && address < this.size && (offset | 0) === offset) {
      this.traffic.loads++;
      this.traffic.bytesMoved += 1;
      if (this.cache !== null) this.cache.access(address, 1);
      const chunk = this.directory[index];
      return chunk === undefined ? 0 : chunk.view.getUint8(offset | 0);
    }
    return this.loadSlow(address, 1);
  }

  /** {@inheritDoc Memory.load16} */
  load16(address: number): number {
    if (typeof address !== "number") return this.loadSlow(address, 2);
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    if (
      address >= 0 &&
      address <= this.limit2 &&
      (offset | 0) === offset &&
      offset <= CHUNK_BYTES - 2 &&
      !(this.checkAlignment && (offset & 1) !== 0)
    ) {
      this.traffic.loads++;
      this.traffic.bytesMoved += 2;
      if (this.cache !== null) this.cache.access(address, 2);
      const chunk = this.directory[index];
      return chunk === undefined ? 0 : chunk.view.getUint16(offset | 0, true);
    }
    return this.loadSlow(address, 2);
  }

  /** {@inheritDoc Memory.load32} */
  load32(address: number): number {
    if (typeof address !== "number") return this.loadSlow(address, 4);
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    if (
      address >= 0 &&
      address <= this.limit4 &&
      (offset | 0) === offset &&
      offset <= CHUNK_BYTES - 4 &&
      !(this.checkAlignment && (offset & 3) !== 0)
    ) {
      this.traffic.loads++;
      this.traffic.bytesMoved += 4;
      if (this.cache !== null) this.cache.access(address, 4);
      const chunk = this.directory[index];
      return chunk === undefined ? 0 : chunk.view.getUint32(offset | 0, true);
    }
    return this.loadSlow(address, 4);
  }

  /** {@inheritDoc Memory.load64} */
  load64(address: number): number {
    if (typeof address !== "number") return this.loadSlow(address, 8);
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    if (
      address >= 0 &&
      address <= this.limit8 &&
      (offset | 0) === offset &&
      offset <= CHUNK_BYTES - 8 &&
      !(this.checkAlignment && (offset & 7) !== 0)
    ) {
      const chunk = this.directory[index];
      if (chunk === undefined) {
        this.traffic.loads++;
        this.traffic.bytesMoved += 8;
        if (this.cache !== null) this.cache.access(address, 8);
        return 0;
      }
      const high = chunk.view.getUint32((offset | 0) + 4, true);
      if (high <= MAX_SAFE_HIGH) {
        this.traffic.loads++;
        this.traffic.bytesMoved += 8;
        if (this.cache !== null) this.cache.access(address, 8);
        return high * TWO_32 + chunk.view.getUint32(offset | 0, true);
      }
    }
    return this.loadSlow(address, 8);
  }

  /** {@inheritDoc Memory.load64Big} */
  load64Big(address: number): bigint {
    this.checkAccess(address, 8, "load");
    const bytes = this.read(address, 8);
    return new DataView(bytes.buffer).getBigUint64(0, true);
  }

  // ---- stores ------------------------------------------------------------------------
  //
  // Fast path: an in-range store inside one frame that is already backed (its chunk exists
  // and the frame is marked). The first store to a frame, and stores straddling frames,
  // take the slow path, which materialises and marks frames.

  /** {@inheritDoc Memory.store8} */
  store8(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeSlow(address, 1, value);
      return;
    }
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    const chunk = this.directory[index];
    if (
      address >= 0 &&
      address < this.size &&
      (offset | 0) === offset &&
      (value & 0xff) === value &&
      chunk !== undefined &&
      chunk.marks[offset >>> this.frameShift] === 1
    ) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 1;
      if (this.cache !== null) this.cache.access(address, 1);
      chunk.view.setUint8(offset | 0, value);
      return;
    }
    this.storeSlow(address, 1, value);
  }

  /** {@inheritDoc Memory.store16} */
  store16(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeSlow(address, 2, value);
      return;
    }
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    const chunk = this.directory[index];
    if (
      address >= 0 &&
      address <= this.limit2 &&
      (offset | 0) === offset &&
      (offset & this.frameMask) <= this.frameSize - 2 &&
      (value & 0xffff) === value &&
      chunk !== undefined &&
      chunk.marks[offset >>> this.frameShift] === 1 &&
      !(this.checkAlignment && (offset & 1) !== 0)
    ) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 2;
      if (this.cache !== null) this.cache.access(address, 2);
      chunk.view.setUint16(offset | 0, value, true);
      return;
    }
    this.storeSlow(address, 2, value);
  }

  /** {@inheritDoc Memory.store32} */
  store32(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeSlow(address, 4, value);
      return;
    }
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    const chunk = this.directory[index];
    if (
      address >= 0 &&
      address <= this.limit4 &&
      (offset | 0) === offset &&
      (offset & this.frameMask) <= this.frameSize - 4 &&
      value >>> 0 === value &&
      chunk !== undefined &&
      chunk.marks[offset >>> this.frameShift] === 1 &&
      !(this.checkAlignment && (offset & 3) !== 0)
    ) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 4;
      if (this.cache !== null) this.cache.access(address, 4);
      chunk.view.setUint32(offset | 0, value, true);
      return;
    }
    this.storeSlow(address, 4, value);
  }

  /** {@inheritDoc Memory.store64} */
  store64(address: number, value: number): void {
    if (typeof address !== "number" || typeof value !== "number") {
      this.storeSlow(address, 8, value);
      return;
    }
    const index = (address * INVERSE_CHUNK_BYTES) | 0;
    const offset = address - index * CHUNK_BYTES;
    const chunk = this.directory[index];
    if (
      address >= 0 &&
      address <= this.limit8 &&
      (offset | 0) === offset &&
      (offset & this.frameMask) <= this.frameSize - 8 &&
      value >= 0 &&
      value <= Number.MAX_SAFE_INTEGER &&
      Math.floor(value) === value &&
      chunk !== undefined &&
      chunk.marks[offset >>> this.frameShift] === 1 &&
      !(this.checkAlignment && (offset & 7) !== 0)
    ) {
      this.traffic.stores++;
      this.traffic.bytesMoved += 8;
      if (this.cache !== null) this.cache.access(address, 8);
      const low = value >>> 0;
      chunk.view.setUint32(offset | 0, low, true);
      chunk.view.setUint32((offset | 0) + 4, (value - low) / TWO_32, true);
      return;
    }
    this.storeSlow(address, 8, value);
  }

  /** {@inheritDoc Memory.store64Big} */
  store64Big(address: number, value: bigint): void {
    if (typeof value !== "bigint") {
      throw new InvalidArgumentError(`hardware: store64Big value must be a bigint, got ${describeArgument(value)}`);
    }
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new ArgumentRangeError(`hardware: store64Big value must be in 0..2^64-1, got ${String(value)}`);
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
    // The range first: read(0, 2 ** 40) must fail as a bus error, not allocate 1 TiB.
    this.checkRange(address, length, "load");
    const out = new Uint8Array(length);
    this.readInto(address, out);
    return out;
  }

  /** {@inheritDoc Memory.readInto} */
  readInto(address: number, target: Uint8Array): void {
    if (!(target instanceof Uint8Array)) throw new InvalidArgumentError("hardware: readInto expects a Uint8Array");
    const length = target.length;
    this.checkRange(address, length, "load");
    this.traffic.loads++;
    this.traffic.bytesMoved += length;
    if (this.cache !== null) this.cache.access(address, length);
    this.gather(address, target);
  }

  /** {@inheritDoc Memory.write} */
  write(address: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError("hardware: write expects a Uint8Array");
    const length = bytes.length;
    this.checkRange(address, length, "store");
    this.traffic.stores++;
    this.traffic.bytesMoved += length;
    if (this.cache !== null) this.cache.access(address, length);
    this.scatter(address, bytes);
  }

  /**
   * {@inheritDoc Memory.fill}
   *
   * Filling a whole frame with zero releases its backing storage (it reads as zeros anyway).
   */
  fill(address: number, length: number, byte: number): void {
    checkLength(length);
    if (typeof byte !== "number") throw new InvalidArgumentError(`hardware: fill byte must be a number, got ${describeArgument(byte)}`);
    if ((byte & 0xff) !== byte) throw new ArgumentRangeError(`hardware: fill byte must be 0..255, got ${String(byte)}`);
    this.checkRange(address, length, "store");
    this.traffic.stores++;
    this.traffic.bytesMoved += length;
    if (this.cache !== null) this.cache.access(address, length);
    this.pieces(address, length, (frame, offset, _done, n) => {
      if (byte === 0 && n === this.frameSize) this.release(frame);
      else if (byte !== 0 || this.isMarked(frame)) {
        const view = this.select(frame, true);
        new Uint8Array(view.buffer, this.lastDelta + offset, n).fill(byte);
      }
    });
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

  // ---- direct frame access ------------------------------------------------------------
  //
  // An MMU model translates far more often than the kernel changes a mapping, so it may
  // cache, per TLB entry, a view of the frame's own bytes and read and write through it
  // without a call into this class. The contract: (1) add every such access to `traffic`;
  // (2) drop every cached view when `viewGeneration` changes; (3) store only through a view
  // obtained with `forWrite`. No view is handed out while a cache model is attached, so that
  // every access is then seen by the model.

  /**
   * A `DataView` over exactly the bytes of `frame`, for a translator that caches it (see
   * the contract above), or null when the access must go through the load and store
   * methods: a CPU cache model is attached, or (for reads) the frame has no backing yet.
   * With `forWrite` the frame is materialised and marked first, as by a store.
   * @throws RangeError when `frame` is not a frame number of this RAM.
   */
  frameView(frame: number, forWrite: boolean): DataView | null {
    if (!Number.isSafeInteger(frame) || frame < 0 || frame >= this.frameCount) {
      throw new ArgumentRangeError(`hardware: frame must be an integer in 0..${this.frameCount - 1}, got ${String(frame)}`);
    }
    if (this.cache !== null) return null;
    const chunkIndex = Math.floor(frame / this.framesPerChunk);
    if (!forWrite && this.directory[chunkIndex] === undefined) return null;
    this.select(frame, forWrite);
    const chunk = this.directory[chunkIndex]!;
    const slot = frame - chunkIndex * this.framesPerChunk;
    let view = chunk.frameViews[slot];
    if (view === undefined) {
      view = new DataView(chunk.view.buffer, slot * this.frameSize, this.frameSize);
      chunk.frameViews[slot] = view;
    }
    return view;
  }

  /**
   * Changes whenever a view handed out by {@link frameView} may have gone stale: a written
   * frame was zeroed whole (and unmarked), a chunk gave its buffer back, or a cache model was
   * attached or detached.
   */
  get viewGeneration(): number {
    return this.generation;
  }

  // ---- internals ---------------------------------------------------------------------

  /** Whether `frame` holds written data. */
  private isMarked(frame: number): boolean {
    const chunk = this.directory[Math.floor(frame / this.framesPerChunk)];
    return chunk !== undefined && chunk.marks[frame % this.framesPerChunk] === 1;
  }

  /**
   * Returns the view that holds `frame` and leaves the frame's offset in that view in
   * `lastDelta`. Without backing the view is the shared zero frame; for a store the frame
   * is materialised and marked first.
   */
  private select(frame: number, forWrite: boolean): DataView {
    const chunkIndex = Math.floor(frame / this.framesPerChunk);
    const slot = frame - chunkIndex * this.framesPerChunk;
    let chunk = this.directory[chunkIndex];
    if (forWrite) {
      if (chunk === undefined) {
        const buffer = new ArrayBuffer(this.framesPerChunk * this.frameSize);
        chunk = {
          view: new DataView(buffer),
          bytes: new Uint8Array(buffer),
          marks: new Uint8Array(this.framesPerChunk),
          live: 0,
          frameViews: new Array<DataView | undefined>(this.framesPerChunk).fill(undefined),
        };
        this.directory[chunkIndex] = chunk;
      }
      if (chunk.marks[slot] === 0) {
        chunk.marks[slot] = 1;
        chunk.live++;
        this.materialised++;
      }
    }
    if (chunk === undefined) {
      this.lastDelta = 0;
      return this.zeroFrame;
    }
    // An unmarked frame of a backed chunk holds zeros, so its own bytes serve reads too.
    this.lastDelta = slot * this.frameSize;
    return chunk.view;
  }

  /** Zeroes and unmarks a whole frame; a chunk left with no marked frame is dropped. */
  private release(frame: number): void {
    const chunkIndex = Math.floor(frame / this.framesPerChunk);
    const slot = frame - chunkIndex * this.framesPerChunk;
    const chunk = this.directory[chunkIndex];
    if (chunk === undefined || chunk.marks[slot] === 0) return;
    chunk.bytes.fill(0, slot * this.frameSize, (slot + 1) * this.frameSize);
    chunk.marks[slot] = 0;
    chunk.live--;
    this.materialised--;
    if (chunk.live === 0) this.directory[chunkIndex] = undefined;
    // A write view of this frame would now skip the mark, and a dropped chunk's views are dead.
    this.generation++;
  }

  private checkAccess(address: number, width: number, access: "load" | "store"): void {
    this.checkRange(address, width, access);
    if (this.checkAlignment && address % width !== 0) throw new AlignmentError(address, width);
  }

  private checkRange(address: number, length: number, access: "load" | "store"): void {
    if (typeof address !== "number") {
      throw new InvalidArgumentError(`hardware: address must be a number, got ${describeArgument(address)}`);
    }
    if (!Number.isInteger(address)) throw new InvalidArgumentError(`hardware: address must be an integer, got ${String(address)}`);
    if (address < 0 || address + length > this.size) throw new BusError(address, length, access, this.size);
  }

  /** Loads outside the cached frame, straddling frames, unsafe, or of a bad address. */
  private loadSlow(address: number, width: number): number {
    if (typeof address !== "number") this.checkRange(address, width, "load");
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    const inFrame = offset <= this.frameSize - width;
    if (
      !(address >= 0 && address <= this.size - width && (offset | 0) === offset) ||
      (this.checkAlignment && (offset & (width - 1)) !== 0)
    ) {
      this.checkAccess(address, width, "load");
    }
    let value: number;
    if (inFrame) {
      const view = this.select(frame, false);
      const at = offset + this.lastDelta;
      if (width === 1) value = view.getUint8(at);
      else if (width === 2) value = view.getUint16(at, true);
      else if (width === 4) value = view.getUint32(at, true);
      else {
        const high = view.getUint32(at + 4, true);
        if (high > MAX_SAFE_HIGH) throw unsafe64(address, high, view.getUint32(at, true));
        value = high * TWO_32 + view.getUint32(at, true);
      }
    } else {
      const bytes = new Uint8Array(width);
      this.gather(address, bytes);
      value = 0;
      for (let i = width - 1; i >= 0; i--) value = value * 256 + bytes[i]!;
      if (value > Number.MAX_SAFE_INTEGER) {
        let exact = 0n;
        for (let i = width - 1; i >= 0; i--) exact = (exact << 8n) | BigInt(bytes[i]!);
        throw new UnsafeIntegerError(address, exact);
      }
    }
    this.traffic.loads++;
    this.traffic.bytesMoved += width;
    if (this.cache !== null) this.cache.access(address, width);
    return value;
  }

  /** Stores outside the cached frame, straddling frames, or of a bad address or value. */
  private storeSlow(address: number, width: number, value: number): void {
    const max = width === 1 ? 0xff : width === 2 ? 0xffff : width === 4 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
    if (typeof value !== "number") {
      throw new InvalidArgumentError(`hardware: store${8 * width} value must be a number, got ${describeArgument(value)}`);
    }
    if (typeof address !== "number") this.checkRange(address, width, "store");
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new ArgumentRangeError(`hardware: store${8 * width} value must be an integer in 0..${max}, got ${String(value)}`);
    }
    const frame = Math.floor(address * this.inverseFrameSize);
    const offset = address - frame * this.frameSize;
    if (
      !(address >= 0 && address <= this.size - width && (offset | 0) === offset) ||
      (this.checkAlignment && (offset & (width - 1)) !== 0)
    ) {
      this.checkAccess(address, width, "store");
    }
    if (offset <= this.frameSize - width) {
      const view = this.select(frame, true);
      const at = offset + this.lastDelta;
      if (width === 1) view.setUint8(at, value);
      else if (width === 2) view.setUint16(at, value, true);
      else if (width === 4) view.setUint32(at, value, true);
      else {
        const low = value >>> 0;
        view.setUint32(at, low, true);
        view.setUint32(at + 4, (value - low) / TWO_32, true);
      }
    } else {
      const bytes = new Uint8Array(width);
      let rest = value;
      for (let i = 0; i < width; i++) {
        bytes[i] = rest % 256;
        rest = Math.floor(rest / 256);
      }
      this.scatter(address, bytes);
    }
    this.traffic.stores++;
    this.traffic.bytesMoved += width;
    if (this.cache !== null) this.cache.access(address, width);
  }

  /** Calls `visit(frame, offset, done, n)` for each frame-sized piece of a checked range. */
  private pieces(address: number, length: number, visit: (frame: number, offset: number, done: number, n: number) => void): void {
    let done = 0;
    while (done < length) {
      const here = address + done;
      const frame = Math.floor(here * this.inverseFrameSize);
      const offset = here - frame * this.frameSize;
      const n = Math.min(this.frameSize - offset, length - done);
      visit(frame, offset, done, n);
      done += n;
    }
  }

  /** Copies bytes out of RAM (range already checked). */
  private gather(address: number, target: Uint8Array): void {
    this.pieces(address, target.length, (frame, offset, done, n) => {
      if (!this.isMarked(frame)) target.fill(0, done, done + n);
      else {
        const view = this.select(frame, false);
        target.set(new Uint8Array(view.buffer, this.lastDelta + offset, n), done);
      }
    });
  }

  /** Copies bytes into RAM (range already checked). */
  private scatter(address: number, bytes: Uint8Array): void {
    this.pieces(address, bytes.length, (frame, offset, done, n) => {
      const view = this.select(frame, true);
      new Uint8Array(view.buffer, this.lastDelta + offset, n).set(bytes.subarray(done, done + n));
    });
  }
}

function unsafe64(address: number, high: number, low: number): UnsafeIntegerError {
  return new UnsafeIntegerError(address, (BigInt(high) << 32n) | BigInt(low));
}

function checkLength(length: number): void {
  if (typeof length !== "number") {
    throw new InvalidArgumentError(`hardware: length must be a number, got ${describeArgument(length)}`);
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new ArgumentRangeError(`hardware: length must be a non-negative integer, got ${String(length)}`);
  }
}
