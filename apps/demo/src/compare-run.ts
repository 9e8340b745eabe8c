/**
 * One column of `mem-demo compare`: the trace replayed under one configuration (the header's
 * settings with the `--with` settings over them), watched by the insight layer's timeline,
 * reduced to the figures the table compares.
 */
import { countSyscalls, Timeline, type SyscallCounts, type TimelineResult } from "@mem/insight";
import { GlibcMalloc } from "@mem/libc-malloc";
import type { TraceRecord } from "@mem/memtrace";
import type { CompareConfig } from "./compare-settings.js";
import { outOfMemoryText } from "./out-of-memory.js";
import { ReplayError } from "./replay.js";
import { prepareReplay } from "./replay-command.js";
import { replayFile } from "./replay-file.js";
import type { StackOptions } from "./stack.js";

/** The figures of one replayed configuration (bytes, counts). */
export interface CompareFigures {
  /** Call events replayed (m/c/r/f/a lines). */
  readonly events: number;
  /** The highest sampled RssAnon (explain's `peak.rssAnon`). */
  readonly peakRssAnon: number;
  /** The event of that sample. */
  readonly peakEvent: number;
  /** VmHWM at the end: the kernel's high-water mark of VmRSS, exact (not sampled). */
  readonly peakVmRss: number;
  /** RssAnon at the end (explain's `end.rssAnon`). */
  readonly endRssAnon: number;
  /** VmRSS at the end (explain's `end.vmRss`). */
  readonly endVmRss: number;
  /** VmSize at the end: address space, reservations included (a glibc thread heap reserves 64 MiB). */
  readonly endVmSize: number;
  /**
   * RssAnon after the program's frees: the lowest sampled RssAnon at or after the sample
   * with the most live requested bytes (explain's `timeline`, the end included).
   */
  readonly afterFreesRssAnon: number;
  /** The event of that sample. */
  readonly afterFreesEvent: number;
  /** Minor page faults of the process, at the end. */
  readonly minorFaults: number;
  /** Memory system calls of the whole replay. */
  readonly syscalls: { readonly brk: number; readonly mmap: number; readonly munmap: number; readonly madvise: number };
  /**
   * The time proxy: simulated memory accesses (loads + stores of the simulated RAM, each
   * counted once whatever its width) made by the allocators and kernel during the replay.
   */
  readonly memoryAccesses: number;
  /** `malloc_trim(0)` calls made for `trim-every`. */
  readonly trims: number;
}

/** A column: its configuration and either its figures or why it failed. */
export interface CompareColumn {
  /** `baseline` or the `--with` string. */
  readonly label: string;
  /** The settings in force, e.g. `PYTHONMALLOC=malloc, libc glibc, CPython 3.11's pymalloc`. */
  readonly describe: string;
  /** The figures, or undefined when the replay failed. */
  readonly figures: CompareFigures | undefined;
  /** Why it failed (a refused setting, a simulated fault, out of memory), one line. */
  readonly failure: string | undefined;
}

/**
 * Replays `trace` under `config` (undefined: the baseline, the trace as recorded) and
 * returns its column. Any error of this replay becomes the column's failure; `note`
 * receives the lines about settings taken from the header or overridden; `onTimeline` the
 * replay's timeline when it completed (the report overlays its RSS).
 */
