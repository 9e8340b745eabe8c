import type { PyMemAllocatorEx, PyMemDomain } from "../api.js";
import { PyException, PyMemUsageError } from "../errors.js";
import type { PyMem } from "../pymem.js";
import { dumpAscii } from "./format.js";
import { HashtableSize } from "./hashtable-size.js";
import { Snapshot, Traceback, type RawFrame, type RawTrace } from "./snapshot.js";

/**
 * tracemalloc (Modules/_tracemalloc.c, 3.11) over a {@link PyMem}: hooks on the RAW, MEM and
 * OBJ slots that record, for every live block, its requested size and the traceback of the
 * allocation, in domain 0 whatever the C domain; current and peak traced memory; interned
 * tracebacks and filenames; and the tracer's own table sizes.
 *
 * ```
 *   py.memMalloc(n) -> [tracemalloc hook] -> [debug hook] -> pymalloc -> (RAW for n > 512)
 *                        |  reentrant flag: the nested RAW call is not traced again
 *                        v
 *   traces[domain][ptr] = { size: n, traceback: interned (frames most recent first, total_nframe) }
 * ```
 *
 * There is no Python interpreter here to walk: the caller supplies the traceback of the next
 * allocations, with {@link Tracemalloc.setTraceback} or the `traceback` option (called at each
 * traced allocation). An empty traceback is CPython's `<unknown>:0`.
 */

/** A frame the caller supplies: file name and line number. */
export interface FrameInput {
  /** The code's file name. */
  readonly filename: string;
  /** The line number (negative becomes 0, as in CPython). */
  readonly lineno: number;
}

/** Options of {@link Tracemalloc}. */
export interface TracemallocOptions {
  /**
   * Returns the current call stack, most recent call first, at each traced allocation.
   * Without it, the stack last given to {@link Tracemalloc.setTraceback} is used.
   */
  traceback?: () => readonly FrameInput[];
}

/** `MAX_NFRAME`: the largest traceback limit (`UINT16_MAX`). */
export const MAX_NFRAME = 65535;
/** `DEFAULT_DOMAIN`: the domain of every trace the hooks make. */
export const DEFAULT_DOMAIN = 0;

/** An interned traceback (`traceback_t`): frames most recent first and the stack's full depth. */
interface InternedTraceback {
  readonly frames: readonly RawFrame[];
  readonly totalNframe: number;
}

/** A trace (`trace_t`). */
interface TraceRecord {
  size: number;
  traceback: InternedTraceback;
}

/** The context of the hooks installed in one slot: the tracer and the allocator saved from the slot. */
interface HookContext {
  readonly tracer: Tracemalloc;
  readonly alloc: PyMemAllocatorEx;
}

const EMPTY_TRACEBACK: InternedTraceback = { frames: [["<unknown>", 0]], totalNframe: 1 };

/** tracemalloc for one PyMem: start/stop, traced memory, snapshots, `PyTraceMalloc_Track`. */
export class Tracemalloc {
  private readonly py: PyMem;
  private readonly provider: (() => readonly FrameInput[]) | undefined;
  private current: readonly FrameInput[] = [];
  private tracing = false;
  private maxNframe = 1;
  private reentrant = false;
  private saved: Record<PyMemDomain, PyMemAllocatorEx> | null = null;
  private tracedMemory = 0;
  private peakTracedMemory = 0;
  private readonly traces = new Map<number, Map<number, TraceRecord>>();
  private readonly tracesSizes = new Map<number, HashtableSize>();
  private readonly tracebacks = new Map<string, InternedTraceback>();
  private readonly tracebacksSize = new HashtableSize();
  private readonly filenames = new Set<string>();
  private readonly filenamesSize = new HashtableSize();
  private lastStack: readonly FrameInput[] | null = null;
  private lastInterned: InternedTraceback | null = null;

