/**
 * `mem-demo explain <trace> --by lineno|filename|traceback`: what tracemalloc would have
 * printed at a moment of the recorded program, from the trace's source locations (`#F`,
 * `#T`, `#S`): `tracemalloc.take_snapshot().statistics(key_type, cumulative)`, one
 * `str(stat)` a line, in tracemalloc's exact text, or with `--compare-to` the output of
 * `snapshot.compare_to(old_snapshot, key_type, cumulative)`.
 *
 * The traces are tracemalloc's, as ./source-tracker.ts keeps them for the whole `--by` family:
 * every block handed out by the raw, mem and obj domains since tracing started and not yet
 * freed, with its requested size (calloc: nelem × elsize) and the traceback in force when it
 * was allocated; a realloc moves the block and gives it the current traceback, as
 * tracemalloc_realloc does, and an object reused from a free list (`#R`) gets the traceback
 * of its reuse, as _PyTraceMalloc_NewReference does; the recorder's own blocks are untraced.
 * `libc` blocks are not Python's: ignored (but in a C program's trace).
 */
import { traceChunks } from "./record/files.js";
import { Snapshot, type KeyType, type RawFrame, type RawTrace } from "@mem/pymem";
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { Option, type Command } from "commander";
import { SourceTracker, type TracedBlocks, type TracingStart } from "./source-tracker.js";
import type { CPythonStack } from "./stack.js";

/** A moment of the trace: after this many call events (m/c/r/f/a lines), or the end. */
export type SourceMoment = number | "end";

/** Options of {@link explainBySource}. */
export interface BySourceOptions {
  /** What statistics() groups by. */
  readonly by: KeyType;
  /** The moment of the snapshot. @defaultValue "end" */
  readonly at?: SourceMoment;
  /** Print `snapshot.compare_to(<snapshot at this moment>)` instead of `statistics()`. */
  readonly compareTo?: SourceMoment;
  /** Only the first N lines. @defaultValue all */
  readonly top?: number;
  /** tracemalloc's cumulative mode (every frame of a traceback counts; not with `traceback`). */
  readonly cumulative?: boolean;
  /**
   * When tracing started (blocks allocated before are not traced, as tracemalloc never saw
   * them): `"x-tracemalloc"`, where `python -X tracemalloc` starts it (the recorder's
   * `# x-tracemalloc-start` line; the start of the trace when there is none); `"start"`, the
   * start of the trace; or after this many call events (a program calling tracemalloc.start()).
   * @defaultValue "x-tracemalloc"
   */
  readonly since?: TracingStart;
}

/** Raised for a trace without source locations (`--by` needs them) or a moment beyond its end. */
export class BySourceError extends Error {
  override readonly name = "BySourceError";
}

/** The error of the `--by` family for a trace read without any stack record. */
export function noStacksError(): BySourceError {
  return new BySourceError("the trace has no source locations (#F/#T/#S records): record it with them, e.g. mem-demo record --frames 1 -- python3 script.py");
}

/**
 * Reads `trace` into `stream`, stopping as soon as `done()` is true after a chunk (the moment
 * asked for was reached); a trace read to its end is ended, so its last line is parsed too.
 */
export async function feedTrace(stream: TraceStream, trace: string, done: () => boolean = () => false): Promise<void> {
  for await (const chunk of traceChunks(trace)) {
    stream.push(chunk);
    if (done()) return;
  }
  stream.end();
}

/** The traces as tracemalloc's `_get_traces()` gives them (frames most recent first). */
function snapshotOf(live: TracedBlocks, resolve: (tb: number) => { frames: RawFrame[]; total: number }, limit: number): Snapshot {
  const cache = new Map<number, { frames: RawFrame[]; total: number }>();
  const traces: RawTrace[] = [];
  for (const { size, tb } of live.values()) {
    let r = cache.get(tb);
    if (r === undefined) cache.set(tb, (r = resolve(tb)));
    traces.push([0, size, r.frames, r.total]);
  }
  return new Snapshot(traces, limit);
}

const UNKNOWN: { frames: RawFrame[]; total: number } = { frames: [["<unknown>", 0]], total: 1 };

