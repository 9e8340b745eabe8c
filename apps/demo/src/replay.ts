/**
 * Replaying a memtrace v1 trace through the full stack. This file holds the engine, which
 * works on parsed records one at a time and keeps only the live pointers; replay-file.ts
 * feeds it from a file or standard input.
 */
import { formatEvent, MEMTRACE_HEADER, PointerMap, type Domain, type MemtraceEvent, type TraceRecord } from "@mem/memtrace";
import { GlibcMalloc } from "@mem/libc-malloc";
import { PlacedArenaAllocator } from "@mem/small-object";
import { obmallocStateOf, selectObmallocState } from "./obmalloc-states.js";
import { applyLibcControl, libcControlLine, libcControlOf } from "./libc-control.js";
import { memoryErrorFor, outOfMemoryText } from "./out-of-memory.js";
import type { CPythonStack } from "./stack.js";

/** What a replay did. */
export interface ReplaySummary {
  /** Lines read, comments included. */
  lines: number;
  /** Allocation events replayed (m, c, r, f, a). */
  calls: number;
  /** `A` lines seen (arenas the recorded pymalloc obtained). */
  arenasRecorded: number;
  /** `D` lines seen (arenas the recorded pymalloc released). */
  arenasReleasedRecorded: number;
  /** `w` lines applied. */
  writes: number;
  /** Calls whose success differed from the recording (NULL in one, a pointer in the other). */
  divergences: number;
  /** Pointers still live at the end. */
  live: number;
  /** The most pointers live at once. */
  peakLive: number;
  /** Allocation events per domain. */
  domains: Record<Domain, number>;
  /**
   * Results that were still live in the recording's pointer table (the trace says an allocator
   * returned P while P had not been freed: a missed free, or a corrupt trace). Each is also a
   * divergence: the earlier simulated block stays allocated.
   */
  reusedLive: number;
  /**
   * `libc` results compared with the recording's placement (a trace with `# heap-start`):
   * brk-heap results at the same offset from the heap start, results in a thread arena's heap
   * at the same offset from their 64 MiB-aligned heap, mmapped ones at the same offset in
   * their page.
   */
  placements: { compared: number; moved: number; firstMovedLine: number | null };
  /** Warnings (each also went to the `warn` callback, the first 20 of them). */
  warnings: number;
}

/** Options of a {@link Replayer}. */
export interface ReplayerOptions {
  /** Receives one line per warning (a reused live pointer, arenas of another size); at most 20 are sent. */
  warn?: (message: string) => void;
  /**
   * Called after each line is replayed (not for the line that failed), with the record and
   * its line number: tools that watch a replay (`mem-demo explain`) sample the stack here.
   */
  onEvent?: (record: TraceRecord, line: number) => void;
}

/** A replay stopped by a malformed line or by a fault of the simulated program. */
export class ReplayError extends Error {
  override readonly name = "ReplayError";
  /** The 1-based line number of the event that stopped the replay. */
  readonly line: number;
  /** The underlying error (a syntax error, a segfault, an abort, a fatal error). */
  override readonly cause: unknown;

  /** Wraps `cause`, raised at `line`. */
  constructor(line: number, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const kind = cause instanceof Error ? cause.name : "Error";
    const outOfMemory = outOfMemoryText(cause); // MemoryError, or the OOM killer's SIGKILL
    super(message.startsWith("memtrace: line") ? message : `line ${line}: ${outOfMemory ?? `${kind}: ${message}`}`);
    this.line = line;
    this.cause = cause;
  }
}

/** The comment an older libc recorder wrote for a new thread (without `n`/`t`/`x` records). */
const THREAD_COMMENT = /^ thread \d+ starts allocating/;
/** The libc recorder gave up waiting for a thread's exit (memtrace_libc.c's EXIT_WAIT_NS). */
const UNCONFIRMED_EXIT = /^ exit of thread (\d+) unconfirmed/;

/** HEAP_MAX_SIZE: a glibc thread arena's heaps are 64 MiB, aligned to their size. */
const THREAD_HEAP = 64 * 1024 * 1024;

/** Calls of one domain, dispatched without building closures per event. */
function callMalloc(stack: CPythonStack, domain: Domain, size: number): number {
  switch (domain) {
    case "obj":
      return stack.pymem.objectMalloc(size);
    case "mem":
      return stack.pymem.memMalloc(size);
    case "raw":
      return stack.pymem.rawMalloc(size);
    case "libc":
      return stack.libc.malloc(size);
  }
}

