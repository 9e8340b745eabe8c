/**
 * `mem-demo explain <trace> --by … --at peak`: the moment tracemalloc's
 * `get_traced_memory()[1]` names, the call event after which the live traced bytes were the
 * highest (the first such event), read from a trace with source locations.
 *
 * The count is tracemalloc's: every block of the raw, mem and obj domains (calloc: nelem ×
 * elsize) allocated since tracing started and not yet freed; a realloc frees the old size
 * first and then adds the new one (so a block grown in place reaches the peak with its new
 * size only), as tracemalloc_realloc does. Blocks the recorder marks as not the program's
 * (`# recorder-own-begin/end`, `# tracemalloc-init-begin/end`) are not counted; `libc` lines
 * (a C program's calls) are counted only in a trace that has no Python ones.
 */
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { feedTrace, OWN_BEGIN, OWN_END, TM_INIT_BEGIN, TM_INIT_END, type SourceMoment } from "./explain-by-source.js";

/** Options of {@link tracedPeak}. */
export interface TracedPeakOptions {
  /** When tracing started, as `explainBySource`'s `since`. @defaultValue "x-tracemalloc" */
  readonly since?: number | "start" | "x-tracemalloc";
  /** Only the events up to this one (the peak tracemalloc reports when asked at that moment). @defaultValue the end */
  readonly until?: number;
}

/** The peak of the live traced bytes and when it was reached. */
export interface TracedPeak {
  /** The call event after which the traced bytes were at their peak ("end" when nothing was traced). */
  readonly at: SourceMoment;
  /** The peak: tracemalloc's `get_traced_memory()[1]`. */
  readonly peak: number;
  /** The traced bytes at `until` (or the end): `get_traced_memory()[0]`. */
  readonly current: number;
}

/** Live traced blocks and their sum, for one kind of line (Python domains or libc). */
class Traced {
  readonly blocks = new Map<number, number>();
  total = 0;
  peak = 0;
  peakAt = 0;

  add(ptr: number, size: number, at: number): void {
    this.remove(ptr);
    this.blocks.set(ptr, size);
    this.total += size;
    if (this.total > this.peak) {
      this.peak = this.total;
      this.peakAt = at;
    }
  }

  remove(ptr: number): void {
    const size = this.blocks.get(ptr);
    if (size === undefined) return;
    this.blocks.delete(ptr);
    this.total -= size;
  }

  clear(): void {
    this.blocks.clear();
    this.total = this.peak = this.peakAt = 0;
  }
}

/**
 * Reads `trace` (plain or `.gz`) and returns the peak of the live traced bytes, the event of
 * the peak and the traced bytes at the end (or at `until`).
 * @throws `MemtraceSyntaxError` for a malformed trace (naming the line)
 */
export async function tracedPeak(trace: string, options: TracedPeakOptions = {}): Promise<TracedPeak> {
  const since = options.since ?? "x-tracemalloc";
  const until = options.until;
  const python = new Traced();
  const libc = new Traced();
  let sawPython = false;
  let own = false;
  let calls = 0;
  const apply = (r: TraceRecord) => {
    const t = r.domain === "libc" ? libc : python;
    if (r.domain !== "libc") sawPython = true;
    switch (r.kind) {
      case "malloc":
      case "memalign":
        if (r.result !== 0 && !own) t.add(r.result, r.size, calls);
        return;
      case "calloc":
        if (r.result !== 0 && !own) t.add(r.result, r.nelem * r.elsize, calls);
        return;
      case "realloc":
        if (r.result === 0) return;
        if (r.ptr !== 0) t.remove(r.ptr);
        if (!own) t.add(r.result, r.size, calls);
        return;
      case "free":
        t.remove(r.ptr);
        return;
      default:
        return;
    }
  };
  const stream = new TraceStream((r: TraceRecord) => {
    if (until !== undefined && calls >= until) return;
    switch (r.kind) {
      case "malloc":
      case "calloc":
      case "memalign":
      case "realloc":
      case "free":
        calls++;
        apply(r);
        if (calls === since) {
          python.clear();
          libc.clear();
        }
        return;
      case "comment":
        if (r.text === OWN_BEGIN || r.text === TM_INIT_BEGIN) own = true;
        else if (r.text === OWN_END || r.text === TM_INIT_END) own = false;
        else if (since === "x-tracemalloc" && r.text === " x-tracemalloc-start") {
          python.clear();
          libc.clear();
        }
        return;
      default:
        return;
    }
  });
  await feedTrace(stream, trace, () => until !== undefined && calls >= until);
  const t = sawPython ? python : libc;
  return { at: t.peak > 0 ? t.peakAt : "end", peak: t.peak, current: t.total };
}