  /** Creates the tracer of `py` (not tracing yet, traceback limit 1). */
  constructor(py: PyMem, options: TracemallocOptions = {}) {
    this.py = py;
    this.provider = options.traceback;
    this.traces.set(DEFAULT_DOMAIN, new Map());
    this.tracesSizes.set(DEFAULT_DOMAIN, new HashtableSize());
  }

  /** Sets the call stack (most recent call first) of the allocations that follow. */
  setTraceback(frames: readonly FrameInput[]): void {
    this.current = frames.map((f) => ({ filename: f.filename, lineno: f.lineno }));
  }

  /**
   * `tracemalloc.start(nframe=1)`: installs the hooks on RAW, MEM and OBJ (over whatever the
   * slots hold, e.g. debug hooks). A no-op when already tracing (the limit is not changed).
   */
  start(nframe = 1): void {
    if (!Number.isInteger(nframe) || nframe < 1 || nframe > MAX_NFRAME) {
      throw new PyException("ValueError", `the number of frames must be in range [1; ${MAX_NFRAME}]`);
    }
    if (this.tracing) return;
    if (this.py.hasTracebackDumper()) {
      throw new PyMemUsageError("pymem: another Tracemalloc is already tracing this PyMem (CPython has one tracemalloc module)");
    }
    this.maxNframe = nframe;
    const py = this.py;
    this.saved = { raw: py.getAllocator("raw"), mem: py.getAllocator("mem"), obj: py.getAllocator("obj") };
    for (const domain of ["raw", "mem", "obj"] as const) {
      const ctx: HookContext = { tracer: this, alloc: this.saved[domain] };
      py.setAllocator(domain, { ctx, malloc: hookMalloc, calloc: hookCalloc, realloc: hookRealloc, free: hookFree });
    }
    py.setTracebackDumper((p) => this.dumpTraceback(p));
    this.tracing = true;
  }

  /** `tracemalloc.stop()`: restores the saved allocators and clears every trace. */
  stop(): void {
    if (!this.tracing) return;
    this.tracing = false;
    const saved = this.saved!;
    this.py.setAllocator("raw", saved.raw);
    this.py.setAllocator("mem", saved.mem);
    this.py.setAllocator("obj", saved.obj);
    this.saved = null;
    this.py.setTracebackDumper(null);
    this.clearTables();
  }

  /** `tracemalloc.is_tracing()`. */
  isTracing(): boolean {
    return this.tracing;
  }

  /** `tracemalloc.clear_traces()`: drops traces, tracebacks and filenames; current = peak = 0. */
  clearTraces(): void {
    if (this.tracing) this.clearTables();
  }

  /** `tracemalloc.get_traced_memory()`: `[current, peak]`, `[0, 0]` when not tracing. */
  getTracedMemory(): [current: number, peak: number] {
    return this.tracing ? [this.tracedMemory, this.peakTracedMemory] : [0, 0];
  }

  /** `tracemalloc.reset_peak()`: peak = current (no-op when not tracing). */
  resetPeak(): void {
    if (this.tracing) this.peakTracedMemory = this.tracedMemory;
  }

  /** `tracemalloc.get_traceback_limit()`: the last `start()` limit (1 before any). */
  getTracebackLimit(): number {
    return this.maxNframe;
  }

  /**
   * `tracemalloc.get_tracemalloc_memory()`: the bytes of the tracer's hash tables (tracebacks,
   * filenames, domain-0 traces and every other domain's traces); 624 when idle.
   */
  getTracemallocMemory(): number {
    let size = this.tracebacksSize.bytes() + this.filenamesSize.bytes();
    for (const table of this.tracesSizes.values()) size += table.bytes();
    return size;
  }

  /** `tracemalloc.take_snapshot()`. */
  takeSnapshot(): Snapshot {
    if (!this.tracing) {
      throw new PyException("RuntimeError", "the tracemalloc module must be tracing memory allocations to take a snapshot");
    }
    const raw: RawTrace[] = [];
    for (const [domain, table] of this.traces) {
      for (const trace of table.values()) raw.push([domain, trace.size, trace.traceback.frames, trace.traceback.totalNframe]);
    }
    return new Snapshot(raw, this.maxNframe);
  }