function callCalloc(stack: CPythonStack, domain: Domain, nelem: number, elsize: number): number {
  switch (domain) {
    case "obj":
      return stack.pymem.objectCalloc(nelem, elsize);
    case "mem":
      return stack.pymem.memCalloc(nelem, elsize);
    case "raw":
      return stack.pymem.rawCalloc(nelem, elsize);
    case "libc":
      return stack.libc.calloc(nelem, elsize);
  }
}

function callRealloc(stack: CPythonStack, domain: Domain, ptr: number, size: number): number {
  switch (domain) {
    case "obj":
      return stack.pymem.objectRealloc(ptr, size);
    case "mem":
      return stack.pymem.memRealloc(ptr, size);
    case "raw":
      return stack.pymem.rawRealloc(ptr, size);
    case "libc":
      return stack.libc.realloc(ptr, size);
  }
}

function callFree(stack: CPythonStack, domain: Domain, ptr: number): void {
  switch (domain) {
    case "obj":
      return stack.pymem.objectFree(ptr);
    case "mem":
      return stack.pymem.memFree(ptr);
    case "raw":
      return stack.pymem.rawFree(ptr);
    case "libc":
      return stack.libc.free(ptr);
  }
}

/**
 * Replays records through a stack. Recorded pointers are mapped to the simulated ones
 * (an open-addressing table of live pointers: memory stays proportional to the live
 * blocks, not to the trace); each `A` line makes the next simulated pymalloc arena sit at
 * the recorded arena's offset modulo the pool size, so that statistics can match exactly.
 */
export class Replayer {
  private readonly stack: CPythonStack;
  /**
   * Recorded pointer → simulated pointer, for live pointers and freed ones alike, so that a
   * scenario can write after free (`w`) or free twice and meet the real system's reaction.
   * A freed pointer is stored as `-simulated - 2` (never -1, the map's "absent"); it is
   * replaced when the recorded address is handed out again, so the table stays proportional
   * to the addresses the recorded program used, not to the trace. One table and one probe
   * per event, where two tables cost two or three.
   */
  private readonly pointers = new PointerMap(1 << 17);
  /** Recorded pointers live now. */
  private live = 0;
  /** Whether the requested size of each live block is kept beside its pointer ({@link keepRequestedSizes}). */
  private keepRequested = false;
  /** The sum of the requested sizes of the live blocks, when kept. */
  private requestedBytes = 0;
  private readonly placed: PlacedArenaAllocator | undefined;
  private readonly out: ((line: string) => void) | undefined;
  private readonly summary: ReplaySummary = {
    lines: 0,
    calls: 0,
    arenasRecorded: 0,
    arenasReleasedRecorded: 0,
    writes: 0,
    divergences: 0,
    live: 0,
    peakLive: 0,
    domains: { raw: 0, mem: 0, obj: 0, libc: 0 },
    reusedLive: 0,
    placements: { compared: 0, moved: 0, firstMovedLine: null },
    warnings: 0,
  };
  private readonly warnFn: ((message: string) => void) | undefined;
  private readonly onEvent: ((record: TraceRecord, line: number) => void) | undefined;
  /** The recorded process's initial break (`# heap-start`), once seen. */
  private recordedHeapStart: number | undefined;
  /** The simulated process's initial break (read once, at the `# heap-start` line). */
  private simulatedHeapStart = 0;
  private arenaSizeWarned = false;
  /** A `# thread N starts allocating` comment was read and no `n` line followed yet (an older recorder). */
  private threadCommentPending = false;
  private threadlessWarned = false;

