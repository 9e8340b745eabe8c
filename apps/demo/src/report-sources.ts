/**
 * The sources picture of `mem-demo report`: when the trace carries stacks (`#F`/`#T`/`#S`
 * records, `mem-demo record --frames N`), the resident bytes split by traceback
 * (explain-resident.ts, `explain --by traceback --resident`) at up to
 * {@link MAX_FLAME_SNAPSHOTS} of the map snapshots' events and at the end, all in one replay,
 * each folded into a flame tree, pruned to what its two icicle graphs draw and packed against
 * one table of frames; the page draws the one at or before the slider's event. The blocks are
 * those tracemalloc traces (./source-tracker.ts): from `# x-tracemalloc-start` on, without the
 * recorder's own.
 *
 *   map snapshot events ──► flameMoments (≤ 64: evenly spread, the peak's nearest, the end)
 *   trace ──► residentAtMoments(by traceback, moments, end) ──► shares at each moment
 *         ──► flameTree(outermost first) ──► FlamePacker (≤ 2,000 frames a picture) ──► PackedFlames
 */
import { FlamePacker, flameTree, type FlamePath, type PackedFlames } from "@mem/view";
import { BySourceError } from "./explain-by-source.js";
import { residentAtMoments, type ResidentAttribution } from "./explain-resident.js";
import { prepareReplay } from "./replay-command.js";
import type { StackOptions } from "./stack.js";

/** The most frames each of the report's two icicle graphs draws (its node budget). */
export const FLAME_NODE_BUDGET = 2000;

/** The most moments the sources picture is drawn at (the slider shows the last at or before its event). */
export const MAX_FLAME_SNAPSHOTS = 64;

/** The sources section: the flame trees at their moments, or why there are none. */
export type ReportSources = { readonly flames: PackedFlames; readonly note?: undefined } | { readonly flames?: undefined; readonly note: string };

/** The note of a report whose trace has no stacks. */
export const NO_STACKS = "This trace has no stacks (no #F/#T/#S records), so there is no flame graph of sources: record it with them, e.g. mem-demo record --frames 5 -- python3 script.py";

/** The shares as flame paths: frames reversed to outermost first; `<no live block>` one frame of its own. */
export function flamePaths(result: ResidentAttribution): FlamePath[] {
  return result.shares.map((s) => ({
    frames: s.frames !== undefined ? [...s.frames].reverse().map(([file, line]) => ({ file, line })) : [{ file: s.source, line: 0 }],
    resident: s.resident,
    requested: s.requested,
    count: s.count,
  }));
}

/**
 * The events the sources are drawn at, among the map snapshots' `events` (ascending, the
 * last the end): all of them when there are at most `max`; else `max - 1` spread evenly
 * (the first and the last among them) and the one nearest `peak` (the first of equals, as
 * the page's peak button picks).
 */
export function flameMoments(events: readonly number[], peak: number, max = MAX_FLAME_SNAPSHOTS): number[] {
  const n = events.length;
  if (n <= max) return [...events];
  const picked = new Set<number>();
  for (let k = 0; k <= max - 2; k++) picked.add(Math.round((k * (n - 1)) / (max - 2)));
  let nearest = 0;
  for (let i = 1; i < n; i++) if (Math.abs(events[i]! - peak) < Math.abs(events[nearest]! - peak)) nearest = i;
  picked.add(nearest);
  return [...picked].sort((a, b) => a - b).map((i) => events[i]!);
}

/**
 * Replays `trace` again (its header's settings, the command line's winning) and attributes
 * the resident bytes to tracebacks at each of `moments` but the last, and at the end (the
 * last: the end of the trace). A trace without stacks gets a note saying how to record one;
 * any other failure (a trace that fails part way) gets a note with its message.
 */
export async function sourcesForReport(trace: string, base: StackOptions, flags: Pick<StackOptions, "pythonMalloc" | "pymallocVersion">, moments: readonly number[] = []): Promise<ReportSources> {
  try {
    const { stack } = await prepareReplay(trace, { pythonMalloc: flags.pythonMalloc, pymallocVersion: flags.pymallocVersion }, base, () => undefined);
    const packer = new FlamePacker("all", { maxNodes: FLAME_NODE_BUDGET });
    await residentAtMoments(stack, trace, { by: "traceback", moments: moments.slice(0, -1), end: true }, (event, result) => packer.add(event, flameTree(flamePaths(result), "all")));
    return { flames: packer.packed() };
  } catch (error) {
    if (error instanceof BySourceError && /no source locations/.test(error.message)) {
      return { note: NO_STACKS };
    }
    if (!(error instanceof Error)) throw error;
    return { note: `The sources picture could not be drawn: ${error.message}` };
  }
}