  /** `_PyTraceMalloc_GetTraceback(domain, ptr)` (`get_object_traceback` underneath); null when untraced. */
  getTraceback(pointer: number, domain = DEFAULT_DOMAIN): Traceback | null {
    if (!this.tracing) return null;
    const trace = this.traces.get(domain)?.get(pointer);
    return trace === undefined ? null : new Traceback(trace.traceback.frames);
  }

  /** `PyTraceMalloc_Track(domain, ptr, size)`: 0, or -2 when not tracing; re-tracking replaces. */
  track(domain: number, pointer: number, size: number): number {
    if (!this.tracing) return -2;
    this.addTrace(domain, pointer, size);
    return 0;
  }

  /** `PyTraceMalloc_Untrack(domain, ptr)`: 0, or -2 when not tracing. */
  untrack(domain: number, pointer: number): number {
    if (!this.tracing) return -2;
    this.removeTrace(domain, pointer);
    return 0;
  }

  // ---- the hooks' work --------------------------------------------------------------------

  /** `get_reentrant()` / `set_reentrant()`. */
  enter(): boolean {
    if (this.reentrant) return false;
    this.reentrant = true;
    return true;
  }
  /** Leaves the hooked call. */
  leave(): void {
    this.reentrant = false;
  }

  /** `tracemalloc_add_trace`: adds or replaces the trace of `pointer`. */
  addTrace(domain: number, pointer: number, size: number): void {
    const traceback = this.newTraceback();
    let table = this.traces.get(domain);
    let tableSize = this.tracesSizes.get(domain);
    if (table === undefined || tableSize === undefined) {
      table = new Map();
      tableSize = new HashtableSize();
      this.traces.set(domain, table);
      this.tracesSizes.set(domain, tableSize);
    }
    const trace = table.get(pointer);
    if (trace !== undefined) {
      this.tracedMemory -= trace.size;
      trace.size = size;
      trace.traceback = traceback;
    } else {
      table.set(pointer, { size, traceback });
      tableSize.added();
    }
    this.tracedMemory += size;
    if (this.tracedMemory > this.peakTracedMemory) this.peakTracedMemory = this.tracedMemory;
  }

  /** `tracemalloc_remove_trace`. */
  removeTrace(domain: number, pointer: number): void {
    const table = this.traces.get(domain);
    const trace = table?.get(pointer);
    if (table === undefined || trace === undefined) return;
    table.delete(pointer);
    this.tracesSizes.get(domain)!.removed();
    this.tracedMemory -= trace.size;
  }

  /** `traceback_new`: the current stack cut to the limit, interned (filenames too). */
  private newTraceback(): InternedTraceback {
    const stack = this.provider !== undefined ? this.provider() : this.current;
    if (stack.length === 0) return EMPTY_TRACEBACK;
    // Cache of the last interning of the stack given to setTraceback (copied there, so unchanged).
    if (stack === this.lastStack && this.lastInterned !== null) return this.lastInterned;
    if (this.provider !== undefined) return this.internTraceback(stack);
    const interned = this.internTraceback(stack);
    this.lastStack = stack;
    this.lastInterned = interned;
    return interned;
  }

  private internTraceback(stack: readonly FrameInput[]): InternedTraceback {
    const n = Math.min(stack.length, this.maxNframe);
    const frames: RawFrame[] = [];
    for (let i = 0; i < n; i++) {
      const f = stack[i]!;
      if (!this.filenames.has(f.filename)) {
        this.filenames.add(f.filename);
        this.filenamesSize.added();
      }
      frames.push([f.filename, f.lineno < 0 ? 0 : f.lineno]);
    }
    const totalNframe = Math.min(stack.length, MAX_NFRAME);
    const key = `${totalNframe}\u0000${frames.map(([f, l]) => `${f}\u0000${l}`).join("\u0000")}`;
    let interned = this.tracebacks.get(key);
    if (interned === undefined) {
      interned = { frames, totalNframe };
      this.tracebacks.set(key, interned);
      this.tracebacksSize.added();
    }
    return interned;
  }

