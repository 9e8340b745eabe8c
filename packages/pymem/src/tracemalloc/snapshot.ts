import { PyException } from "../errors.js";
import { fnmatch } from "./fnmatch.js";
import { compareStrings, formatSize, pyRepr, signedInt } from "./format.js";

/**
 * The Python side of tracemalloc (Lib/tracemalloc.py, 3.11): frames, tracebacks, traces,
 * snapshots, grouped statistics, differences between snapshots and filters, with the exact
 * `str()`/`repr()` texts and sort orders.
 */

/** A frame as the C layer stores it: `(filename, lineno)`. */
export type RawFrame = readonly [filename: string, lineno: number];

/**
 * A trace as `_tracemalloc._get_traces()` returns it: `(domain, size, frames, total_nframe)`,
 * frames **most recent first** (the `Traceback` class reverses them).
 */
export type RawTrace = readonly [domain: number, size: number, frames: readonly RawFrame[], totalNframe: number];

/** `tracemalloc.Frame`. */
export class Frame {
  /** The file name. */
  readonly filename: string;
  /** The line number. */
  readonly lineno: number;
  /** Wraps a raw frame. */
  constructor(frame: RawFrame) {
    this.filename = frame[0];
    this.lineno = frame[1];
  }
  /** `str(frame)`: `file:line`. */
  toString(): string {
    return `${this.filename}:${this.lineno}`;
  }
  /** `repr(frame)`. */
  repr(): string {
    return `<Frame filename=${pyRepr(this.filename)} lineno=${this.lineno}>`;
  }
}

function compareRawFrames(a: RawFrame, b: RawFrame): number {
  return compareStrings(a[0], b[0]) || a[1] - b[1];
}

/** `tracemalloc.Traceback`: frames **oldest first**; equality and order by frames only. */
export class Traceback {
  /** The frames, oldest first. */
  readonly frames: readonly Frame[];
  /** The number of frames the stack had (before truncation to the limit), or null when unknown. */
  readonly totalNframe: number | null;
  private readonly raw: readonly RawFrame[];

  /** Builds a traceback from raw frames given most recent first (as the C layer stores them). */
  constructor(frames: readonly RawFrame[], totalNframe: number | null = null) {
    this.raw = [...frames].reverse();
    this.frames = this.raw.map((f) => new Frame(f));
    this.totalNframe = totalNframe;
  }
  /** Number of frames. */
  get length(): number {
    return this.frames.length;
  }
  /** `str(traceback)` = `str(traceback[0])`, the oldest frame. */
  toString(): string {
    return String(this.frames[0]);
  }
  /** `repr(traceback)`. */
  repr(): string {
    const items = this.frames.map((f) => f.repr());
    const tuple = items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    return this.totalNframe === null ? `<Traceback ${tuple}>` : `<Traceback ${tuple} total_nframe=${this.totalNframe}>`;
  }
  /**
   * `traceback.format(limit, most_recent_first)` without source lines (no linecache here):
   * one `  File "<file>", line <n>` line per frame.
   */
  format(limit: number | null = null, mostRecentFirst = false): string[] {
    let frames = [...this.frames];
    if (limit !== null) frames = limit > 0 ? frames.slice(-limit) : frames.slice(0, limit);
    if (mostRecentFirst) frames.reverse();
    return frames.map((f) => `  File "${f.filename}", line ${f.lineno}`);
  }
  /** Python's ordering of tracebacks (tuple order of their oldest-first frames). */
  static compare(a: Traceback, b: Traceback): number {
    const n = Math.min(a.raw.length, b.raw.length);
    for (let i = 0; i < n; i++) {
      const c = compareRawFrames(a.raw[i]!, b.raw[i]!);
      if (c !== 0) return c;
    }
    return a.raw.length - b.raw.length;
  }
  /** A string equal for equal tracebacks (frames only), for grouping. */
  get key(): string {
    return JSON.stringify(this.raw);
  }
}

/** `tracemalloc.Trace`. */
export class Trace {
  /** The address space (0 for the PyMem domains). */
  readonly domain: number;
  /** The requested size in bytes. */
  readonly size: number;
  /** The allocation traceback (with `total_nframe`). */
  readonly traceback: Traceback;
  /** Wraps a raw trace. */
  constructor(trace: RawTrace) {
    this.domain = trace[0];
    this.size = trace[1];
    this.traceback = new Traceback(trace[2], trace[3]);
  }
  /** `str(trace)`: `<tb>: <size>`. */
  toString(): string {
    return `${String(this.traceback)}: ${formatSize(this.size, false)}`;
  }
  /** `repr(trace)`. */
  repr(): string {
    return `<Trace domain=${this.domain} size=${formatSize(this.size, false)}, traceback=${this.traceback.repr()}>`;
  }
}

