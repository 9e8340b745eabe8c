/**
 * `mem-demo explain <trace> --by lineno|filename|traceback --pins` / `--faults`: two answers
 * tracemalloc cannot give, by source.
 *
 * - **Faults** ("which allocation made RSS jump"): the trace is replayed through the
 *   simulated stack and the process's minor-fault counter (`ru_minflt`) is read around each
 *   allocation event; the faults it caused (first touches of pages: pymalloc's pool headers
 *   in a fresh arena, glibc's chunk headers past the old top, calloc's zeroing) go to the
 *   event's traceback. Frees and what runs outside events are counted apart.
 *
 *       m obj 64 ...   minflt 120 -> 121   a.py:3 +1 (a new pool's header page)
 *       m raw 300000   minflt 121 -> 122   b.py:9 +1 (mmap chunk header; the rest is untouched)
 *
 * - **Pins** (at `--at`): the pymalloc arenas and the glibc heap top that the source's
 *   surviving blocks keep from the kernel, from the insight layer's `pinsOf`. An arena is
 *   pinned by every source with a live block in it, and pinned *alone* when all its live
 *   blocks are that source's: freeing them would return the arena (its resident bytes). The
 *   heap top is pinned by the source of the chunk that stops it from being trimmed.
 *
 * Which blocks are traced, and by which traceback, is ./source-tracker.ts's account, the same
 * as `--by`'s: what the recorder allocated for itself or before tracing started is `<untraced>`.
 */
import { accountDetail, pinsOf } from "@mem/insight";
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { Traceback, formatSize, type KeyType, type RawFrame } from "@mem/pymem";
import { BySourceError, feedTrace, noStacksError } from "./explain-by-source.js";
import { Replayer } from "./replay.js";
import { SourceTracker, type TracingStart } from "./source-tracker.js";
import type { CPythonStack } from "./stack.js";

/** The source of blocks and faults tracemalloc never traced (made before tracing started, or the recorder's own). */
const UNTRACED = "<untraced>";

/** glibc's chunk header: the user pointer is 16 bytes past the chunk. */
const CHUNK_HEADER = 16;

/** Options of {@link pinsAndFaultsBySource}. */
export interface PinsFaultsOptions {
  /** What the sources are grouped by (the first frame for `lineno`, its file for `filename`). */
  readonly by: KeyType;
  /** After this many call events, or the end. @defaultValue "end" */
  readonly at?: number | "end";
  /** When tracing started, as `explainBySource`'s `since`: blocks and allocation faults before it are `<untraced>`. @defaultValue "x-tracemalloc" */
  readonly since?: TracingStart;
}

/** One source's pins and faults. */
export interface SourcePins {
  /** `str(traceback)` as tracemalloc prints it, `<untraced>` for blocks and allocation events tracemalloc never traced (before tracing started, the recorder's own). */
  readonly source: string;
  /** Minor faults during its allocation events, up to the moment. */
  faults: number;
  /** pymalloc arenas holding at least one of its live blocks. */
  arenas: number;
  /** Arenas whose live blocks are all its own. */
  arenasAlone: number;
  /** Resident bytes of those arenas. */
  residentAlone: number;
  /** The chunk that keeps glibc's heap top from being trimmed is its block: what freeing it would trim (bytes; 0 under the threshold). */
  heapTop: number | undefined;
}

/** What {@link pinsAndFaultsBySource} found. */
export interface PinsFaults {
  /** Sources with faults or pins, most faults first (then arenas). */
  readonly sources: SourcePins[];
  /** Minor faults of the whole replay up to the moment. */
  readonly totalFaults: number;
  /** Those during free events. */
  readonly freeFaults: number;
  /** pymalloc arenas with live blocks. */
  readonly pinnedArenas: number;
}

/**
 * Replays `trace` on `stack` up to the moment, counting each allocation's faults, then reads
 * the pins. Python domains are attributed; a trace with only `libc` lines (a C program) by
 * its call sites.
 * @throws {@link BySourceError} without source locations or for a moment beyond the end
 */
