/**
 * `mem-demo explain <trace> --by lineno|filename|traceback --resident`: the resident bytes
 * each source accounts for, beyond tracemalloc's requested bytes. The trace is replayed
 * through the simulated stack up to `--at`; then every resident anonymous page (the pages
 * behind RssAnon, as the insight layer's account counts them) is split among the live
 * blocks that overlap it, in proportion to the bytes of the page each block covers
 * (requested bytes, at the block's simulated address):
 *
 *     page 0x7f..3000 (4096 bytes resident)
 *     |--- a.py:3, 1000 B ---|-- a.py:9, 24 B --|   (rest: free blocks, headers)
 *     a.py:3 gets 4096 × 1000 / 1024 = 4000, a.py:9 gets 96
 *
 * so that a line whose blocks sit alone on pages (a pinned pool, an arena's last block, a
 * heap top) carries those pages. Pages no live traced block covers (allocator metadata,
 * cached free chunks, the frame data stack, blocks made before tracing started) form one
 * more line, `<no live block>`. The lines sum to the account's RssAnon exactly. The live
 * traced blocks are ./source-tracker.ts's, as `--by`'s: each line's requested bytes and count
 * are `explain --by`'s size and count for that source at the same moment (the recorder's own
 * blocks and those made before tracing started are in no line's).
 *
 * `residentAtMoments` makes the same attribution at several call events of one replay (the
 * report's flame snapshots); `residentBySource` is it with one moment, `--at N` or the end.
 */
import { account } from "@mem/insight";
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { residentAnonPages } from "@mem/os-vm";
import { Traceback, formatSize, type KeyType, type RawFrame } from "@mem/pymem";
import { BySourceError, feedTrace, noStacksError } from "./explain-by-source.js";
import { Replayer } from "./replay.js";
import { SourceTracker, type TracedBlock, type TracingStart } from "./source-tracker.js";
import type { CPythonStack } from "./stack.js";

const PAGE = 4096;

/** Options of {@link residentBySource}. */
export interface ResidentOptions {
  /** What the blocks are grouped by. */
  readonly by: KeyType;
  /** After this many call events, or the end. @defaultValue "end" */
  readonly at?: number | "end";
  /** When tracing started, as `explainBySource`'s `since` (blocks allocated before are no one's). @defaultValue "x-tracemalloc" */
  readonly since?: TracingStart;
  /** Only the first N lines (the total line always comes last). */
  readonly top?: number;
}

/** One source's share. */
export interface ResidentShare {
  /** `str(traceback)` as tracemalloc prints it (`file:line`), or `<no live block>`. */
  readonly source: string;
  /** Resident bytes attributed. */
  readonly resident: number;
  /** Requested bytes of its live blocks. */
  readonly requested: number;
  /** Its live blocks. */
  readonly count: number;
  /** With `by: "traceback"`: its frames, most recent first as tracemalloc lists them (absent for `<no live block>`). */
  readonly frames?: readonly RawFrame[];
}

/** What {@link residentBySource} found. */
export interface ResidentAttribution {
  /** Biggest first; `<no live block>` among them. */
  readonly shares: ResidentShare[];
  /** The sum of the shares: the account's RssAnon at that moment. */
  readonly rssAnon: number;
}

/** Options of {@link residentAtMoments}. */
export interface ResidentMomentsOptions {
  /** What the blocks are grouped by. */
  readonly by: KeyType;
  /** Call events to attribute at, ascending (those beyond the trace's end are never reached). */
  readonly moments: readonly number[];
  /** Also attribute at the end of the trace (after its last record). @defaultValue true */
  readonly end?: boolean;
  /** When tracing started, as `explainBySource`'s `since` (blocks allocated before are no one's). @defaultValue "x-tracemalloc" */
  readonly since?: TracingStart;
}

/**
 * Replays `trace` on `stack` once and splits the resident pages by source at each of
 * `moments` (right after that many call events, as `--at N` does) and, unless `end` is false,
 * at the end; `onMoment` gets each attribution as it is made (the replay goes on after it).
 * Without `end`, reading stops after the last moment.
 * @returns the call events read
 * @throws {@link BySourceError} without source locations
 */
