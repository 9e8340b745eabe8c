/**
 * A replay with the insight layer's {@link Timeline} watching, as `explain` and `report` run
 * it: the stack's process wrapped so that its system calls are counted and narrated, and the
 * timeline told each recorded pointer's simulated one once the replayer exists.
 */
import { countSyscalls, Timeline, type SyscallCounts, type TimelineOptions } from "@mem/insight";
import type { Replayer } from "./replay.js";
import { prepareReplay, type PreparedReplay, type ReplayStackFlags } from "./replay-command.js";
import type { StackOptions } from "./stack.js";

/** A prepared replay and the timeline that watches it. */
export interface TimelineReplay {
  /** The stack and the settings taken from the trace's header. */
  readonly prepared: PreparedReplay;
  /** The timeline (sampling, peak, policy events). */
  readonly timeline: Timeline;
  /** Gives the timeline the replayer's pointer table (pass it as `replayFile`'s `replayer` hook, or call it from there). */
  readonly bind: (replayer: Replayer) => void;
}

/**
 * Prepares `trace`'s stack from its header, `flags` and `base` (as `mem-demo replay` does) with
 * a {@link Timeline} of `options` watching it.
 */
export async function prepareTimelineReplay(
  trace: string,
  flags: ReplayStackFlags,
  base: StackOptions,
  options: Omit<TimelineOptions, "syscalls">,
  note: (line: string) => void,
): Promise<TimelineReplay> {
  const watch: { timeline?: Timeline; counts?: SyscallCounts } = {};
  const prepared = await prepareReplay(
    trace,
    flags,
    {
      ...base,
      wrapProcess: (process) => {
        const counted = countSyscalls(base.wrapProcess ? base.wrapProcess(process) : process, (call, args) => watch.timeline?.onSyscall(call, args));
        watch.counts = counted.counts;
        return counted.process;
      },
    },
    note,
  );
  let simulated: (key: number) => number = () => 0;
  // incremental accounts (soft-dirty tracking) once the process is large enough: the same samples
  const timeline = new Timeline(prepared.stack, { incremental: "auto", ...options, syscalls: watch.counts }, (key) => simulated(key));
  watch.timeline = timeline;
  return { prepared, timeline, bind: (replayer) => (simulated = (key) => replayer.simulatedPointer(key)) };
}
