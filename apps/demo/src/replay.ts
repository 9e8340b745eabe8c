/**
 * Replaying a memtrace v1 trace through the full stack. This file holds the engine, which
 * works on parsed records one at a time and keeps only the live pointers; replay-file.ts
 * feeds it from a file or standard input.
 */
import { formatEvent, MEMTRACE_HEADER, PointerMap, type Domain, type MemtraceEvent, type TraceRecord } from "@mem/memtrace";
import { PlacedArenaAllocator } from "@mem/small-object";
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
    super(message.startsWith("memtrace: line") ? message : `line ${line}: ${kind}: ${message}`);
    this.line = line;
    this.cause = cause;
  }
}

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
  };

  /**
   * Prepares `stack` for replay. With `out`, every event is also written back as memtrace
   * v1 with the simulated pointers (after a `# heap-start` line for the simulated heap).
   */
  constructor(stack: CPythonStack, out?: (line: string) => void) {
    this.stack = stack;
    this.out = out;
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
  }

  /** The summary so far. */
  finish(): ReplaySummary {
    return { ...this.summary, live: this.live };
  }

  private sim(recorded: number, what: string): number {
    if (recorded === 0) return 0;
    const value = this.pointers.get(recorded);
    if (value >= 0) return value;
    if (value !== -1) return -value - 2; // freed: a use after free or a double free
    throw new Error(`${what} of 0x${recorded.toString(16)}, which no earlier event of the trace returned`);
  }

  private result(recorded: number, simulated: number): void {
    if (recorded !== 0 && simulated !== 0) {
      if (this.pointers.set(recorded, simulated) < 0) this.live++;
    }
    if ((recorded === 0) !== (simulated === 0)) this.summary.divergences++;
  }

  private apply(r: TraceRecord): void {
    const s = this.summary;
    switch (r.kind) {
      case "malloc": {
        s.calls++;
        const p = callMalloc(this.stack, r.domain, r.size);
        this.result(r.result, p);
        if (this.out) this.emit({ kind: "malloc", domain: r.domain, size: r.size, result: p });
        return;
      }
      case "calloc": {
        s.calls++;
        const p = callCalloc(this.stack, r.domain, r.nelem, r.elsize);
        this.result(r.result, p);
        if (this.out) this.emit({ kind: "calloc", domain: r.domain, nelem: r.nelem, elsize: r.elsize, result: p });
        return;
      }
      case "realloc": {
        s.calls++;
        const old = this.sim(r.ptr, "realloc");
        const p = callRealloc(this.stack, r.domain, old, r.size);
        // A successful realloc (or glibc's realloc(p, 0), which frees) ends the old pointer.
        if (r.ptr !== 0 && (r.result !== 0 || r.size === 0)) this.retire(r.ptr, old);
        this.result(r.result, p);
        if (this.out) this.emit({ kind: "realloc", domain: r.domain, ptr: old, size: r.size, result: p });
        return;
      }
      case "free": {
        s.calls++;
        const p = this.sim(r.ptr, "free");
        if (r.ptr !== 0) this.retire(r.ptr, p);
        callFree(this.stack, r.domain, p);
        if (this.out) this.emit({ kind: "free", domain: r.domain, ptr: p });
        return;
      }
      case "memalign": {
        s.calls++;
        if (r.domain !== "libc") throw new Error(`memalign is a C library call: domain must be libc, got ${r.domain}`);
        const p = this.stack.libc.memalign(r.alignment, r.size);
        this.result(r.result, p);
        if (this.out) this.emit({ kind: "memalign", domain: "libc", alignment: r.alignment, size: r.size, result: p });
        return;
      }
      case "arena-alloc":
        s.arenasRecorded++;
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
      case "comment":
        return;
    }
  }

  private retire(recorded: number, simulated: number): void {
    if (this.pointers.set(recorded, -simulated - 2) >= 0) this.live--;
  }

  private emit(event: MemtraceEvent): void {
    if (this.out) this.out(formatEvent(event));
  }
}