/** `tracemalloc.Statistic`: one group of traces. */
export class Statistic {
  /** Creates a statistic. */
  constructor(
    /** The group's traceback. */
    readonly traceback: Traceback,
    /** Total size of the group's traces. */
    public size: number,
    /** Number of traces. */
    public count: number,
  ) {}
  /** `str(stat)`, e.g. `a.py:4: size=31.2 KiB, count=61, average=524 B`. */
  toString(): string {
    let text = `${String(this.traceback)}: size=${formatSize(this.size, false)}, count=${this.count}`;
    if (this.count) text += `, average=${formatSize(this.size / this.count, false)}`;
    return text;
  }
  /** `repr(stat)`. */
  repr(): string {
    return `<Statistic traceback=${this.traceback.repr()} size=${this.size} count=${this.count}>`;
  }
  /** Descending order of `(size, count, traceback)`, as `statistics()` sorts. */
  static compareDescending(a: Statistic, b: Statistic): number {
    return b.size - a.size || b.count - a.count || Traceback.compare(b.traceback, a.traceback);
  }
}

/** `tracemalloc.StatisticDiff`: one group compared between two snapshots. */
export class StatisticDiff {
  /** Creates a difference. */
  constructor(
    /** The group's traceback. */
    readonly traceback: Traceback,
    /** Size in the new snapshot. */
    readonly size: number,
    /** New size minus old size. */
    readonly sizeDiff: number,
    /** Count in the new snapshot. */
    readonly count: number,
    /** New count minus old count. */
    readonly countDiff: number,
  ) {}
  /** `str(diff)`, e.g. `a.py:4: size=31.2 KiB (+20.8 KiB), count=61 (+40), average=524 B`. */
  toString(): string {
    let text =
      `${String(this.traceback)}: size=${formatSize(this.size, false)} (${formatSize(this.sizeDiff, true)}), ` +
      `count=${this.count} (${signedInt(this.countDiff)})`;
    if (this.count) text += `, average=${formatSize(this.size / this.count, false)}`;
    return text;
  }
  /** `repr(diff)`. */
  repr(): string {
    return (
      `<StatisticDiff traceback=${this.traceback.repr()} size=${this.size} (${signedInt(this.sizeDiff)}) ` +
      `count=${this.count} (${signedInt(this.countDiff)})>`
    );
  }
  /** Descending order of `(abs(size_diff), size, abs(count_diff), count, traceback)`. */
  static compareDescending(a: StatisticDiff, b: StatisticDiff): number {
    return (
      Math.abs(b.sizeDiff) - Math.abs(a.sizeDiff) ||
      b.size - a.size ||
      Math.abs(b.countDiff) - Math.abs(a.countDiff) ||
      b.count - a.count ||
      Traceback.compare(b.traceback, a.traceback)
    );
  }
}

/** What `statistics()` groups by. */
export type KeyType = "filename" | "lineno" | "traceback";

/** A trace filter: `Filter` or `DomainFilter`. */
export interface TraceFilter {
  /** Inclusive filters keep matching traces; exclusive ones drop them. */
  readonly inclusive: boolean;
  /** `_match(trace)`. */
  match(trace: RawTrace): boolean;
}

/** `_normalize_filename`: a trailing `.pyc` becomes `.py` (normcase is the identity on POSIX). */
function normalizeFilename(filename: string): string {
  return filename.endsWith(".pyc") ? filename.slice(0, -1) : filename;
}

/** `tracemalloc.Filter(inclusive, filename_pattern, lineno=None, all_frames=False, domain=None)`. */
export class Filter implements TraceFilter {
  /** The normalized pattern. */
  readonly filenamePattern: string;
  /** Creates a filter. */
  constructor(
    /** Keep (true) or drop (false) matching traces. */
    readonly inclusive: boolean,
    filenamePattern: string,
    /** Only this line (null: any). */
    readonly lineno: number | null = null,
    /** Test every frame instead of the most recent one. */
    readonly allFrames = false,
    /** Only this domain (null: any). */
    readonly domain: number | null = null,
  ) {
    this.filenamePattern = normalizeFilename(filenamePattern);
  }

  private matchFrameImpl(filename: string, lineno: number): boolean {
    if (!fnmatch(normalizeFilename(filename), this.filenamePattern)) return false;
    return this.lineno === null || lineno === this.lineno;
  }

  private matchTraceback(frames: readonly RawFrame[]): boolean {
    if (this.allFrames) {
      return frames.some(([f, l]) => this.matchFrameImpl(f, l)) ? this.inclusive : !this.inclusive;
    }
    const [filename, lineno] = frames[0]!;
    return this.matchFrameImpl(filename, lineno) !== !this.inclusive;
  }

  /** `_match(trace)`. */
  match(trace: RawTrace): boolean {
    const res = this.matchTraceback(trace[2]);
    if (this.domain === null) return res;
    return this.inclusive ? res && trace[0] === this.domain : res || trace[0] !== this.domain;
  }
}