export async function residentAtMoments(stack: CPythonStack, trace: string, options: ResidentMomentsOptions, onMoment: (event: number, result: ResidentAttribution) => void): Promise<number> {
  const wantEnd = options.end ?? true;
  const moments = options.moments;
  let next = 0;
  const replayer = new Replayer(stack);
  // the traced blocks (./source-tracker.ts): the CPython domains', or the libc lines' in a trace
  // of a C program (no CPython domain at all: its call sites, record --libc --frames)
  const tracker = new SourceTracker(options.since !== undefined ? { since: options.since } : {});
  let done = !wantEnd && moments.length === 0;
  const attribution = attributor(stack, replayer, options.by, (tb) => stream.stacks.resolve(tb));
  const attribute = () => attribution(tracker.live);
  const stream: TraceStream = new TraceStream((r: TraceRecord, line: number) => {
    if (done) return;
    replayer.handle(r, line);
    if (tracker.handle(r, stream.stacks.current) === undefined) return;
    const calls = tracker.calls;
    while (next < moments.length && moments[next]! < calls) next++;
    if (moments[next] === calls) {
      onMoment(calls, attribute());
      next++;
      if (!wantEnd && next === moments.length) done = true;
    }
  });
  await feedTrace(stream, trace, () => done);
  if (!tracker.sawStacks) throw noStacksError();
  if (wantEnd) onMoment(tracker.calls, attribute());
  return tracker.calls;
}

/**
 * Replays `trace` on `stack` up to the moment and splits the resident pages by source.
 * @throws {@link BySourceError} without source locations or for a moment beyond the end
 */
export async function residentBySource(stack: CPythonStack, trace: string, options: ResidentOptions): Promise<ResidentAttribution> {
  const at = options.at ?? "end";
  let result: ResidentAttribution | undefined;
  const calls = await residentAtMoments(stack, trace, { by: options.by, moments: at === "end" ? [] : [at], end: at === "end", ...(options.since !== undefined ? { since: options.since } : {}) }, (_event, r) => (result = r));
  if (typeof at === "number" && calls < at) throw new BySourceError(`--at ${at} is beyond the end of the trace (${calls} call events)`);
  if (result === undefined) throw new BySourceError(`--at ${String(at)} is not a call event (1 or more)`);
  return result;
}

/**
 * The attribution of the stack's resident pages among `live` blocks as it stands, grouped
 * `by`; the source key of each traceback is kept across calls.
 */
