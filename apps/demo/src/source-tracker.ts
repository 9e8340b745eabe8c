/**
 * Which blocks of a recorded program tracemalloc would trace, and with which traceback: the one
 * account behind every `explain --by` view (statistics, peak, resident, pins, faults,
 * temporary) and the report's flame graphs, so that they all follow the same rules:
 *
 * - a new block (malloc, calloc: nelem × elsize, memalign) gets the traceback in force (`#S`);
 *   a realloc ends the old block and traces the new one with the current traceback, as
 *   tracemalloc_realloc does; a free ends its block;
 * - an object reused from a free list (`#R`) gets the current traceback, as
 *   _PyTraceMalloc_NewReference does;
 * - blocks allocated between `# recorder-own-begin`/`-end` (the CPython recorder's own atexit
 *   hook) or `# tracemalloc-init-begin`/`-end` (done at start-up under `-X tracemalloc`) are
 *   untraced, and `#R` lines between them are ignored: a real run never makes those calls;
 * - tracing (re)starts at `# x-tracemalloc-start` (where `python -X tracemalloc` starts it) or
 *   after call event N (`since`), dropping every trace made before;
 * - the CPython domains (raw, mem, obj) and `libc` lines are kept apart: a CPython trace's libc
 *   lines are not tracemalloc's; a C program's trace (libc lines only) is read by call site.
 *
 *   record ──► SourceTracker.handle ──► python / libc: recorded pointer → { size, tb, born }
 */
import type { TraceRecord } from "@mem/memtrace";

/** When tracing started: see {@link SourceTrackerOptions.since}. */
export type TracingStart = number | "start" | "x-tracemalloc";

/** The comments around the recorder's own calls into Python (registering its atexit hook). */
export const OWN_BEGIN = " recorder-own-begin";
/** See {@link OWN_BEGIN}. */
export const OWN_END = " recorder-own-end";
/** The comments around the `_tracemalloc` module's initialisation in a recording (its table lock, a raw block). */
export const TM_INIT_BEGIN = " tracemalloc-init-begin";
/** See {@link TM_INIT_BEGIN}. */
export const TM_INIT_END = " tracemalloc-init-end";
/** The comment where `python -X tracemalloc` starts tracing. */
export const X_TRACEMALLOC_START = " x-tracemalloc-start";

/** A traced block, by its recorded pointer. */
export interface TracedBlock {
  /** Requested bytes (calloc: nelem × elsize). */
  readonly size: number;
  /** Its traceback's id (`#T`/`#S`; -1 when none was in force; a `#R` line changes it). */
  tb: number;
  /** The call event that allocated it (1 for the first). */
  readonly born: number;
}

/** The live traced blocks of one kind of line, and the sum of their sizes. */
export class TracedBlocks extends Map<number, TracedBlock> {
  /** The sum of the blocks' sizes: tracemalloc's `get_traced_memory()[0]`. */
  total = 0;

  /** Traces `block` at `ptr` (replacing a trace left there, in its place in the order). */
  add(ptr: number, block: TracedBlock): void {
    this.total += block.size - (this.get(ptr)?.size ?? 0);
    this.set(ptr, block);
  }

  /** Ends the trace at `ptr`; returns it, or undefined when there was none. */
  remove(ptr: number): TracedBlock | undefined {
    const block = this.get(ptr);
    if (block === undefined) return undefined;
    this.delete(ptr);
    this.total -= block.size;
    return block;
  }

  /** Drops every trace. */
  override clear(): void {
    super.clear();
    this.total = 0;
  }
}

/** Options of {@link SourceTracker}. */
export interface SourceTrackerOptions {
  /**
   * When tracing started (blocks allocated before are not traced, as tracemalloc never saw
   * them): `"x-tracemalloc"`, at the recorder's `# x-tracemalloc-start` line (the start of the
   * trace when there is none); `"start"`, the start of the trace; or after this many call
   * events (a program calling tracemalloc.start()).
   * @defaultValue "x-tracemalloc"
   */
  readonly since?: TracingStart;
  /** Called when tracing (re)starts after the start of the trace, once every trace has been dropped. */
  readonly onStart?: () => void;
}

