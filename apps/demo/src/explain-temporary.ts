/**
 * `mem-demo explain <trace> --by lineno|filename|traceback --temporary N`: the temporary
 * allocations by source, as heaptrack reports them: blocks freed within N call events of
 * their allocation, grouped by where they were allocated, printed in tracemalloc's
 * statistics text (`file:line: size=<their total size>, count=<how many>, average=...`),
 * most bytes first.
 */
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { Statistic, Traceback, type KeyType, type RawFrame } from "@mem/pymem";
import { feedTrace, noStacksError } from "./explain-by-source.js";

/** Options of {@link temporaryBySource}. */
export interface TemporaryOptions {
  /** What the allocations are grouped by (tracemalloc's key types). */
  readonly by: KeyType;
  /** A block freed at most this many call events after its allocation is temporary. */
  readonly within: number;
  /** Only the first N lines. @defaultValue all */
  readonly top?: number;
}

/**
 * Reads `trace` and returns one line per source with temporary allocations, most bytes first.
 * @throws {@link BySourceError} for a trace without source locations; `MemtraceSyntaxError`
 */
export async function temporaryBySource(trace: string, options: TemporaryOptions): Promise<string[]> {
  // two accounts: the CPython domains (tracemalloc's), and libc lines, which count only in a
  // trace of a C program (no CPython domain at all: its call sites, record --libc --frames)
  const state = [0, 1].map(() => ({
    born: new Map<number, number>(), // ptr -> call event of its allocation
    size: new Map<number, number>(),
    tbOf: new Map<number, number>(),
    perTraceback: new Map<number, { size: number; count: number }>(),
  }));
  let sawPython = false;
  let current = state[0]!;
  let calls = 0;
  let sawStacks = false;
  const stream: TraceStream = new TraceStream((r: TraceRecord) => {
    switch (r.kind) {
      case "stack":
        sawStacks = true;
        return;
      case "malloc":
      case "calloc":
      case "memalign":
      case "realloc":
      case "free":
        calls++;
        if (r.domain !== "libc") sawPython = true;
        current = state[r.domain === "libc" ? 1 : 0]!;
        if (r.kind === "free" || (r.kind === "realloc" && r.ptr !== 0 && r.result !== 0)) end(r.ptr);
        if (r.kind !== "free" && r.result !== 0) {
          current.born.set(r.result, calls);
          current.size.set(r.result, r.kind === "calloc" ? r.nelem * r.elsize : r.size);
          current.tbOf.set(r.result, stream.stacks.current);
        }
        return;
      default:
        return;
    }
  });
  const end = (ptr: number) => {
    const { born, size, tbOf, perTraceback } = current;
    const b = born.get(ptr);
    if (b === undefined) return;
    if (calls - b <= options.within) {
      const tb = tbOf.get(ptr)!;
      const agg = perTraceback.get(tb) ?? { size: 0, count: 0 };
      agg.size += size.get(ptr)!;
      agg.count++;
      perTraceback.set(tb, agg);
    }
    born.delete(ptr);
    size.delete(ptr);
    tbOf.delete(ptr);
  };
  await feedTrace(stream, trace);
  if (!sawStacks) throw noStacksError();
  const groups = new Map<string, Statistic>();
  for (const [tb, agg] of state[sawPython ? 0 : 1]!.perTraceback) {
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