  private clearTables(): void {
    for (const [domain, table] of this.traces) {
      table.clear();
      if (domain !== DEFAULT_DOMAIN) {
        this.traces.delete(domain);
        this.tracesSizes.delete(domain);
      }
    }
    this.tracesSizes.get(DEFAULT_DOMAIN)!.clear();
    this.tracedMemory = 0;
    this.peakTracedMemory = 0;
    this.tracebacks.clear();
    this.tracebacksSize.clear();
    this.filenames.clear();
    this.filenamesSize.clear();
    this.lastStack = null;
    this.lastInterned = null;
  }

  /** `_PyMem_DumpTraceback(fd, p)` while tracing. */
  private dumpTraceback(p: number): string {
    const trace = this.traces.get(DEFAULT_DOMAIN)!.get(p);
    if (trace === undefined) return "";
    let out = "Memory block allocated at (most recent call first):\n";
    for (const [filename, lineno] of trace.traceback.frames) out += `  File "${dumpAscii(filename)}", line ${lineno}\n`;
    return out + "\n";
  }
}

/** `tracemalloc_malloc_gil` / `tracemalloc_raw_malloc`. */
function hookMalloc(ctx: HookContext, size: number): number {
  const alloc = ctx.alloc;
  const tracer = ctx.tracer;
  if (!tracer.enter()) return alloc.malloc(alloc.ctx, size);
  try {
    const p = alloc.malloc(alloc.ctx, size);
    if (p !== 0) tracer.addTrace(DEFAULT_DOMAIN, p, size);
    return p;
  } finally {
    tracer.leave();
  }
}

/** `tracemalloc_calloc_gil` / `tracemalloc_raw_calloc`: the traced size is `nelem * elsize`. */
function hookCalloc(ctx: HookContext, nelem: number, elsize: number): number {
  const alloc = ctx.alloc;
  const tracer = ctx.tracer;
  if (!tracer.enter()) return alloc.calloc(alloc.ctx, nelem, elsize);
  try {
    const p = alloc.calloc(alloc.ctx, nelem, elsize);
    if (p !== 0) tracer.addTrace(DEFAULT_DOMAIN, p, nelem * elsize);
    return p;
  } finally {
    tracer.leave();
  }
}

/**
 * `tracemalloc_realloc_gil` / `tracemalloc_raw_realloc`. A nested (re-entrant) realloc only
 * drops the old address's trace; the outer call then traces the result with the new size.
 */
function hookRealloc(ctx: HookContext, pointer: number, size: number): number {
  const alloc = ctx.alloc;
  const tracer = ctx.tracer;
  if (!tracer.enter()) {
    const p2 = alloc.realloc(alloc.ctx, pointer, size);
    if (p2 !== 0 && pointer !== 0) tracer.removeTrace(DEFAULT_DOMAIN, pointer);
    return p2;
  }
  try {
    const p2 = alloc.realloc(alloc.ctx, pointer, size);
    if (p2 === 0) return 0;
    if (pointer !== 0 && p2 !== pointer) tracer.removeTrace(DEFAULT_DOMAIN, pointer);
    tracer.addTrace(DEFAULT_DOMAIN, p2, size);
    return p2;
  } finally {
    tracer.leave();
  }
}

/** `tracemalloc_free`: free first, then drop the trace (no re-entrancy check, as in CPython). */
function hookFree(ctx: HookContext, pointer: number): void {
  if (pointer === 0) return;
  const alloc = ctx.alloc;
  alloc.free(alloc.ctx, pointer);
  ctx.tracer.removeTrace(DEFAULT_DOMAIN, pointer);
}