/** What a call event did to the traces. */
export interface CallEffect {
  /** The block it traced (a new block, or a realloc's result), if any. */
  readonly traced: TracedBlock | undefined;
  /** The trace it ended (a free, or a realloc's old block), if any. */
  readonly ended: TracedBlock | undefined;
  /** False when the event is one tracemalloc never sees: the recorder's own, or made before tracing (re)started at this event. */
  readonly seen: boolean;
}

const NOTHING: CallEffect = { traced: undefined, ended: undefined, seen: false };

/**
 * Reads a trace's records, as a `TraceStream` hands them out, into the live traced blocks.
 * Feed every record to {@link SourceTracker.handle} with the traceback in force
 * (`stream.stacks.current`).
 */
export class SourceTracker {
  /** The CPython domains' traces (raw, mem, obj). */
  readonly python = new TracedBlocks();
  /** The `libc` lines' traces. */
  readonly libc = new TracedBlocks();
  /** Call events (m/c/r/f/a lines) read. */
  calls = 0;
  /** Whether a CPython domain's line was read (then the libc lines are not tracemalloc's). */
  sawPython = false;
  /** Whether a `#S` line was read (the trace has source locations). */
  sawStacks = false;
  /** tracemalloc's traceback limit, from `# frames N`. @defaultValue 1 */
  limit = 1;
  /** Between the recorder's own-call or tracemalloc-init markers. */
  private own = false;
  private readonly since: TracingStart;
  private readonly onStart: (() => void) | undefined;

  /** A tracker of the traces as tracemalloc would keep them, tracing from `options.since`. */
  constructor(options: SourceTrackerOptions = {}) {
    this.since = options.since ?? "x-tracemalloc";
    this.onStart = options.onStart;
  }

  /** The traces that count: the CPython domains', or the libc lines' in a trace with no CPython line (so far). */
  get live(): TracedBlocks {
    return this.sawPython ? this.python : this.libc;
  }

  /**
   * Applies one record; `tb` is the traceback in force. Returns what a call event did to the
   * traces, undefined for any other record.
   */
  handle(r: TraceRecord, tb: number): CallEffect | undefined {
    switch (r.kind) {
      case "malloc":
      case "calloc":
      case "memalign":
      case "realloc":
      case "free": {
        this.calls++;
        if (r.domain !== "libc") this.sawPython = true;
        const effect = this.call(r, r.domain === "libc" ? this.libc : this.python, tb);
        if (this.calls === this.since) {
          this.restart();
          return effect.traced === undefined ? { ...effect, seen: false } : { traced: undefined, ended: effect.ended, seen: false };
        }
        return effect;
      }
      case "stack":
        this.sawStacks = true;
        return undefined;
      case "retrace":
        // an object reused from a free list: its block gets the current traceback (not in
        // the recorder's own calls, which a real run does not make)
        if (this.own) return undefined;
        for (const blocks of [this.python, this.libc]) {
          const b = blocks.get(r.ptr);
          if (b !== undefined) b.tb = tb;
        }
        return undefined;
      case "comment": {
        const t = r.text;
        const m = /^ frames (\d+)$/.exec(t);
        if (m) this.limit = Number(m[1]);
        else if (t === OWN_BEGIN || t === TM_INIT_BEGIN) this.own = true;
        else if (t === OWN_END || t === TM_INIT_END) this.own = false;
        else if (t === X_TRACEMALLOC_START && this.since === "x-tracemalloc") this.restart();
        return undefined;
      }
      default:
        return undefined;
    }
  }

  private call(r: TraceRecord, blocks: TracedBlocks, tb: number): CallEffect {
    if (r.kind === "free") return { traced: undefined, ended: blocks.remove(r.ptr), seen: !this.own };
    if (r.result === 0) return this.own ? NOTHING : { traced: undefined, ended: undefined, seen: true };
    const ended = r.kind === "realloc" && r.ptr !== 0 ? blocks.remove(r.ptr) : undefined;
    if (this.own) {
      // a trace still at the pointer handed out is stale (its free went unseen): it ends
      blocks.remove(r.result);
      return { traced: undefined, ended, seen: false };
    }
    const block: TracedBlock = { size: r.kind === "calloc" ? r.nelem * r.elsize : r.size, tb, born: this.calls };
    blocks.add(r.result, block);
    return { traced: block, ended, seen: true };
  }

  private restart(): void {
    this.python.clear();
    this.libc.clear();
    this.onStart?.();
  }
}