export async function runConfiguration(
  trace: string,
  base: StackOptions,
  config: CompareConfig | undefined,
  every: number,
  note: (line: string) => void,
  onTimeline?: (result: TimelineResult) => void,
): Promise<CompareColumn> {
  const label = config?.text ?? "baseline";
  let describe = label;
  try {
    const watch: { timeline?: Timeline; counts?: SyscallCounts } = {};
    // the simulated RAM's load and store counters, and the part of them the watching made
    let traffic = { loads: 0, stores: 0 };
    let watching = 0;
    const prepared = await prepareReplay(
      trace,
      { pythonMalloc: config?.pythonMalloc, pymallocVersion: config?.pymallocVersion, glibcTunables: config?.glibcTunables, cpus: config?.cpus, seed: base.seed ?? 0 },
      {
        ...base,
        libc: config?.libc ?? base.libc,
        wrapProcess: (process) => {
          const counted = countSyscalls(process, (call, args) => {
            const before = traffic.loads + traffic.stores;
            watch.timeline?.onSyscall(call, args);
            watching += traffic.loads + traffic.stores - before;
          });
          watch.counts = counted.counts;
          return counted.process;
        },
      },
      note,
    );
    const { stack, settings, header } = prepared;
    traffic = stack.ram.traffic;
    const glibcText = stack.libc instanceof GlibcMalloc && settings.glibcSettings.settings.length > 0 ? ` ${settings.glibcSettings.settings.map((s) => `${s.tunable.slice(13)}=${s.value}`).join(" ")}` : "";
    // a C program's trace: the Python settings are named only when the configuration sets them
    const python = header.python !== undefined || config?.pythonMalloc !== undefined || config?.pymallocVersion !== undefined;
    describe = `${python ? `PYTHONMALLOC=${settings.pythonMalloc} pymalloc=${settings.pymallocVersion} ` : ""}libc=${stack.options.libc}${glibcText}${config?.cpus !== undefined ? ` cpus=${config.cpus}` : ""}${config?.trimEvery ? ` trim-every=${config.trimEvery}` : ""}`;
    const libc = stack.libc;
    if (config?.trimEvery !== undefined && !(libc instanceof GlibcMalloc)) throw new Error("trim-every: malloc_trim is glibc's; the tlsf allocator has none");
    let simulated: (key: number) => number = () => 0;
    const timeline = new Timeline(stack, { every, syscalls: watch.counts }, (key) => simulated(key));
    watch.timeline = timeline;
    const trimEvery = config?.trimEvery ?? 0;
    let trims = 0;
    const onEvent = (r: TraceRecord): void => {
      if (!timeline.follow(r)) return;
      // the program's malloc_trim(0) after its N-th call, before that event's sample
      if (trimEvery > 0 && (timeline.callsSeen + 1) % trimEvery === 0) {
        (libc as GlibcMalloc).mallocTrim(0);
        trims++;
      }
      // the timeline's samples read simulated memory: their accesses are not the program's
      const before = traffic.loads + traffic.stores;
      timeline.afterCall();
      watching += traffic.loads + traffic.stores - before;
    };
    const before = traffic.loads + traffic.stores;
    let failure: string | undefined;
    try {
      await replayFile(stack, trace, { onEvent, replayer: (replayer) => (simulated = (key) => replayer.simulatedPointer(key)) });
    } catch (error) {
      if (!(error instanceof ReplayError)) throw error;
      failure = `stopped at line ${error.line}, after ${timeline.callsSeen} call events: ${outOfMemoryText(error.cause) ?? error.message}`;
    }
    const accesses = traffic.loads + traffic.stores - before - watching;
    if (failure !== undefined) return { label, describe, figures: undefined, failure };
    const result = timeline.finish();
    onTimeline?.(result);
    const livePeak = result.peakLive.event;
    let after = result.end as { rssAnon: number; event: number };
    for (const s of result.timeline) if (s.event >= livePeak && s.rssAnon < after.rssAnon) after = s;
    const counts = watch.counts!;
    return {
      label,
      describe,
      failure: undefined,
      figures: {
        events: timeline.callsSeen,
        peakRssAnon: result.peak.rssAnon,
        peakEvent: result.peak.event,
        peakVmRss: result.end.vmHWM,
        endRssAnon: result.end.rssAnon,
        endVmRss: result.end.vmRss,
        endVmSize: result.end.vmSize,
        afterFreesRssAnon: after.rssAnon,
        afterFreesEvent: after.event,
        minorFaults: result.end.minorFaults,
        syscalls: { brk: counts.brk, mmap: counts.mmap, munmap: counts.munmap, madvise: counts.madvise },
        memoryAccesses: accesses,
        trims,
      },
    };
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    return { label, describe, figures: undefined, failure: outOfMemoryText(error) ?? error.message };
  }
}
