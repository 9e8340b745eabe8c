/**
 * The real allocators replaying a trace, for comparison with the simulated stack:
 * - {@link replayNative}: real pymalloc (a fresh, uninitialised libpython) and glibc
 *   replaying a trace, timed: the native baseline of the replay benchmark, and the
 *   pymalloc statistics it ends with;
 * - {@link checkLibcPlacements}: real glibc replaying a `libc` trace in a fresh process,
 *   each heap block compared with the recorded offset from the heap start.
 */
import { openTrace } from "./files.js";
import { RecordError } from "./errors.js";
import { libcChecker, nativeReplayer, pythonBuild } from "./helpers.js";
import { run } from "./run.js";

/** Options of {@link replayNative}. */
export interface ReplayNativeOptions {
  /** Write the pymalloc statistics (`_PyObject_DebugMallocStats`) after the replay here. */
  readonly statsOut?: string;
  /** Replay this many times (freeing what is left in between) and report the fastest. @defaultValue 1 */
  readonly repeat?: number;
  /** The Python whose libpython replays. @defaultValue "python3" */
  readonly python?: string;
  /** Where compiled helpers are cached. */
  readonly cacheDir?: string;
}

/** The outcome of a native replay. */
export interface NativeReplay {
  /** Allocation events replayed. */
  readonly events: number;
  /** Seconds the (fastest) replay took, parsing excluded. */
  readonly seconds: number;
  /** `events / seconds`. */
  readonly eventsPerSecond: number;
  /** Frees or reallocs of pointers no earlier event returned. */
  readonly unmatched: number;
}

/**
 * Replays `trace` (plain or `.gz`) natively. The trace is parsed into memory first; only
 * the replay is timed. pymalloc arenas are placed at the recorded offsets modulo 16 KiB,
 * so that the statistics can match the recording's exactly.
 */
export async function replayNative(trace: string, options: ReplayNativeOptions = {}): Promise<NativeReplay> {
  const build = await pythonBuild(options.python ?? "python3");
  const replayer = await nativeReplayer(build, options.cacheDir);
  const args = [...(options.statsOut ? ["--stats", options.statsOut] : []), "--repeat", String(options.repeat ?? 1), "-"];
  const result = await run(replayer, args, { input: openTrace(trace) });
  const m = /^events (\d+) seconds ([\d.]+) events\/s (\d+) unmatched (\d+)$/m.exec(result.stdout);
  if (!m) throw new RecordError(`the native replay of ${trace} failed (exit status ${result.exitCode}): ${result.stderr.trim()}`);
  return { events: Number(m[1]), seconds: Number(m[2]), eventsPerSecond: Number(m[3]), unmatched: Number(m[4]) };
}

/** The outcome of {@link checkLibcPlacements}. */
export interface LibcPlacementCheck {
  /** Allocation events replayed. */
  readonly events: number;
  /** Results that were heap blocks in the recording. */
  readonly heap: number;
  /** Heap blocks placed at the recorded offset from the heap start. */
  readonly same: number;
  /** Blocks placed elsewhere (or calls whose success differed). */
  readonly moved: number;
  /** Blocks outside the heap in both runs (mmap'd chunks). */
  readonly mmapped: number;
  /** Frees or reallocs of pointers no earlier event returned. */
  readonly unmatched: number;
  /** The first differing event, if any. */
  readonly firstDifference?: string;
}

/** Replays a `libc` trace (plain or `.gz`) through this machine's glibc in a fresh process. */
export async function checkLibcPlacements(trace: string, options: { readonly cacheDir?: string } = {}): Promise<LibcPlacementCheck> {
  const checker = await libcChecker(options.cacheDir);
  const result = await run(checker, ["-"], { input: openTrace(trace) });
  const m = /^events (\d+) heap (\d+) same (\d+) moved (\d+) mmapped (\d+) unmatched (\d+)$/m.exec(result.stdout);
  if (!m) throw new RecordError(`the glibc placement check of ${trace} failed (exit status ${result.exitCode}): ${result.stderr.trim()}`);
  const diff = /^first difference: (.*)$/m.exec(result.stdout);
  return {
    events: Number(m[1]),
    heap: Number(m[2]),
    same: Number(m[3]),
    moved: Number(m[4]),
    mmapped: Number(m[5]),
    unmatched: Number(m[6]),
    ...(diff?.[1] ? { firstDifference: diff[1] } : {}),
  };
}
