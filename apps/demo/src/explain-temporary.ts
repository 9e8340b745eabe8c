/**
 * `mem-demo explain <trace> --by lineno|filename|traceback --temporary N`: the temporary
 * allocations by source, as heaptrack reports them: blocks freed within N call events of
 * their allocation, grouped by where they were allocated, printed in tracemalloc's
 * statistics text (`file:line: size=<their total size>, count=<how many>, average=...`),
 * most bytes first. The blocks are those tracemalloc traces (./source-tracker.ts, as `--by`):
 * the recorder's own and those allocated before tracing started are not counted.
 */
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { Statistic, Traceback, type KeyType, type RawFrame } from "@mem/pymem";
import { feedTrace, noStacksError } from "./explain-by-source.js";
import { SourceTracker, type TracedBlock, type TracingStart } from "./source-tracker.js";

/** Options of {@link temporaryBySource}. */
export interface TemporaryOptions {
  /** What the allocations are grouped by (tracemalloc's key types). */
  readonly by: KeyType;
  /** A block freed at most this many call events after its allocation is temporary. */
  readonly within: number;
  /** Only the first N lines. @defaultValue all */
  readonly top?: number;
  /** When tracing started, as `explainBySource`'s `since`: blocks allocated before are not counted. @defaultValue "x-tracemalloc" */
  readonly since?: TracingStart;
}

/**
 * Reads `trace` and returns one line per source with temporary allocations, most bytes first.
 * @throws {@link BySourceError} for a trace without source locations; `MemtraceSyntaxError`
 */
export async function temporaryBySource(trace: string, options: TemporaryOptions): Promise<string[]> {
  // per traceback, for the CPython domains (tracemalloc's) and libc lines, which count only in
  // a trace of a C program (no CPython domain at all: its call sites, record --libc --frames)
  const perTraceback = [0, 1].map(() => new Map<number, { size: number; count: number }>());
  const tracker = new SourceTracker({ ...(options.since !== undefined ? { since: options.since } : {}), onStart: () => perTraceback.forEach((m) => m.clear()) });
  // the traceback of each block's allocation, as heaptrack sees it (a `#R` reuse is no malloc)
  const allocatedAt = new WeakMap<TracedBlock, number>();
  const stream: TraceStream = new TraceStream((r: TraceRecord) => {
    const effect = tracker.handle(r, stream.stacks.current);
    if (effect === undefined) return;
    const { traced, ended } = effect;
    if (traced !== undefined) allocatedAt.set(traced, traced.tb);
    if (ended === undefined || tracker.calls - ended.born > options.within) return;
    const byTb = perTraceback[r.domain === "libc" ? 1 : 0]!;
    const tb = allocatedAt.get(ended)!;
    const agg = byTb.get(tb) ?? { size: 0, count: 0 };
    agg.size += ended.size;
    agg.count++;
    byTb.set(tb, agg);
  });
  await feedTrace(stream, trace);
  if (!tracker.sawStacks) throw noStacksError();
  const groups = new Map<string, Statistic>();
  for (const [tb, agg] of perTraceback[tracker.sawPython ? 0 : 1]!) {
    let frames: RawFrame[] = [["<unknown>", 0]];
    if (tb >= 0) frames = stream.stacks.resolve(tb)!.map((f): RawFrame => [f.filename, f.lineno]);
    const key: RawFrame[] = options.by === "traceback" ? frames : options.by === "lineno" ? frames.slice(0, 1) : [[frames[0]![0], 0]];
    const traceback = new Traceback(key);
    const stat = groups.get(traceback.key);
    if (stat === undefined) groups.set(traceback.key, new Statistic(traceback, agg.size, agg.count));
    else {
      stat.size += agg.size;
      stat.count += agg.count;
    }
  }
  const lines = [...groups.values()].sort((a, b) => Statistic.compareDescending(a, b)).map(String);
  return options.top === undefined ? lines : lines.slice(0, options.top);
}