/** `tracemalloc.DomainFilter(inclusive, domain)`. */
export class DomainFilter implements TraceFilter {
  /** Creates a domain filter. */
  constructor(
    /** Keep (true) or drop (false) the domain's traces. */
    readonly inclusive: boolean,
    /** The domain. */
    readonly domain: number,
  ) {}
  /** `_match(trace)`. */
  match(trace: RawTrace): boolean {
    return (trace[0] === this.domain) !== !this.inclusive;
  }
}

/** `tracemalloc.Snapshot`: the traces at one moment and the traceback limit then. */
export class Snapshot {
  /** Creates a snapshot of raw traces (as `Snapshot(traces, traceback_limit)` in Python). */
  constructor(
    /** The raw traces (frames most recent first). */
    readonly rawTraces: readonly RawTrace[],
    /** The traceback limit when the snapshot was taken. */
    readonly tracebackLimit: number,
  ) {}

  /** `snapshot.traces` as `Trace` objects; `repr` of the sequence is `<Traces len=N>`. */
  get traces(): Trace[] {
    return this.rawTraces.map((t) => new Trace(t));
  }

  /** `repr(snapshot.traces)`. */
  tracesRepr(): string {
    return `<Traces len=${this.rawTraces.length}>`;
  }

  /** `snapshot.filter_traces(filters)`: inclusive filters OR-ed, exclusive filters AND-ed. */
  filterTraces(filters: readonly TraceFilter[]): Snapshot {
    const given: unknown = filters;
    if (!Array.isArray(given)) {
      throw new PyException("TypeError", `filters must be a list of filters, not ${typeof given}`);
    }
    if (filters.length === 0) return new Snapshot([...this.rawTraces], this.tracebackLimit);
    const include = filters.filter((f) => f.inclusive);
    const exclude = filters.filter((f) => !f.inclusive);
    const kept = this.rawTraces.filter(
      (t) => (include.length === 0 || include.some((f) => f.match(t))) && !exclude.some((f) => !f.match(t)),
    );
    return new Snapshot(kept, this.tracebackLimit);
  }

  /** `_group_by(key_type, cumulative)`: groups keyed by their traceback. */
  private groupBy(keyType: KeyType, cumulative: boolean): Map<string, Statistic> {
    if (keyType !== "traceback" && keyType !== "filename" && keyType !== "lineno") {
      throw new PyException("ValueError", `unknown key_type: ${pyRepr(String(keyType))}`);
    }
    if (cumulative && keyType === "traceback") {
      throw new PyException("ValueError", `cumulative mode cannot by used with key type ${pyRepr(keyType)}`);
    }
    const stats = new Map<string, Statistic>();
    const add = (frames: readonly RawFrame[], size: number) => {
      const traceback = new Traceback(frames);
      const key = traceback.key;
      const stat = stats.get(key);
      if (stat === undefined) stats.set(key, new Statistic(traceback, size, 1));
      else {
        stat.size += size;
        stat.count += 1;
      }
    };
    for (const [, size, frames] of this.rawTraces) {
      if (!cumulative) {
        if (keyType === "traceback") add(frames, size);
        else if (keyType === "lineno") add(frames.slice(0, 1), size);
        else add([[frames[0]![0], 0]], size);
      } else {
        for (const frame of frames) add(keyType === "lineno" ? [frame] : [[frame[0], 0]], size);
      }
    }
    return stats;
  }

  /** `snapshot.statistics(key_type, cumulative=False)`, sorted biggest first. */
  statistics(keyType: KeyType, cumulative = false): Statistic[] {
    return [...this.groupBy(keyType, cumulative).values()].sort((a, b) => Statistic.compareDescending(a, b));
  }

  /** `snapshot.compare_to(old_snapshot, key_type, cumulative=False)`, sorted by the biggest change. */
  compareTo(old: Snapshot, keyType: KeyType, cumulative = false): StatisticDiff[] {
    const newGroup = this.groupBy(keyType, cumulative);
    const oldGroup = old.groupBy(keyType, cumulative);
    const out: StatisticDiff[] = [];
    for (const [key, stat] of newGroup) {
      const previous = oldGroup.get(key);
      oldGroup.delete(key);
      out.push(
        previous === undefined
          ? new StatisticDiff(stat.traceback, stat.size, stat.size, stat.count, stat.count)
          : new StatisticDiff(stat.traceback, stat.size, stat.size - previous.size, stat.count, stat.count - previous.count),
      );
    }
    for (const stat of oldGroup.values()) out.push(new StatisticDiff(stat.traceback, 0, -stat.size, 0, -stat.count));
    return out.sort((a, b) => StatisticDiff.compareDescending(a, b));
  }
}
