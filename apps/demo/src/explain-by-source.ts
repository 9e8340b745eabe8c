/**
 * `mem-demo explain <trace> --by lineno|filename|traceback`: what tracemalloc would have
 * printed at a moment of the recorded program, from the trace's source locations (`#F`,
 * `#T`, `#S`): `tracemalloc.take_snapshot().statistics(key_type, cumulative)`, one
 * `str(stat)` a line, in tracemalloc's exact text, or with `--compare-to` the output of
 * `snapshot.compare_to(old_snapshot, key_type, cumulative)`.
 *
 * The traces are tracemalloc's: every block handed out by the raw, mem and obj domains and
 * not yet freed, with its requested size (calloc: nelem × elsize) and the traceback in
 * force when it was allocated; a realloc moves the block and gives it the current
 * traceback, as tracemalloc_realloc does, and an object reused from a free list (`#R`)
 * gets the traceback of its reuse, as _PyTraceMalloc_NewReference does. `libc` blocks are
 * not Python's: ignored.
 */
import { traceChunks } from "./record/files.js";
import { Snapshot, type KeyType, type RawFrame, type RawTrace } from "@mem/pymem";
import { TraceStream, type TraceRecord } from "@mem/memtrace";
import { Option, type Command } from "commander";
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
  readonly since?: number | "start" | "x-tracemalloc";
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

/** The live traces (pointer -> size and traceback id) as the trace is read. */
class LiveTraces {
  readonly size = new Map<number, number>();
  readonly traceback = new Map<number, number>();

  add(ptr: number, size: number, tb: number): void {
    this.size.set(ptr, size);
    this.traceback.set(ptr, tb);
  }

  clear(): void {
    this.size.clear();
    this.traceback.clear();
  }

  remove(ptr: number): void {
    if (this.size.delete(ptr)) this.traceback.delete(ptr);
  }

  /** The traces as tracemalloc's `_get_traces()` gives them (frames most recent first). */
  snapshot(resolve: (tb: number) => { frames: RawFrame[]; total: number }, limit: number): Snapshot {
    const cache = new Map<number, { frames: RawFrame[]; total: number }>();
    const traces: RawTrace[] = [];
    for (const [ptr, size] of this.size) {
      const tb = this.traceback.get(ptr)!;
      let r = cache.get(tb);
      if (r === undefined) cache.set(tb, (r = resolve(tb)));
      traces.push([0, size, r.frames, r.total]);
    }
    return new Snapshot(traces, limit);
  }
}

/**
 * The comments around the recorder's own calls into Python (registering its atexit hook):
 * blocks allocated between them are not the program's and stay untraced; `#R` lines between
 * them are ignored.
 */
export const OWN_BEGIN = " recorder-own-begin";
/** See {@link OWN_BEGIN}. */
export const OWN_END = " recorder-own-end";
/**
 * The comments around the `_tracemalloc` module's initialisation in a recording (its table
 * lock, a raw block): under `python -X tracemalloc` it was done at start-up, before tracing, so
 * the blocks between are untraced as those of {@link OWN_BEGIN}.
 */
export const TM_INIT_BEGIN = " tracemalloc-init-begin";
/** See {@link TM_INIT_BEGIN}. */
export const TM_INIT_END = " tracemalloc-init-end";

const UNKNOWN: { frames: RawFrame[]; total: number } = { frames: [["<unknown>", 0]], total: 1 };

/**
 * Reads `trace` (plain or `.gz`) and returns tracemalloc's lines at the moment asked.
 * @throws {@link BySourceError} when the trace has no source locations or the moment lies
 *   beyond its end; `MemtraceSyntaxError` for a malformed trace (naming the line)
 */