function attributor(stack: CPythonStack, replayer: Replayer, by: KeyType, resolve: (tb: number) => readonly { filename: string; lineno: number }[] | undefined): (live: ReadonlyMap<number, TracedBlock>) => ResidentAttribution {
  // the source of every traceback, once: an index into `sources` (equal keys, one index)
  const sources: { key: string; source: string; frames: RawFrame[] | undefined }[] = [];
  const indexOfKey = new Map<string, number>();
  const sourceOf = new Map<number, number>();
  const source = (tb: number): number => {
    let i = sourceOf.get(tb);
    if (i === undefined) {
      const frames: RawFrame[] = tb < 0 ? [["<unknown>", 0]] : resolve(tb)!.map((f): RawFrame => [f.filename, f.lineno]);
      const grouped: RawFrame[] = by === "traceback" ? frames : by === "lineno" ? frames.slice(0, 1) : [[frames[0]![0], 0]];
      const text = String(new Traceback(grouped));
      const key = by === "traceback" ? `${text}\u0000${JSON.stringify(grouped)}` : text;
      i = indexOfKey.get(key);
      if (i === undefined) {
        indexOfKey.set(key, (i = sources.length));
        sources.push({ key, source: text, frames: by === "traceback" ? grouped : undefined });
      }
      sourceOf.set(tb, i);
    }
    return i;
  };
  // each block's simulated address, looked up once
  const simOf = new WeakMap<TracedBlock, number>();
  return (live) => {
    // resident pages: a slot each, with the live blocks' bytes on it (one pass over the
    // blocks: the bytes covered and the biggest block of each page, and the pieces on them;
    // then the pieces' shares)
    const slotOf = new Map<number, number>();
    for (const vma of residentAnonPages(stack.process)) for (const p of vma.pages) if (!slotOf.has(p)) slotOf.set(p, slotOf.size);
    const pages = slotOf.size;
    const covered = new Float64Array(pages);
    const given = new Float64Array(pages);
    const biggestBytes = new Float64Array(pages);
    const biggestSource = new Int32Array(pages).fill(-1);
    const blockSource = new Int32Array(live.size);
    const blockSim = new Float64Array(live.size);
    let n = 0;
    for (const [ptr, block] of live) {
      let sim = simOf.get(block);
      if (sim === undefined) simOf.set(block, (sim = replayer.simulatedPointer(ptr)));
      blockSource[n] = source(block.tb);
      blockSim[n++] = sim;
    }
    // per source, in the order first met (that order breaks ties in the sort, as before)
    const order: number[] = [];
    const seen = new Uint8Array(sources.length);
    const resident = new Float64Array(sources.length);
    const requested = new Float64Array(sources.length);
    const count = new Float64Array(sources.length);
    // the pieces of blocks on resident pages, in block order: page slot, bytes, source
    const pieceSlot: number[] = [];
    const pieceBytes: number[] = [];
    const pieceSource: number[] = [];
    n = 0;
    for (const { size: bytes } of live.values()) {
      const i = blockSource[n]!;
      const sim = blockSim[n++]!;
      if (seen[i] === 0) {
        seen[i] = 1;
        order.push(i);
      }
      requested[i]! += bytes;
      count[i]!++;
      if (sim === 0 || bytes === 0) continue;
      for (let a = sim; a < sim + bytes; ) {
        const page = Math.floor(a / PAGE);
        const next = Math.min((page + 1) * PAGE, sim + bytes);
        const slot = slotOf.get(page);
        if (slot !== undefined) {
          covered[slot]! += next - a;
          // the first of the blocks covering most of the page
          if (biggestSource[slot] === -1 || next - a > biggestBytes[slot]!) {
            biggestSource[slot] = i;
            biggestBytes[slot] = next - a;
          }
          pieceSlot.push(slot);
          pieceBytes.push(next - a);
          pieceSource.push(i);
        }
        a = next;
      }
    }
    // whole bytes: floor shares, the remainder to the block covering most of the page
    for (let k = 0; k < pieceSlot.length; k++) {
      const slot = pieceSlot[k]!;
      const part = Math.floor((PAGE * pieceBytes[k]!) / covered[slot]!);
      resident[pieceSource[k]!]! += part;
      given[slot]! += part;
    }
    let unclaimed = 0;
    for (let slot = 0; slot < pages; slot++) {
      if (biggestSource[slot] === -1) unclaimed += PAGE;
      else resident[biggestSource[slot]!]! += PAGE - given[slot]!;
    }
    const out: ResidentShare[] = order.map((i) => {
      const { source: text, frames } = sources[i]!;
      return { source: text, resident: resident[i]!, requested: requested[i]!, count: count[i]!, ...(frames !== undefined ? { frames } : {}) };
    });
    out.push({ source: "<no live block>", resident: unclaimed, requested: 0, count: 0 });
    out.sort((a, b) => b.resident - a.resident || b.requested - a.requested || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
    const rssAnon = account(stack).rssAnon;
    return { shares: out, rssAnon };
  };
}

/** The lines `explain --by ... --resident` prints: one a source, then the total. */
export function residentLines(result: ResidentAttribution, top?: number): string[] {
  const shares = top === undefined ? result.shares : result.shares.slice(0, top);
  const lines = shares.map(
    (s) => `${s.source}: resident=${formatSize(s.resident, false)}, requested=${formatSize(s.requested, false)}, count=${s.count}`,
  );
  const sum = result.shares.reduce((n, s) => n + s.resident, 0);
  lines.push(`total: resident=${formatSize(sum, false)} (RssAnon ${result.rssAnon} bytes${sum === result.rssAnon ? "" : `; the shares sum to ${sum}`})`);
  return lines;
}