/**
 * Reads `trace` (plain or `.gz`) and returns tracemalloc's snapshot at `at` (and at
 * `compareTo`, if given), tracing from `since`.
 * @throws {@link BySourceError} when the trace has no source locations or a moment lies
 *   beyond its end; `MemtraceSyntaxError` for a malformed trace (naming the line)
 */
export async function tracedSnapshots(trace: string, options: Pick<BySourceOptions, "at" | "compareTo" | "since">): Promise<{ now: Snapshot; before?: Snapshot }> {
  const at = options.at ?? "end";
  const old = options.compareTo;
  const since = options.since ?? "x-tracemalloc";
  // a C program's trace (libc lines only) is read by call site; in a CPython trace, libc lines
  // (if any) are not tracemalloc's and are left out
  const tracker = new SourceTracker({ since });
  let atSnapshot: [Snapshot, Snapshot] | undefined;
  let oldSnapshot: [Snapshot, Snapshot] | undefined;
  const stream: TraceStream = new TraceStream((r: TraceRecord) => {
    if (tracker.handle(r, stream.stacks.current) === undefined) return;
    if (tracker.calls === old) oldSnapshot = take();
    if (tracker.calls === at) atSnapshot = take();
  });
  const resolve = (tb: number) => {
    if (tb < 0) return UNKNOWN;
    const t = stream.stacks.traceback(tb)!;
    return { frames: t.frames.map((f): RawFrame => {
      const fr = stream.stacks.frame(f)!;
      return [fr.filename, fr.lineno];
    }), total: t.total };
  };
  const take = (): [Snapshot, Snapshot] => [snapshotOf(tracker.python, resolve, tracker.limit), snapshotOf(tracker.libc, resolve, tracker.limit)];
  await feedTrace(stream, trace, () => atSnapshot !== undefined && (old === undefined || oldSnapshot !== undefined));
  if (!tracker.sawStacks) throw noStacksError();
  const calls = tracker.calls;
  for (const [moment, name] of [[at, "--at"], [old, "--compare-to"], [since, "--since"]] as const) {
    if (typeof moment === "number" && moment > calls) throw new BySourceError(`${name} ${moment} is beyond the end of the trace (${calls} call events)`);
  }
  const pick = (pair: [Snapshot, Snapshot]): Snapshot => (tracker.sawPython ? pair[0] : pair[1]);
  const now = pick(atSnapshot ?? take());
  return old === undefined ? { now } : { now, before: pick(oldSnapshot ?? take()) };
}

/**
 * Reads `trace` (plain or `.gz`) and returns tracemalloc's lines at the moment asked.
 * @throws {@link BySourceError} when the trace has no source locations or the moment lies
 *   beyond its end; `MemtraceSyntaxError` for a malformed trace (naming the line)
 */
export async function explainBySource(trace: string, options: BySourceOptions): Promise<string[]> {
  const { now, before } = await tracedSnapshots(trace, options);
  const cumulative = options.cumulative ?? false;
  const lines = (before !== undefined ? now.compareTo(before, options.by, cumulative) : now.statistics(options.by, cumulative)).map(String);
  return options.top === undefined ? lines : lines.slice(0, options.top);
}

/** The flags `--by` adds to `mem-demo explain`. */
export interface BySourceFlags {
  readonly by?: KeyType;
  readonly at?: number | "peak" | "end";
  readonly top?: number;
  readonly cumulative?: boolean;
  readonly compareTo?: number | "peak" | "end";
  readonly since?: TracingStart;
  readonly temporary?: number;
  readonly resident?: boolean;
  readonly pins?: boolean;
  readonly faults?: boolean;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0 || value.trim() === "") throw new Error(`expected a positive number, got "${value}"`);
  return n;
}

function moment(value: string): number | "peak" | "end" {
  if (value === "end" || value === "peak") return value;
  const n = positive(value);
  return n;
}

function sinceArg(value: string): TracingStart {
  if (value === "start" || value === "x-tracemalloc") return value;
  return positive(value);
}

