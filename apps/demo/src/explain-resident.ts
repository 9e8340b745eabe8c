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
 * more line, `<no live block>`. The lines sum to the account's RssAnon exactly.
 */
import { account } from "@mem/insight";
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { residentAnonPages } from "@mem/os-vm";
import { Traceback, formatSize, type KeyType, type RawFrame } from "@mem/pymem";
import { BySourceError, feedTrace, noStacksError } from "./explain-by-source.js";
import { Replayer } from "./replay.js";
import type { CPythonStack } from "./stack.js";

const PAGE = 4096;

/** Options of {@link residentBySource}. */
export interface ResidentOptions {
  /** What the blocks are grouped by. */
  readonly by: KeyType;
  /** After this many call events, or the end. @defaultValue "end" */
  readonly at?: number | "end";
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

/**
 * Replays `trace` on `stack` up to the moment and splits the resident pages by source.
 * @throws {@link BySourceError} without source locations or for a moment beyond the end
 */
export async function residentBySource(stack: CPythonStack, trace: string, options: ResidentOptions): Promise<ResidentAttribution> {
  const at = options.at ?? "end";
  const replayer = new Replayer(stack);
  // the CPython domains' live blocks, and the libc lines', which count only in a trace of a C
  // program (no CPython domain at all: its call sites, record --libc --frames)
  const live = [0, 1].map(() => ({ size: new Map<number, number>(), tbOf: new Map<number, number>() }));
  let sawPython = false;
  let calls = 0;
  let sawStacks = false;
  let done = false;
  const stream: TraceStream = new TraceStream((r: TraceRecord, line: number) => {
    if (done) return;
    replayer.handle(r, line);
    switch (r.kind) {
      case "stack":
        sawStacks = true;
        return;
      case "retrace":
        for (const { tbOf } of live) if (tbOf.has(r.ptr)) tbOf.set(r.ptr, stream.stacks.current);
        return;
      case "malloc":
      case "calloc":
      case "memalign":
      case "realloc":
      case "free":
        calls++;
        {
          if (r.domain !== "libc") sawPython = true;
          const { size, tbOf } = live[r.domain === "libc" ? 1 : 0]!;
          if (r.kind === "free" || (r.kind === "realloc" && r.ptr !== 0 && r.result !== 0)) {
            size.delete(r.ptr);
            tbOf.delete(r.ptr);
          }
          if (r.kind !== "free" && r.result !== 0) {
            size.set(r.result, r.kind === "calloc" ? r.nelem * r.elsize : r.size);
            tbOf.set(r.result, stream.stacks.current);
          }
        }
        if (calls === at) done = true;
        return;
      default:
        return;
    }
  });
  await feedTrace(stream, trace, () => done);
  if (!sawStacks) throw noStacksError();
  if (typeof at === "number" && calls < at) throw new BySourceError(`--at ${at} is beyond the end of the trace (${calls} call events)`);

  const { size, tbOf } = live[sawPython ? 0 : 1]!;
  // the source key of every traceback, once
  const keyOf = new Map<number, string>();
  const key = (tb: number): string => {
    let k = keyOf.get(tb);
    if (k === undefined) {
      const frames: RawFrame[] = tb < 0 ? [["<unknown>", 0]] : stream.stacks.resolve(tb)!.map((f): RawFrame => [f.filename, f.lineno]);
      const grouped: RawFrame[] = options.by === "traceback" ? frames : options.by === "lineno" ? frames.slice(0, 1) : [[frames[0]![0], 0]];
      k = String(new Traceback(grouped));
      if (options.by === "traceback") k = `${k}\u0000${JSON.stringify(grouped)}`;
      keyOf.set(tb, k);
    }
    return k;
  };

  // resident pages, and the live blocks' bytes on each
  const resident = new Set<number>();
  for (const vma of residentAnonPages(stack.process)) for (const p of vma.pages) resident.add(p);
  const onPage = new Map<number, { key: string; bytes: number }[]>();
  const shares = new Map<string, { resident: number; requested: number; count: number }>();
  const share = (k: string) => {
    let s = shares.get(k);
    if (s === undefined) shares.set(k, (s = { resident: 0, requested: 0, count: 0 }));
    return s;
  };
  for (const [ptr, bytes] of size) {
    const k = key(tbOf.get(ptr)!);
    const s = share(k);
    s.requested += bytes;
    s.count++;
    const sim = replayer.simulatedPointer(ptr);
    if (sim === 0 || bytes === 0) continue;
    for (let a = sim; a < sim + bytes; ) {
      const page = Math.floor(a / PAGE);
      const next = Math.min((page + 1) * PAGE, sim + bytes);
      if (resident.has(page)) {
        let list = onPage.get(page);
        if (list === undefined) onPage.set(page, (list = []));
        list.push({ key: k, bytes: next - a });
      }
      a = next;
    }
  }
  let unclaimed = 0;
  for (const page of resident) {
    const list = onPage.get(page);
    if (list === undefined) {
      unclaimed += PAGE;
      continue;
    }
    // whole bytes: floor shares, the remainder to the block covering most of the page
    const covered = list.reduce((n, e) => n + e.bytes, 0);
    let given = 0;
    let biggest = list[0]!;
    for (const e of list) {
      const part = Math.floor((PAGE * e.bytes) / covered);
      share(e.key).resident += part;
      given += part;
      if (e.bytes > biggest.bytes) biggest = e;
    }
    share(biggest.key).resident += PAGE - given;
  }
  const out: ResidentShare[] = [...shares].map(([k, s]) => {
    const [source, frames] = k.split("\u0000");
    return { source: source!, ...s, ...(frames !== undefined ? { frames: JSON.parse(frames) as RawFrame[] } : {}) };
  });
  out.push({ source: "<no live block>", resident: unclaimed, requested: 0, count: 0 });
  out.sort((a, b) => b.resident - a.resident || b.requested - a.requested || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  const rssAnon = account(stack).rssAnon;
  return { shares: out, rssAnon };
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