export async function explainBySource(trace: string, options: BySourceOptions): Promise<string[]> {
  const at = options.at ?? "end";
  const old = options.compareTo;
  const since = options.since ?? "x-tracemalloc";
  const live = new LiveTraces();
  // a C program's trace (libc lines only) is read by call site; in a CPython trace, libc lines
  // (if any) are not tracemalloc's and are left out
  const libcLive = new LiveTraces();
  const pythonLive = live;
  let sawPython = false;
  let calls = 0;
  let limit = 1;
  let atSnapshot: [Snapshot, Snapshot] | undefined;
  let oldSnapshot: [Snapshot, Snapshot] | undefined;
  let sawStacks = false;
  // between "# recorder-own-begin" and "# recorder-own-end" (the recorder's own allocations) or
  // the tracemalloc-init pair: untraced
  let own = false;
  const stream: TraceStream = new TraceStream((r: TraceRecord) => {
    switch (r.kind) {
      case "malloc":
      case "calloc":
      case "memalign":
      case "realloc":
      case "free":
        calls++;
        apply(r);
        if (calls === since) {
          live.clear();
          libcLive.clear();
        }
        if (calls === old) oldSnapshot = take();
        if (calls === at) atSnapshot = take();
        return;
      case "stack":
        sawStacks = true;
        return;
      case "retrace":
        // an object reused from a free list: its block gets the current traceback (not in
        // the recorder's own calls, which a real run does not make)
        if (own) return;
        if (live.traceback.has(r.ptr)) live.traceback.set(r.ptr, stream.stacks.current);
        if (libcLive.traceback.has(r.ptr)) libcLive.traceback.set(r.ptr, stream.stacks.current);
        return;
      case "comment": {
        const m = /^ frames (\d+)$/.exec(r.text);
        if (m) limit = Number(m[1]);
        else if (r.text === OWN_BEGIN || r.text === OWN_END || r.text === TM_INIT_BEGIN || r.text === TM_INIT_END) own = r.text === OWN_BEGIN || r.text === TM_INIT_BEGIN;
        else if (since === "x-tracemalloc" && r.text === " x-tracemalloc-start") {
          live.clear();
          libcLive.clear();
        }
        return;
      }
      default:
        return;
    }
  });
  const resolve = (tb: number) => {
    if (tb < 0) return UNKNOWN;
    const t = stream.stacks.traceback(tb)!;
    return { frames: t.frames.map((f): RawFrame => {
      const fr = stream.stacks.frame(f)!;
      return [fr.filename, fr.lineno];
    }), total: t.total };
  };
  const take = (): [Snapshot, Snapshot] => [live.snapshot(resolve, limit), libcLive.snapshot(resolve, limit)];
  const apply = (r: TraceRecord) => {
    const live = r.domain === "libc" ? libcLive : pythonLive;
    if (r.domain !== "libc") sawPython = true;
    switch (r.kind) {
      case "malloc":
      case "memalign":
        if (r.result !== 0 && !own) live.add(r.result, r.size, stream.stacks.current);
        return;
      case "calloc":
        if (r.result !== 0 && !own) live.add(r.result, r.nelem * r.elsize, stream.stacks.current);
        return;
      case "realloc":
        if (r.result === 0) return;
        if (r.ptr !== 0) live.remove(r.ptr);
        if (!own) live.add(r.result, r.size, stream.stacks.current);
        return;
      case "free":
        live.remove(r.ptr);
        return;
      default:
        return;
    }
  };
  await feedTrace(stream, trace, () => atSnapshot !== undefined && (old === undefined || oldSnapshot !== undefined));
  if (!sawStacks) throw noStacksError();
  for (const [moment, name] of [[at, "--at"], [old, "--compare-to"], [since, "--since"]] as const) {
    if (typeof moment === "number" && moment > calls) throw new BySourceError(`${name} ${moment} is beyond the end of the trace (${calls} call events)`);
  }
  const pick = (pair: [Snapshot, Snapshot]): Snapshot => (sawPython ? pair[0] : pair[1]);
  const now = pick(atSnapshot ?? take());
  const cumulative = options.cumulative ?? false;
  let lines: string[];
  if (old !== undefined) {
    const before = pick(oldSnapshot ?? take());
    lines = now.compareTo(before, options.by, cumulative).map(String);
  } else {
    lines = now.statistics(options.by, cumulative).map(String);
  }
  return options.top === undefined ? lines : lines.slice(0, options.top);
}

/** The flags `--by` adds to `mem-demo explain`. */
export interface BySourceFlags {
  readonly by?: KeyType;
  readonly at?: number | "peak" | "end";
  readonly top?: number;
  readonly cumulative?: boolean;
  readonly compareTo?: number | "peak" | "end";
  readonly since?: number | "start" | "x-tracemalloc";
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

function sinceArg(value: string): number | "start" | "x-tracemalloc" {
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
        "with --by: when tracing started: x-tracemalloc (where python -X tracemalloc starts, the default), start (the whole trace), or a call event (tracemalloc.start() there)",
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
  // --at peak: the moment of tracemalloc's get_traced_memory()[1] (the first event at the peak)
  const peakAt = flags.at === "peak" || flags.compareTo === "peak" ? (await import("./explain-peak.js").then((m) => m.tracedPeak(trace, flags.since !== undefined ? { since: flags.since } : {}))).at : "end";
  const when = (m: number | "peak" | "end" | undefined): SourceMoment => (m === "peak" ? peakAt : (m ?? "end"));
  const at = when(flags.at);
  if (flags.resident && makeStack !== undefined) {
    const { residentBySource, residentLines } = await import("./explain-resident.js");
    const result = await residentBySource(await makeStack(), trace, { by: flags.by, at });
    write(`${residentLines(result, flags.top).join("\n")}\n`);
    return true;
  }
  if ((flags.pins || flags.faults) && makeStack !== undefined) {
    const { pinsAndFaultsBySource, pinsFaultsLines } = await import("./explain-pins-faults.js");
    const result = await pinsAndFaultsBySource(await makeStack(), trace, { by: flags.by, at });
    write(`${pinsFaultsLines(result, { pins: flags.pins ?? false, faults: flags.faults ?? false }, flags.top).join("\n")}\n`);
    return true;
  }
  if (flags.temporary !== undefined) {
    const { temporaryBySource } = await import("./explain-temporary.js");
    const temporary = await temporaryBySource(trace, { by: flags.by, within: flags.temporary, ...(flags.top !== undefined ? { top: flags.top } : {}) });
    write(temporary.length > 0 ? `${temporary.join("\n")}\n` : "");
    return true;
  }
  const lines = await explainBySource(trace, {
    by: flags.by,
    at,
    ...(flags.compareTo !== undefined ? { compareTo: when(flags.compareTo) } : {}),
    ...(flags.top !== undefined ? { top: flags.top } : {}),
    cumulative: flags.cumulative ?? false,
    ...(flags.since !== undefined ? { since: flags.since } : {}),
  });
  write(lines.length > 0 ? `${lines.join("\n")}\n` : "");
  return true;
}