  /**
   * Prepares `stack` for replay. With `out`, every event is also written back as memtrace
   * v1 with the simulated pointers (after a `# heap-start` line for the simulated heap).
   */
  constructor(stack: CPythonStack, out?: (line: string) => void, options: ReplayerOptions = {}) {
    this.stack = stack;
    this.out = out;
    this.warnFn = options.warn;
    this.onEvent = options.onEvent;
    if (stack.pymalloc !== undefined) {
      const inner = stack.pymem.getArenaAllocator();
      const placed = new PlacedArenaAllocator(() => inner, { modulus: stack.pymalloc.params.poolSize, trim: true });
      this.placed = placed;
      stack.pymem.setArenaAllocator({
        ctx: placed,
        alloc: (_ctx, size) => {
          const arena = placed.alloc(placed, size);
          if (arena !== 0) this.emit({ kind: "arena-alloc", size, result: arena });
          return arena;
        },
        free: (_ctx, arena, size) => {
          if (this.out) this.emit({ kind: "arena-free", ptr: arena, size });
          placed.free(placed, arena, size);
        },
      });
    }
    if (out) {
      out(MEMTRACE_HEADER);
      out(`# replayed by mem-demo: PYTHONMALLOC=${stack.options.pythonMalloc}, libc ${stack.options.libc}`);
      out(`# heap-start 0x${stack.process.startBrk.toString(16)}`);
    }
  }

  /** Replays one parsed line; throws {@link ReplayError} when the simulated program faults. */
  handle(record: TraceRecord, line: number): void {
    this.summary.lines = line;
    try {
      this.apply(record);
    } catch (error) {
      throw new ReplayError(line, error);
    }
    if (this.onEvent !== undefined) this.onEvent(record, line);
  }

  /**
   * The simulated pointer a recorded one maps to (for a freed pointer, the one it had), or 0
   * when no event of the trace returned it. Read-only: for tools that watch a replay.
   */
  simulatedPointer(recorded: number): number {
    if (recorded === 0) return 0;
    const value = this.pointers.get(recorded);
    return value >= 0 ? value : value === -1 ? 0 : -value - 2;
  }

  /**
   * Keeps, from now on, the bytes each call asked for beside its pointer in the pointer table
   * (one probe per event for both), for tools that watch a replay (`mem-demo explain`'s
   * timeline): see {@link liveRequested} and {@link forEachLiveRequested}. Call it before the
   * first line.
   */
  keepRequestedSizes(): void {
    this.keepRequested = true;
  }

  /** Bytes the program asked for in its live blocks (with {@link keepRequestedSizes}, else 0). */
  get liveRequested(): number {
    return this.requestedBytes;
  }

  /** Calls `fn` with the simulated pointer and requested bytes of every live block (with {@link keepRequestedSizes}). */
  forEachLiveRequested(fn: (simulated: number, size: number) => void): void {
    if (!this.keepRequested) return;
    this.pointers.forEach((value, _key, size) => {
      if (value >= 0) fn(value, size);
    });
  }

  /** The summary so far. */
  finish(): ReplaySummary {
    const s = this.summary;
    return { ...s, live: this.live, domains: { ...s.domains }, placements: { ...s.placements } };
  }

  /**
   * A Python-domain call returned NULL where the recorded one got memory: CPython raises
   * MemoryError here (thrown, ending the replay). A C program's NULL is only a divergence.
   */
  private noMemory(domain: Domain, kind: "Malloc" | "Calloc" | "Realloc", args: readonly (number | string)[]): void {
    const error = memoryErrorFor(domain, kind, args);
    if (error !== undefined) throw error;
  }

  private warn(message: string): void {
    if (this.summary.warnings++ < 20) this.warnFn?.(`line ${this.summary.lines}: ${message}`);
  }

  private sim(recorded: number, what: string): number {
    if (recorded === 0) return 0;
    const value = this.pointers.get(recorded);
    if (value >= 0) return value;
    if (value !== -1) return -value - 2; // freed: a use after free or a double free
    throw new Error(`${what} of 0x${recorded.toString(16)}, which no earlier event of the trace returned`);
  }

  private result(recorded: number, simulated: number, size: number): void {
    if (recorded !== 0 && simulated !== 0) {
      let previous: number;
      if (this.keepRequested) {
        previous = this.pointers.setWithExtra(recorded, simulated, size);
        this.requestedBytes += size - (previous >= 0 ? this.pointers.previousExtra : 0);
      } else previous = this.pointers.set(recorded, simulated);
      if (previous < 0) {
        if (++this.live > this.summary.peakLive) this.summary.peakLive = this.live;
      } else this.reusedLive(recorded, previous);
    }
    if ((recorded === 0) !== (simulated === 0)) this.summary.divergences++;
  }

