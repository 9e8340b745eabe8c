/**
 * The replay behind `mem-demo report`: the same watch as `mem-demo explain` (a Timeline every
 * K call events, system calls counted, the trace header's settings), plus snapshots of the
 * arena, heap and page maps for the report's time slider.
 *
 *   call events ──► Timeline (every K)             ─► timeline, peak, end, pins (explain --json)
 *              └──► maps every S events (S = K·2^j) ─► ≤ MAX_SNAPSHOTS packed snapshots
 *                   when full: keep every other one, S doubles (memory constant in trace length)
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { explainJson, narrate, type ExplainJson, type TimelineResult } from "@mem/insight";
import type { TraceRecord } from "@mem/memtrace";
import { collectMaps, packMaps, type PackedMaps } from "@mem/view";
import { ReplayError } from "./replay.js";
import type { PreparedReplay } from "./replay-command.js";
import { prepareTimelineReplay } from "./timeline-replay.js";
import { replayFile } from "./replay-file.js";
import type { StackOptions } from "./stack.js";

/** The most map snapshots a report carries (the slider's positions), the end included. */
export const MAX_SNAPSHOTS = 200;


/** Options of {@link replayForReport}. */
export interface ReportReplayOptions {
  /** Timeline sample interval. @defaultValue 10000 (explain's default, so the figures are explain's) */
  every?: number;
  /** Map snapshots kept. @defaultValue {@link MAX_SNAPSHOTS} */
  maxSnapshots?: number;
  /** `--pythonmalloc` when given. */
  pythonMalloc?: StackOptions["pythonMalloc"];
  /** `--pymalloc-version` when given. */
  pymallocVersion?: StackOptions["pymallocVersion"];
}

/** What the replay gathered for the report. */
export interface ReportReplay {
  /** The stack and its settings. */
  readonly prepared: PreparedReplay;
  /** The timeline (peak and end with their accounts and pins). */
  readonly result: TimelineResult;
  /** `mem-demo explain --json`'s object for the same replay. */
  readonly json: ExplainJson;
  /** The plain-language paragraph about the end (or where the replay stopped). */
  readonly paragraph: string;
  /** Map snapshots in event order, the last at the end (or at the failure). */
  readonly snapshots: readonly PackedMaps[];
  /** The replay's error when the trace failed part way. */
  readonly failure: ReplayError | undefined;
  /** Whether the trace carries stacks (a `#S` line was read): the report then draws its sources. */
  readonly hasStacks: boolean;
}

/**
 * Replays `trace` as `mem-demo explain` does and takes map snapshots along the way.
 * A simulated fault or a malformed line stops the replay: everything up to it is returned
 * with the error; any other error (unreadable trace, bad settings) is thrown.
 */
export async function replayForReport(trace: string, base: StackOptions, options: ReportReplayOptions = {}, note: (line: string) => void = () => undefined): Promise<ReportReplay> {
  const every = options.every ?? 10000;
  const max = Math.max(2, options.maxSnapshots ?? MAX_SNAPSHOTS);
  const { prepared, timeline, bind } = await prepareTimelineReplay(trace, { pythonMalloc: options.pythonMalloc, pymallocVersion: options.pymallocVersion }, base, { every }, note);
  const snapshots: PackedMaps[] = [];
  // map snapshots every `spacing` call events (1000·2^j): as sparse as the trace's least
  // possible length allows, so that few snapshots are taken only to be thinned away
  let spacing = Math.max(1, Math.min(every, 1000));
  const least = leastCalls(trace);
  while (spacing * 2 * (max - 1) <= least) spacing *= 2;
  const snap = (event: number) => {
    const maps = collectMaps(prepared.stack);
    snapshots.push(packMaps(event, maps.arenas, maps.heap, maps.pages));
  };
  let hasStacks = false;
  const onEvent = (r: TraceRecord): void => {
    if (r.kind === "stack") hasStacks = true;
    if (!timeline.follow(r)) return;
    timeline.afterCall();
    const event = timeline.callsSeen;
    if (event % spacing !== 0) return;
    if (snapshots.length >= max - 1) {
      spacing *= 2;
      const keep = snapshots.filter((s) => s.event % spacing === 0);
      snapshots.length = 0;
      snapshots.push(...keep);
      if (event % spacing !== 0) return;
    }
    snap(event);
  };
  let failure: ReplayError | undefined;
  try {
    await replayFile(prepared.stack, trace, { onEvent, replayer: bind });
  } catch (error) {
    if (!(error instanceof ReplayError)) throw error;
    failure = error;
  }
  const result = timeline.finish();
  if (snapshots[snapshots.length - 1]?.event !== timeline.callsSeen) snap(timeline.callsSeen);
  const stopped = failure ? { event: timeline.callsSeen, line: failure.line, error: failure.message } : undefined;
  const paragraph = narrate(result.end, failure ? `where the replay stopped (event ${result.end.event})` : "at the end");
  return { prepared, result, json: explainJson(result, stopped), paragraph, snapshots, failure, hasStacks };
}

/** The longest line of a trace: `r mem 0x7fffffffffff 9007199254740991 0x7fffffffffff` and its newline. */
const LONGEST_LINE = 56;

/**
 * The fewest call events the trace at `path` can hold: its uncompressed size (a gzip file
 * says it in its last four bytes, modulo 2^32) over the longest line. 0 for standard input.
 */
export function leastCalls(path: string): number {
  if (path === "-") return 0;
  try {
    const size = statSync(path).size;
    if (!path.endsWith(".gz") || size < 18) return Math.floor(size / LONGEST_LINE);
    const fd = openSync(path, "r");
    const tail = Buffer.alloc(4);
    try {
      readSync(fd, tail, 0, 4, size - 4);
    } finally {
      closeSync(fd);
    }
    return Math.floor(Math.max(tail.readUInt32LE(0), size) / LONGEST_LINE);
  } catch {
    return 0;
  }
}
