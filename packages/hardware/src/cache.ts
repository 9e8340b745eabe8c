import { ArgumentRangeError } from "./errors.js";

/** The geometry of one cache level. */
export interface CacheLevelConfig {
  /** A name to report it by, e.g. "L1d". */
  name: string;
  /** Capacity in bytes (a multiple of `lineSize * ways`). */
  size: number;
  /** Associativity: lines per set. */
  ways: number;
  /**
   * Line size in bytes (a power of two).
   * @defaultValue 64
   */
  lineSize?: number;
}

/** Hit and miss counts of one level. */
export interface CacheLevelStats {
  /** The level's name. */
  name: string;
  /** Accesses that found their line in this level. */
  hits: number;
  /** Accesses that did not (and went on to the next level, or to RAM). */
  misses: number;
  /** `hits / (hits + misses)`, or 0 before any access. */
  hitRate: number;
}

/**
 * A typical x86-64 desktop hierarchy: 48 KiB 12-way L1d, 1.25 MiB 10-way L2, 8 MiB 16-way L3,
 * 64-byte lines (sizes vary by CPU; pass your own to `CpuCache`).
 */
export const TYPICAL_X86_64_CACHES: readonly CacheLevelConfig[] = [
  { name: "L1d", size: 48 * 1024, ways: 12 },
  { name: "L2", size: 1280 * 1024, ways: 10 },
  { name: "L3", size: 8 * 1024 * 1024, ways: 16 },
];

/** One set-associative level with true LRU replacement. */
class CacheLevel {
  readonly name: string;
  readonly lineShift: number;
  readonly sets: number;
  readonly ways: number;
  /** Line tag per way (line address = address >> lineShift), -1 when empty. */
  private readonly tags: Float64Array;
  /** Last-use stamp per way, for LRU. */
  private readonly stamps: Float64Array;
  private clock = 0;
  hits = 0;
  misses = 0;

  constructor(config: CacheLevelConfig) {
    const lineSize = config.lineSize ?? 64;
    if (!Number.isInteger(lineSize) || lineSize < 8 || (lineSize & (lineSize - 1)) !== 0) {
      throw new ArgumentRangeError(`hardware: cache ${config.name}: lineSize must be a power of two >= 8, got ${String(lineSize)}`);
    }
    if (!Number.isInteger(config.ways) || config.ways < 1) {
      throw new ArgumentRangeError(`hardware: cache ${config.name}: ways must be a positive integer, got ${String(config.ways)}`);
    }
    const sets = config.size / (lineSize * config.ways);
    if (!Number.isInteger(sets) || sets < 1) {
      throw new ArgumentRangeError(`hardware: cache ${config.name}: size ${config.size} is not a multiple of lineSize * ways (${lineSize * config.ways})`);
    }
    this.name = config.name;
    this.lineShift = Math.log2(lineSize);
    this.sets = sets;
    this.ways = config.ways;
    this.tags = new Float64Array(sets * config.ways).fill(-1);
    this.stamps = new Float64Array(sets * config.ways);
  }

  /** Looks `line` up; on a miss, fills it over the least recently used way. Returns hit. */
  touch(line: number): boolean {
    const base = (line % this.sets) * this.ways;
    const stamp = ++this.clock;
    let victim = base;
    for (let i = base; i < base + this.ways; i++) {
      if (this.tags[i] === line) {
        this.stamps[i] = stamp;
        this.hits++;
        return true;
      }
      if (this.stamps[i]! < this.stamps[victim]!) victim = i;
    }
    this.tags[victim] = line;
    this.stamps[victim] = stamp;
    this.misses++;
    return false;
  }

  reset(): void {
    this.tags.fill(-1);
    this.stamps.fill(0);
    this.clock = 0;
    this.hits = 0;
    this.misses = 0;
  }
}

/**
 * A model of the CPU caches between the core and RAM, to see locality: attach it to a
 * `PhysicalMemory` and every access is looked up level by level (physically indexed and
 * tagged, inclusive fill, LRU). It changes no data and only counts; an access spanning two
 * lines touches both.
 *
 * ```js
 * const cache = new CpuCache(TYPICAL_X86_64_CACHES);
 * ram.attachCache(cache);
 * // ... run a workload ...
 * console.log(cache.stats()); // [{ name: "L1d", hits, misses, hitRate }, ...]
 * ```
 */
export class CpuCache {
  private readonly levels: CacheLevel[];
  private readonly lineShift: number;

  /** Creates the hierarchy, fastest level first; every level must use the same line size. */
  constructor(levels: readonly CacheLevelConfig[] = TYPICAL_X86_64_CACHES) {
    if (levels.length === 0) throw new ArgumentRangeError("hardware: a cache hierarchy needs at least one level");
    this.levels = levels.map((l) => new CacheLevel(l));
    this.lineShift = this.levels[0]!.lineShift;
    for (const level of this.levels) {
      if (level.lineShift !== this.lineShift) {
        throw new ArgumentRangeError(`hardware: cache ${level.name}: every level must use the same line size`);
      }
    }
  }

  /** Records an access of `width` bytes at physical `address`. */
  access(address: number, width: number): void {
    const first = Math.floor(address / 2 ** this.lineShift);
    const last = Math.floor((address + width - 1) / 2 ** this.lineShift);
    for (let line = first; line <= last; line++) {
      for (const level of this.levels) if (level.touch(line)) break;
    }
  }

  /** Hit and miss counts per level, fastest first. */
  stats(): CacheLevelStats[] {
    return this.levels.map((l) => ({
      name: l.name,
      hits: l.hits,
      misses: l.misses,
      hitRate: l.hits + l.misses === 0 ? 0 : l.hits / (l.hits + l.misses),
    }));
  }

  /** Empties every level and zeroes the counters. */
  reset(): void {
    for (const l of this.levels) l.reset();
  }

  /** A one-line-per-level summary, e.g. `L1d: 1,000 hits, 24 misses (97.7 % hit rate)`. */
  toString(): string {
    return this.stats()
      .map((s) => `${s.name}: ${s.hits} hits, ${s.misses} misses (${(100 * s.hitRate).toFixed(1)} % hit rate)`)
      .join("\n");
  }
}