  /** The trace says an allocator returned `recorded` while it was still live. */
  private reusedLive(recorded: number, previous: number): void {
    this.summary.reusedLive++;
    this.summary.divergences++;
    this.warn(
      `0x${recorded.toString(16)} returned again while still live (no free in the trace): ` +
        `the earlier block (simulated 0x${previous.toString(16)}) stays allocated`,
    );
  }

  /** Compares a libc result's placement with the recording's (see {@link ReplaySummary.placements}). */
  private place(recorded: number, simulated: number): void {
    const start = this.recordedHeapStart;
    if (start === undefined || recorded === 0 || simulated === 0) return;
    const p = this.summary.placements;
    p.compared++;
    const offset = recorded - start;
    const same =
      offset >= 0 && offset < 2 ** 30
        ? simulated - this.simulatedHeapStart === offset
        : recorded % 4096 === 16 // an mmapped chunk: 16 bytes into its first page
          ? simulated % 4096 === 16
          : simulated % THREAD_HEAP === recorded % THREAD_HEAP;
    if (!same && p.moved++ === 0) p.firstMovedLine = this.summary.lines;
  }

  /** A trace from a recorder without thread records: warned once. */
  private threadless(): void {
    this.threadCommentPending = false;
    if (this.threadlessWarned) return;
    this.threadlessWarned = true;
    this.warn(
      "the trace names other threads only in comments (recorded without thread records): their calls are replayed " +
        "as the main thread's, so the blocks glibc put in thread arenas land elsewhere; record again for t/n/x lines",
    );
  }

  /** An `A` line: warns once when the recorded arena size is not the preset's. */
  private checkArenaSize(size: number): void {
    const params = this.stack.pymalloc?.params;
    if (params === undefined || this.arenaSizeWarned || size === params.arenaSize) return;
    this.arenaSizeWarned = true;
    this.warn(
      `the recorded pymalloc arenas are ${size} bytes; pymalloc ${params.name} uses ${params.arenaSize} ` +
        `(recorded by another CPython version? give --pymalloc-version)`,
    );
  }

