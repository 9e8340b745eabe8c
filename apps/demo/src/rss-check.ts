/**
 * `mem-demo explain <trace> --rss-check [--program-writes none|all|all-but-calloc-mmap]`:
 * the replay's allocator-resident bytes predicted against the real ones the recorder
 * sampled (`# rss <event> <heap> <arenas> <mmapped> <RssAnon>` comments, see
 * packages/memtrace/README.md), at every sample:
 *
 *     real process (mincore)          simulated process (page tables)
 *     [heap-start, sbrk(0))      vs   the [heap] VMA's resident pages
 *     pymalloc arenas (A, not D) vs   the simulated arenas' resident pages
 *     mmapped chunks it returned vs   the simulated mmapped chunks of the same calls
 *     glibc's thread heaps       vs   the simulated thread arenas' heaps (walkThreadHeaps),
 *     (# rss-thread-heaps)            each over its whole 64 MiB mapping
 *
 * Traces from the recorders before `# rss-thread-heaps` lines compare the first three only.
 *
 * The simulated allocators touch only their own metadata; a real program writes the blocks
 * it gets. `programWrites` models that: "none" (metadata only), "all" (every block written
 * whole when it is returned: objects initialised), "all-but-calloc-mmap" ("all", except a
 * calloc served by a fresh mmapped chunk, whose zero pages glibc leaves untouched and
 * programs often do too), "measured" (blocks under the header's `# touched-min` written whole:
 * 4,089 bytes, 8 KiB in earlier traces, 64 KiB in those without the line; of larger ones, only the
 * pages the recorder found resident: `# touched <block> <first>-<last> ...` comments, page
 * ranges counted from the block's first page, written before each sample and before the
 * block is freed or reallocated).
 *
 * The recorders take a periodic sample inside the call that completes it (`rss_tick` after the
 * call's line): the block that call returned has not been written by the program yet. Its
 * writes are applied after that sample, at the next line. A sample taken at exit (the
 * libc shim's destructor, memtrace_python's stop without a line between) comes with the
 * program done: when the end of the trace (`# exit:`, `# end ` or its last line) follows a
 * sample straight away, that sample is taken again with the writes in.
 */
import { GlibcMalloc } from "@mem/libc-malloc";
import { residentAnonPages } from "@mem/os-vm";
import type { TraceRecord } from "@mem/memtrace";
import { prepareReplay } from "./replay-command.js";
import { replayFile } from "./replay-file.js";
import type { Replayer } from "./replay.js";
import type { CPythonStack, StackOptions } from "./stack.js";

const PAGE = 4096;
/** glibc's HEAP_MAX_SIZE on 64-bit: a thread arena's heap is a mapping of this size, aligned to it. */
const HEAP_MAX_SIZE = 64 * 1024 * 1024;

/** The models of the program's own writes. */
export const PROGRAM_WRITES = ["none", "all", "all-but-calloc-mmap", "measured"] as const;
/** One of {@link PROGRAM_WRITES}. */
export type ProgramWrites = (typeof PROGRAM_WRITES)[number];
/** The model that predicted the recorded programs best (apps/demo/README.md, "Predicted RSS"). */
export const DEFAULT_PROGRAM_WRITES: ProgramWrites = "measured";

/** Resident bytes of the three allocator-owned ranges. */
export interface RssParts {
  /** The main heap (brk). */
  readonly heap: number;
  /** pymalloc's arenas. */
  readonly arenas: number;
  /** Chunks glibc mmapped for the program's calls. */
  readonly mmapped: number;
  /** The heaps of glibc's thread arenas (only when the trace has `# rss-thread-heaps` lines). */
  readonly threadHeaps?: number;
}

/** One `# rss` sample and the prediction at the same event. */
export interface RssSample {
  /** Call events replayed. */
  readonly event: number;
  /** What the recorder measured. */
  readonly recorded: RssParts & { readonly rssAnon: number };
  /** The simulated process at the same event. */
  readonly predicted: RssParts;
  /** (predicted total − recorded total) / recorded total × 100; 0 when both are 0. */
  readonly errorPercent: number;
  /** How many thread heaps there were, recorded and simulated (with `# rss-thread-heaps` lines only). */
  readonly threadHeapCount?: { readonly recorded: number; readonly predicted: number };
}

/**
 * `mem-demo record --rss-every K`: a count of call events, 0 (no samples) or more.
 * @throws Error naming the value otherwise
 */
export function parseRssEvery(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || value.trim() === "") throw new Error(`--rss-every: expected a number of call events (0 for no samples), got "${value}"`);
  return n;
}

