/**
 * `mem-demo explain <trace> --by … --at peak`: the moment tracemalloc's
 * `get_traced_memory()[1]` names, the call event after which the live traced bytes were the
 * highest (the first such event), read from a trace with source locations.
 *
 * The count is tracemalloc's: every block of the raw, mem and obj domains (calloc: nelem ×
 * elsize) allocated since tracing started and not yet freed; a realloc frees the old size
 * first and then adds the new one (so a block grown in place reaches the peak with its new
 * size only), as tracemalloc_realloc does. The traced blocks are ./source-tracker.ts's: blocks
 * the recorder marks as not the program's (`# recorder-own-begin/end`,
 * `# tracemalloc-init-begin/end`) are not counted; `libc` lines (a C program's calls) are
 * counted only in a trace that has no Python ones.
 */
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { feedTrace, type SourceMoment } from "./explain-by-source.js";
import { SourceTracker, type TracingStart } from "./source-tracker.js";

/** Options of {@link tracedPeak}. */
export interface TracedPeakOptions {
  /** When tracing started, as `explainBySource`'s `since`. @defaultValue "x-tracemalloc" */
  readonly since?: TracingStart;
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

/**
 * Reads `trace` (plain or `.gz`) and returns the peak of the live traced bytes, the event of
 * the peak and the traced bytes at the end (or at `until`).
 * @throws `MemtraceSyntaxError` for a malformed trace (naming the line)
 */
export async function tracedPeak(trace: string, options: TracedPeakOptions = {}): Promise<TracedPeak> {
  const until = options.until;
  // the peak of each kind of line (CPython domains, libc), reset when tracing (re)starts
  const peak = [0, 0];
  const peakAt = [0, 0];
  const tracker = new SourceTracker({
    since: options.since ?? "x-tracemalloc",
    onStart: () => {
      peak.fill(0);
      peakAt.fill(0);
    },
  });
  const stream: TraceStream = new TraceStream((r: TraceRecord) => {
    if (until !== undefined && tracker.calls >= until) return;
    const effect = tracker.handle(r, stream.stacks.current);
    if (effect?.traced === undefined) return;
    // a realloc ends the old block before tracing the new one: the peak sees the new size only
    [tracker.python, tracker.libc].forEach((t, k) => {
      if (t.total > peak[k]!) {
        peak[k] = t.total;
        peakAt[k] = tracker.calls;
      }
    });
  });
  await feedTrace(stream, trace, () => until !== undefined && tracker.calls >= until);
  const k = tracker.sawPython ? 0 : 1;
  return { at: peak[k]! > 0 ? peakAt[k]! : "end", peak: peak[k]!, current: tracker.live.total };
}