export async function pinsAndFaultsBySource(stack: CPythonStack, trace: string, options: PinsFaultsOptions): Promise<PinsFaults> {
  const at = options.at ?? "end";
  const replayer = new Replayer(stack);
  const faults = stack.process;
  // faults by the traceback of the allocation event, for the CPython domains and libc lines;
  // those of events tracemalloc never sees (the recorder's own, or before tracing started) apart
  const faultsByTb = [0, 1].map(() => new Map<number, number>());
  const untracedFaults = [0, 0];
  const tracker = new SourceTracker({
    ...(options.since !== undefined ? { since: options.since } : {}),
    onStart: () => {
      faultsByTb.forEach((byTb, k) => {
        for (const n of byTb.values()) untracedFaults[k]! += n;
        byTb.clear();
      });
    },
  });
  let freeFaults = 0;
  let done = false;
  const start = faults.faults.minor;
  const stream: TraceStream = new TraceStream((r: TraceRecord, line: number) => {
    if (done) return;
    const before = faults.faults.minor;
    replayer.handle(r, line);
    const caused = faults.faults.minor - before;
    const tb = stream.stacks.current;
    const effect = tracker.handle(r, tb);
    if (effect === undefined) return;
    const k = r.domain === "libc" ? 1 : 0;
    if (r.kind === "free") freeFaults += caused;
    else if (effect.seen) faultsByTb[k]!.set(tb, (faultsByTb[k]!.get(tb) ?? 0) + caused);
    else untracedFaults[k]! += caused;
    if (tracker.calls === at) done = true;
  });
  await feedTrace(stream, trace, () => done);
  if (!tracker.sawStacks) throw noStacksError();
  const calls = tracker.calls;
  if (typeof at === "number" && calls < at) throw new BySourceError(`--at ${at} is beyond the end of the trace (${calls} call events)`);
  const kind = tracker.sawPython ? 0 : 1;

  const keyOf = new Map<number, string>();
  const key = (tb: number): string => {
    let k = keyOf.get(tb);
    if (k === undefined) {
      const frames: RawFrame[] = tb < 0 ? [["<unknown>", 0]] : stream.stacks.resolve(tb)!.map((f): RawFrame => [f.filename, f.lineno]);
      const grouped: RawFrame[] = options.by === "traceback" ? frames : options.by === "lineno" ? frames.slice(0, 1) : [[frames[0]![0], 0]];
      k = String(new Traceback(grouped));
      keyOf.set(tb, k);
    }
    return k;
  };
  const sources = new Map<string, SourcePins>();
  const source = (k: string): SourcePins => {
    let s = sources.get(k);
    if (s === undefined) sources.set(k, (s = { source: k, faults: 0, arenas: 0, arenasAlone: 0, residentAlone: 0, heapTop: undefined }));
    return s;
  };
  for (const [tb, n] of faultsByTb[kind]!) if (n > 0) source(key(tb)).faults += n;
  if (untracedFaults[kind]! > 0) source(UNTRACED).faults += untracedFaults[kind]!;

  // the live blocks at their simulated addresses
  const bySimulated = new Map<number, string>();
  for (const [ptr, { tb }] of tracker.live) {
    const sim = replayer.simulatedPointer(ptr);
    if (sim !== 0) bySimulated.set(sim, key(tb));
  }
  const detail = accountDetail(stack);
  const pins = pinsOf(stack, detail, { maxArenas: Number.MAX_SAFE_INTEGER, maxBlocks: Number.MAX_SAFE_INTEGER });
  for (const arena of pins.arenas) {
    const owners = new Set(arena.blocks.map((b) => bySimulated.get(b.address) ?? UNTRACED));
    for (const k of owners) {
      const s = source(k);
      s.arenas++;
      if (owners.size === 1) {
        s.arenasAlone++;
        s.residentAlone += arena.residentBytes;
      }
    }
  }
  if (pins.top !== undefined && pins.top.state === "in-use") {
    source(bySimulated.get(pins.top.chunk + CHUNK_HEADER) ?? UNTRACED).heapTop = pins.top.wouldTrim;
  }
  const list = [...sources.values()].sort(
    (a, b) => b.faults - a.faults || b.arenas - a.arenas || b.residentAlone - a.residentAlone || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0),
  );
  return { sources: list, totalFaults: faults.faults.minor - start, freeFaults, pinnedArenas: pins.arenas.length };
}

/** The lines `explain --by ... --pins` / `--faults` prints: one a source, then the totals. */
export function pinsFaultsLines(result: PinsFaults, what: { pins: boolean; faults: boolean }, top?: number): string[] {
  let list = result.sources.filter((s) => (what.faults && s.faults > 0) || (what.pins && (s.arenas > 0 || s.heapTop !== undefined)));
  if (!what.faults) list = [...list].sort((a, b) => b.residentAlone - a.residentAlone || b.arenas - a.arenas || (a.source < b.source ? -1 : 1));
  if (top !== undefined) list = list.slice(0, top);
  const lines = list.map((s) => {
    const parts: string[] = [];
    if (what.faults) parts.push(`faults=${s.faults} (${formatSize(s.faults * 4096, false)} first touched)`);
    if (what.pins) {
      parts.push(`arenas=${s.arenas} (alone=${s.arenasAlone}, resident=${formatSize(s.residentAlone, false)})`);
      if (s.heapTop !== undefined) parts.push(`heap top pinned (freeing it would trim ${formatSize(s.heapTop, false)})`);
    }
    return `${s.source}: ${parts.join(", ")}`;
  });
  const attributed = result.sources.reduce((n, s) => n + s.faults, 0);
  const total: string[] = [];
  if (what.faults) total.push(`faults=${result.totalFaults} (allocations ${attributed}, frees ${result.freeFaults}, other records ${result.totalFaults - attributed - result.freeFaults})`);
  if (what.pins) total.push(`pinned arenas=${result.pinnedArenas}`);
  lines.push(`total: ${total.join(", ")}`);
  return lines;
}