/** A `# rss <event> <heap> <arenas> <mmapped> <RssAnon>` sample, as the recorder wrote it. */
export interface RssComment {
  /** Call events recorded when the sample was taken. */
  event: number;
  /** Resident bytes of [heap-start, sbrk(0)). */
  heap: number;
  /** Resident bytes of the pymalloc arenas. */
  arenas: number;
  /** Resident bytes of glibc's mmapped chunks. */
  mmapped: number;
  /** The process's RssAnon. */
  rssAnon: number;
}

/** A `# rss-thread-heaps <event> <heaps> <resident>` line: glibc's thread heaps at a sample. */
export interface ThreadHeapsComment {
  /** The sample's event count. */
  event: number;
  /** How many thread heaps the process had. */
  heaps: number;
  /** Their resident bytes. */
  resident: number;
}

const RSS_LINE = /^ rss (\d+) (\d+) (\d+) (\d+) (\d+)$/;

/** The parsed `# rss` comment (text after `#`), or undefined. */
export function rssCommentOf(text: string): RssComment | undefined {
  const m = RSS_LINE.exec(text);
  if (m === null) return undefined;
  return { event: Number(m[1]), heap: Number(m[2]), arenas: Number(m[3]), mmapped: Number(m[4]), rssAnon: Number(m[5]) };
}

const THREAD_HEAPS_LINE = /^ rss-thread-heaps (\d+) (\d+) (\d+)$/;

/** The parsed `# rss-thread-heaps <event> <heaps> <resident bytes>` comment (text after `#`), or undefined. */
export function rssThreadHeapsCommentOf(text: string): ThreadHeapsComment | undefined {
  const m = THREAD_HEAPS_LINE.exec(text);
  if (m === null) return undefined;
  return { event: Number(m[1]), heaps: Number(m[2]), resident: Number(m[3]) };
}

/**
 * Blocks of this size or more are "large" in a trace whose header has no `# touched-min` line
 * (the first recorders): the recorder wrote their resident pages (rss_sample.h). Recorders
 * since write `# touched-min` (8192, now 4089).
 */
export const LARGE_BLOCK = 65536;

const TOUCHED_LINE = /^ touched 0x([0-9a-f]+)((?: \d+-\d+)+)$/;

/** The parsed `# touched` comment (text after `#`): the block and its resident page ranges, or undefined. */
export function touchedCommentOf(text: string): { block: number; ranges: [number, number][] } | undefined {
  const m = TOUCHED_LINE.exec(text);
  if (m === null) return undefined;
  const ranges = m[2]!
    .trim()
    .split(" ")
    .map((r): [number, number] => {
      const [a, b] = r.split("-");
      return [Number(a), Number(b)];
    });
  return { block: parseInt(m[1]!, 16), ranges };
}

const total = (p: RssParts): number => p.heap + p.arenas + p.mmapped + (p.threadHeaps ?? 0);

/** Touches every page of [start, start + size) with a write of the byte already there. */
function touch(stack: CPythonStack, start: number, size: number): void {
  const memory = stack.process.memory;
  for (let a = start; a < start + size; a = (Math.floor(a / PAGE) + 1) * PAGE) memory.store8(a, memory.load8(a));
}

/** The simulated glibc chunk behind `sim` when it is mmapped: [mapping start, length]. */
function mappedChunk(stack: CPythonStack, sim: number, size: number): [number, number] | undefined {
  if (sim === 0 || size <= 512 || stack.options.libc === "tlsf") return undefined;
  const memory = stack.process.memory;
  const field = memory.load64(sim - 8);
  if ((field & 2) === 0) return undefined;
  const before = memory.load64(sim - 16);
  return [sim - 16 - before, field - (field & 7) + before];
}

/** Watches a replay: applies the program-writes model and predicts each `# rss` sample. */
export class RssWatcher {
  /** The samples so far. */
  readonly samples: RssSample[] = [];
  private readonly stack: CPythonStack;
  private readonly writes: ProgramWrites;
  private replayer: Replayer | undefined;
  /** Recorded pointer → the simulated mmapped chunk it sits in. */
  private readonly mapped = new Map<number, [number, number]>();
  /** Blocks of this size or more have `# touched` lines (the header's `# touched-min`). */
  private readonly touchedMin: number;
  /** Recorded pointer → size of the live blocks that have `# touched` lines. */
  private readonly large = new Map<number, number>();
  /** The `# rss-thread-heaps` line just read (it comes before its `# rss` line). */
  private threadHeaps: ThreadHeapsComment | undefined;
  /** The program's writes to the block the last call returned: made after that call's sample. */
  private pending: { start: number; size: number } | undefined;
  /** The last sample, when it was taken with writes pending and nothing has been read since but its lines. */
  private lastSample: { rec: RssComment; heaps: ThreadHeapsComment | undefined } | undefined;