  private apply(r: TraceRecord): void {
    const s = this.summary;
    if (this.threadCommentPending && r.kind !== "thread-start" && r.kind !== "comment") this.threadless();
    switch (r.kind) {
      case "malloc": {
        s.calls++;
        s.domains[r.domain]++;
        const p = callMalloc(this.stack, r.domain, r.size);
        if (p === 0 && r.result !== 0) this.noMemory(r.domain, "Malloc", [r.size]);
        this.result(r.result, p, r.size);
        if (r.domain === "libc") this.place(r.result, p);
        if (this.out) this.emit({ kind: "malloc", domain: r.domain, size: r.size, result: p });
        return;
      }
      case "calloc": {
        s.calls++;
        s.domains[r.domain]++;
        const p = callCalloc(this.stack, r.domain, r.nelem, r.elsize);
        if (p === 0 && r.result !== 0) this.noMemory(r.domain, "Calloc", [r.nelem, r.elsize]);
        this.result(r.result, p, r.nelem * r.elsize);
        if (r.domain === "libc") this.place(r.result, p);
        if (this.out) this.emit({ kind: "calloc", domain: r.domain, nelem: r.nelem, elsize: r.elsize, result: p });
        return;
      }
      case "realloc": {
        s.calls++;
        s.domains[r.domain]++;
        const old = this.sim(r.ptr, "realloc");
        const p = callRealloc(this.stack, r.domain, old, r.size);
        if (p === 0 && r.result !== 0) this.noMemory(r.domain, "Realloc", [`0x${old.toString(16)}`, r.size]);
        // A successful realloc (or glibc's realloc(p, 0), which frees) ends the old pointer.
        if (r.ptr !== 0 && (r.result !== 0 || r.size === 0)) this.retire(r.ptr, old);
        this.result(r.result, p, r.size);
        if (r.domain === "libc") this.place(r.result, p);
        if (this.out) this.emit({ kind: "realloc", domain: r.domain, ptr: old, size: r.size, result: p });
        return;
      }
      case "free": {
        s.calls++;
        s.domains[r.domain]++;
        const p = this.sim(r.ptr, "free");
        if (r.ptr !== 0) this.retire(r.ptr, p);
        callFree(this.stack, r.domain, p);
        if (this.out) this.emit({ kind: "free", domain: r.domain, ptr: p });
        return;
      }
      case "memalign": {
        s.calls++;
        if (r.domain !== "libc") throw new Error(`memalign is a C library call: domain must be libc, got ${r.domain}`);
        s.domains.libc++;
        const p = this.stack.libc.memalign(r.alignment, r.size);
        this.result(r.result, p, r.size);
        this.place(r.result, p);
        if (this.out) this.emit({ kind: "memalign", domain: "libc", alignment: r.alignment, size: r.size, result: p });
        return;
      }
      case "arena-alloc":
        s.arenasRecorded++;
        this.checkArenaSize(r.size);
        this.placed?.expect(r.result);
        return;
      case "arena-free":
        s.arenasReleasedRecorded++;
        return;
      case "write": {
        s.writes++;
        const p = this.sim(r.ptr, "write");
        this.stack.process.memory.write(p + r.offset, r.bytes);
        if (this.out) this.emit({ kind: "write", ptr: p, offset: r.offset, bytes: r.bytes });
        return;
      }
      case "heap-start":
        this.recordedHeapStart = r.address;
        this.simulatedHeapStart = this.stack.process.startBrk;
        return;
      case "frame":
      case "traceback":
      case "stack":
        // source locations: kept as they are (the traceback applies to the events that follow)
        if (this.out) this.out(formatEvent(r));
        return;
      case "retrace":
        // a live block gets the traceback in force: written with the block's simulated address
        if (this.out) {
          const p = this.pointers.get(r.ptr);
          if (p >= 0) this.emit({ kind: "retrace", ptr: p });
        }
        return;
      case "thread":
        // glibc serves the events that follow for this thread (its tcache, its arena)
        if (this.stack.libc instanceof GlibcMalloc) this.stack.libc.setThread(r.thread);
        if (this.out) this.emit({ kind: "thread", thread: r.thread });
        return;
      case "thread-exit":
        // glibc's thread-exit work: the thread's tcache flushed, its arena to the free list
        if (this.stack.libc instanceof GlibcMalloc) this.stack.libc.threadExit(r.thread);
        if (this.out) this.emit({ kind: "thread-exit", thread: r.thread });
        return;
      case "thread-start":
        this.threadCommentPending = false;
        if (this.out) this.emit({ kind: "thread-start", thread: r.thread });
        return;
      case "cpus":
        if (this.out) this.emit({ kind: "cpus", count: r.count });
        return;
      case "comment": {
        if (THREAD_COMMENT.test(r.text)) this.threadCommentPending = true;
        const unconfirmed = UNCONFIRMED_EXIT.exec(r.text);
        if (unconfirmed !== null) {
          this.warn(
            `the recorder could not confirm that thread ${unconfirmed[1]} had finished exiting here: ` +
              `glibc may have done its exit work later, and the arenas of the threads that follow may differ from the recording`,
          );
        }
        // CPython 3.12+: the calls that follow are served by this interpreter's obmalloc state
        const state = obmallocStateOf(r.text);
        if (state !== undefined) selectObmallocState(this.stack, state);
        // the program's malloc_trim and mallopt calls (libc-control.ts): made on the simulated glibc too
        const control = libcControlOf(r.text);
        if (control !== undefined) {
          const result = applyLibcControl(this.stack, control);
          if (result !== undefined && result !== control.result) {
            this.summary.divergences++;
            this.warn(`${control.call} returned ${result} here, ${control.result} in the recorded run`);
          }
          if (this.out) this.out(libcControlLine(result === undefined ? control : { ...control, result }));
        }
        // the metadata of source locations (the frame limit, where -X tracemalloc starts) stays
        if (this.out && (r.text === " x-tracemalloc-start" || r.text.startsWith(" frames "))) this.out(`#${r.text}`);
        return;
      }
    }
  }

  private retire(recorded: number, simulated: number): void {
    if (this.keepRequested) {
      if (this.pointers.setWithExtra(recorded, -simulated - 2, 0) >= 0) {
        this.live--;
        this.requestedBytes -= this.pointers.previousExtra;
      }
    } else if (this.pointers.set(recorded, -simulated - 2) >= 0) this.live--;
  }

  private emit(event: MemtraceEvent): void {
    if (this.out) this.out(formatEvent(event));
  }
}