/** Adds `--by`, `--top`, `--cumulative` and `--compare-to` to the explain command. */
export function addBySourceOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--by <key>", "print what tracemalloc's snapshot.statistics(key) would print at --at (needs a trace recorded with source locations)").choices([
        "lineno",
        "filename",
        "traceback",
      ]),
    )
    .addOption(new Option("--top <N>", "with --by: only the first N lines").argParser(positive))
    .option("--cumulative", "with --by lineno or filename: tracemalloc's cumulative statistics (every frame counts)")
    .addOption(new Option("--compare-to <event>", "with --by: print snapshot.compare_to(<the snapshot at this call event, peak or end>)").argParser(moment))
    .addOption(
      new Option(
        "--since <when>",
        "with --by (and --resident, --pins, --faults, --temporary): when tracing started: x-tracemalloc (where python -X tracemalloc starts, the default), start (the whole trace), or a call event (tracemalloc.start() there)",
      ).argParser(sinceArg),
    )
    .addOption(
      new Option("--resident", "with --by: the resident bytes each source accounts for (pages split among the live blocks on them; sums to RssAnon)"),
    )
    .addOption(
      new Option("--pins", "with --by: the pymalloc arenas (alone or shared) and the glibc heap top each source's surviving blocks pin at --at"),
    )
    .addOption(
      new Option("--faults", "with --by: the minor page faults each source's allocations caused in the replay up to --at (which allocation made RSS jump)"),
    )
    .addOption(
      new Option("--temporary <N>", "with --by: the temporary allocations by source instead (blocks freed within N call events of their allocation), as heaptrack counts them").argParser(
        positive,
      ),
    );
}

/**
 * Runs the `--by` form of explain when `--by` was given: prints tracemalloc's lines and
 * returns true; returns false otherwise (the account report runs).
 * `--at peak` (and `--compare-to peak`) is the moment of tracemalloc's peak of traced memory
 * (`get_traced_memory()[1]`, see ./explain-peak.ts).
 * @throws {@link BySourceError}, `MemtraceSyntaxError`, or an Error for an option given
 *   without `--by`
 */
export async function runBySource(
  trace: string,
  flags: BySourceFlags,
  write: (text: string) => void,
  makeStack?: () => Promise<CPythonStack>,
): Promise<boolean> {
  if (flags.by === undefined) {
    if (flags.top !== undefined || flags.cumulative || flags.compareTo !== undefined || flags.since !== undefined || flags.temporary !== undefined || flags.resident || flags.pins || flags.faults) {
      throw new Error("--top, --cumulative, --compare-to, --since, --temporary, --resident, --pins and --faults go with --by lineno|filename|traceback");
    }
    return false;
  }
  const since = flags.since !== undefined ? { since: flags.since } : {};
  // --at peak: the moment of tracemalloc's get_traced_memory()[1] (the first event at the peak)
  const peakAt = flags.at === "peak" || flags.compareTo === "peak" ? (await import("./explain-peak.js").then((m) => m.tracedPeak(trace, since))).at : "end";
  const when = (m: number | "peak" | "end" | undefined): SourceMoment => (m === "peak" ? peakAt : (m ?? "end"));
  const at = when(flags.at);
  if (flags.resident && makeStack !== undefined) {
    const { residentBySource, residentLines } = await import("./explain-resident.js");
    const result = await residentBySource(await makeStack(), trace, { by: flags.by, at, ...since });
    write(`${residentLines(result, flags.top).join("\n")}\n`);
    return true;
  }
  if ((flags.pins || flags.faults) && makeStack !== undefined) {
    const { pinsAndFaultsBySource, pinsFaultsLines } = await import("./explain-pins-faults.js");
    const result = await pinsAndFaultsBySource(await makeStack(), trace, { by: flags.by, at, ...since });
    write(`${pinsFaultsLines(result, { pins: flags.pins ?? false, faults: flags.faults ?? false }, flags.top).join("\n")}\n`);
    return true;
  }
  if (flags.temporary !== undefined) {
    const { temporaryBySource } = await import("./explain-temporary.js");
    const temporary = await temporaryBySource(trace, { by: flags.by, within: flags.temporary, ...since, ...(flags.top !== undefined ? { top: flags.top } : {}) });
    write(temporary.length > 0 ? `${temporary.join("\n")}\n` : "");
    return true;
  }
  const lines = await explainBySource(trace, {
    by: flags.by,
    at,
    ...(flags.compareTo !== undefined ? { compareTo: when(flags.compareTo) } : {}),
    ...(flags.top !== undefined ? { top: flags.top } : {}),
    cumulative: flags.cumulative ?? false,
    ...since,
  });
  write(lines.length > 0 ? `${lines.join("\n")}\n` : "");
  return true;
}