  /** `touchedMin`: the trace header's `# touched-min`, {@link LARGE_BLOCK} when it has none. */
  constructor(stack: CPythonStack, writes: ProgramWrites, touchedMin = LARGE_BLOCK) {
    this.stack = stack;
    this.writes = writes;
    this.touchedMin = touchedMin;
  }

  /** The replayer, for its recorded → simulated pointer map. */
  attach(replayer: Replayer): void {
    this.replayer = replayer;
  }

  /** After each replayed line. */
  onEvent(r: TraceRecord): void {
    if (r.kind === "comment") {
      this.onComment(r.text);
      return;
    }
    this.writePending();
    switch (r.kind) {
      case "free":
        this.mapped.delete(r.ptr);
        this.large.delete(r.ptr);
        return;
      case "malloc":
      case "calloc":
      case "realloc":
      case "memalign": {
        if (r.kind === "realloc" && r.ptr !== 0 && (r.result !== 0 || r.size === 0)) {
          this.mapped.delete(r.ptr);
          this.large.delete(r.ptr);
        }
        if (r.result === 0) return;
        const sim = this.replayer?.simulatedPointer(r.result) ?? 0;
        if (sim === 0) return;
        const size = r.kind === "calloc" ? r.nelem * r.elsize : r.size;
        const chunk = mappedChunk(this.stack, sim, size);
        if (chunk !== undefined) this.mapped.set(r.result, chunk);
        if (this.writes === "none" || size === 0) return;
        if (this.writes === "all-but-calloc-mmap" && r.kind === "calloc" && chunk !== undefined) return;
        if (size >= this.touchedMin) this.large.set(r.result, size);
        if (this.writes === "measured" && size >= this.touchedMin) return; // its # touched lines say which pages
        this.pending = { start: sim, size };
        return;
      }
      default:
        return;
    }
  }

  /**
   * After the last line: a sample that ended the trace with writes pending was taken at
   * exit, when the program had written the block; it is taken again with them.
   */
  finish(): void {
    this.endOfProgram();
  }

  /** A comment line: a sample, its parts, `# touched` pages, the end, or anything else (the program ran on). */
  private onComment(text: string): void {
    const rec = rssCommentOf(text);
    if (rec !== undefined) {
      const heaps = this.threadHeaps?.event === rec.event ? this.threadHeaps : undefined;
      this.threadHeaps = undefined;
      this.samples.push(this.sample(rec, heaps));
      this.lastSample = this.pending === undefined ? undefined : { rec, heaps };
    } else if (text.startsWith(" rss-thread-heaps ")) {
      this.threadHeaps = rssThreadHeapsCommentOf(text);
    } else if (text.startsWith(" rss-pages ")) {
      // the real pages of the sample being written: not a program step
    } else if (text.startsWith(" touched ")) {
      if (this.writes === "measured") this.touched(text);
    } else if (text.startsWith(" exit:") || text.startsWith(" end ")) {
      this.endOfProgram();
    } else {
      this.writePending();
    }
  }

  /** The program's writes to the last returned block, now. */
  private writePending(): void {
    this.lastSample = undefined;
    if (this.pending === undefined) return;
    touch(this.stack, this.pending.start, this.pending.size);
    this.pending = undefined;
  }

  /** The program is done: its writes are in, and a sample taken just before is taken again. */
  private endOfProgram(): void {
    const last = this.lastSample;
    this.writePending();
    if (last === undefined) return;
    this.samples[this.samples.length - 1] = this.sample(last.rec, last.heaps);
  }

  /**
   * A `# touched` comment: the same pages of the simulated block, written. The real and the
   * simulated block may sit at different offsets in their first page, so the last page counted
   * from the real one's may lie past the simulated block's end: only its bytes are written.
   */
  private touched(text: string): void {
    const t = touchedCommentOf(text);
    if (t === undefined) return;
    const sim = this.replayer?.simulatedPointer(t.block) ?? 0;
    const size = this.large.get(t.block);
    if (sim === 0 || size === undefined) return;
    const memory = this.stack.process.memory;
    const first = Math.floor(sim / PAGE);
    for (const [a, b] of t.ranges) {
      for (let k = a; k <= b; k++) {
        const at = Math.max(sim, (first + k) * PAGE);
        if (at >= sim + size) break;
        memory.store8(at, memory.load8(at));
      }
    }
  }

  /** The prediction for the sample `rec` (with its `# rss-thread-heaps` line, if any) in the simulated process as it is. */
  private sample(rec: RssComment, heaps: ThreadHeapsComment | undefined): RssSample {
    const resident = new Set<number>();
    let heap = 0;
    for (const vma of residentAnonPages(this.stack.process)) {
      if (vma.name === "[heap]") heap += vma.pages.length * PAGE;
      else if (vma.name === undefined) for (const p of vma.pages) resident.add(p);
    }
    const inRange = (start: number, length: number): number => {
      let n = 0;
      for (let p = Math.floor(start / PAGE); p * PAGE < start + length; p++) if (resident.has(p)) n += PAGE;
      return n;
    };
    let arenas = 0;
    const pymalloc = this.stack.pymalloc;
    if (pymalloc !== undefined) {
      const size = pymalloc.geometry.params.arenaSize;
      for (const ao of pymalloc.arenaObjects()) arenas += inRange(ao.address, size);
    }
    let mmapped = 0;
    for (const [start, length] of this.mapped.values()) mmapped += inRange(start, length);
    let threadHeaps = 0;
    const simulatedHeaps = heaps === undefined ? [] : this.simulatedThreadHeaps();
    for (const start of simulatedHeaps) threadHeaps += inRange(start, HEAP_MAX_SIZE);
    const predicted = heaps === undefined ? { heap, arenas, mmapped } : { heap, arenas, mmapped, threadHeaps };
    const recorded = { heap: rec.heap, arenas: rec.arenas, mmapped: rec.mmapped, ...(heaps === undefined ? {} : { threadHeaps: heaps.resident }), rssAnon: rec.rssAnon };
    const real = total(recorded);
    const errorPercent = real === 0 ? (total(predicted) === 0 ? 0 : 100) : ((total(predicted) - real) / real) * 100;
    const threadHeapCount = heaps === undefined ? {} : { threadHeapCount: { recorded: heaps.heaps, predicted: simulatedHeaps.length } };
    return { event: rec.event, recorded, predicted, errorPercent, ...threadHeapCount };
  }

  /** The simulated process's thread heaps (their first bytes), from glibc's arenas. */
  private simulatedThreadHeaps(): number[] {
    const libc = this.stack.libc;
    if (!(libc instanceof GlibcMalloc)) return [];
    return libc.walkThreadHeaps().flatMap((w) => w.heaps.map((h) => h.start));
  }
}

/**
 * Replays `trace` and compares the prediction with every `# rss` sample in it.
 * @throws the replay's errors (ReplayError, TraceReadError)
 */
export async function rssCheck(trace: string, base: StackOptions, writes: ProgramWrites = DEFAULT_PROGRAM_WRITES, note: (line: string) => void = () => undefined): Promise<RssSample[]> {
  const prepared = await prepareReplay(trace, {}, base, note);
  const watcher = new RssWatcher(prepared.stack, writes, prepared.header.touchedMin);
  await replayFile(prepared.stack, trace, { onEvent: (r) => watcher.onEvent(r), replayer: (replayer) => watcher.attach(replayer) });
  watcher.finish();
  return watcher.samples;
}

const kib = (n: number): string => `${Math.round(n / 1024)}`;

/** The table `--rss-check` prints: one line a sample, then the mean and max |error|. */
export function rssCheckText(samples: readonly RssSample[], writes: ProgramWrites): string {
  if (samples.length === 0) return "no # rss samples in the trace: record it again with mem-demo record (--rss-every K)\n";
  // thread heaps: a fourth part, with the number of heaps, when the trace measured them
  const threads = samples.some((s) => s.threadHeapCount !== undefined);
  const parts = threads ? "heap+arenas+mmapped+thread heaps" : "heap+arenas+mmapped";
  const names = threads ? "heap arenas mmapped thread-heaps[count]" : "heap arenas mmapped";
  const four = (p: RssParts, count: number | undefined): string =>
    `${kib(p.heap)} ${kib(p.arenas)} ${kib(p.mmapped)}` + (threads ? ` ${kib(p.threadHeaps ?? 0)}[${count ?? "-"}]` : "");
  const lines = [`program writes: ${writes}; KiB resident (${parts}), predicted vs recorded`, `event  predicted  recorded  error%  (${names} predicted / recorded)`];
  for (const s of samples) {
    lines.push(
      `${s.event}  ${kib(total(s.predicted))}  ${kib(total(s.recorded))}  ${s.errorPercent.toFixed(2)}  ` +
        `(${four(s.predicted, s.threadHeapCount?.predicted)} / ${four(s.recorded, s.threadHeapCount?.recorded)})`,
    );
  }
  const abs = samples.map((s) => Math.abs(s.errorPercent));
  lines.push(`error: mean ${(abs.reduce((a, b) => a + b, 0) / abs.length).toFixed(2)}%, max ${Math.max(...abs).toFixed(2)}% over ${samples.length} samples`);
  return lines.join("\n") + "\n";
}
