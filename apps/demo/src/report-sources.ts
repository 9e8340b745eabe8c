/**
 * The sources picture of `mem-demo report`: when the trace carries stacks (`#F`/`#T`/`#S`
 * records, `mem-demo record --frames N`), the resident bytes at the end split by traceback
 * (explain-resident.ts, `explain --by traceback --resident`) folded into a flame tree, drawn
 * as two icicle graphs: by resident bytes and by live requested bytes.
 *
 *   trace ──► residentBySource(by traceback) ──► shares (frames most recent first)
 *         ──► flameTree(outermost first) ──► renderFlameGraph ×2 (≤ 2,000 frames each)
 */
import { flameTree, renderFlameGraph, type FlameNode, type FlamePath } from "@mem/view";
import { BySourceError } from "./explain-by-source.js";
import { residentBySource, type ResidentAttribution } from "./explain-resident.js";
import { prepareReplay } from "./replay-command.js";
import type { StackOptions } from "./stack.js";

/** The most frames each of the report's two icicle graphs draws (its node budget). */
export const FLAME_NODE_BUDGET = 2000;

/** The sources section: the pictures, or why there are none. */
export type ReportSources =
  | { readonly tree: FlameNode; readonly resident: string; readonly requested: string; readonly note?: undefined }
  | { readonly tree?: undefined; readonly note: string };

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
 * Replays `trace` again (its header's settings, the command line's winning) and attributes
 * the resident bytes at the end to tracebacks. A trace without stacks gets a note saying how
 * to record one; any other failure (a trace that fails part way) gets a note with its message.
 */
export async function sourcesForReport(trace: string, base: StackOptions, flags: Pick<StackOptions, "pythonMalloc" | "pymallocVersion">): Promise<ReportSources> {
  try {
    const { stack } = await prepareReplay(trace, { pythonMalloc: flags.pythonMalloc, pymallocVersion: flags.pymallocVersion }, base, () => undefined);
    const result = await residentBySource(stack, trace, { by: "traceback" });
    const tree = flameTree(flamePaths(result), "all");
    return {
      tree,
      resident: renderFlameGraph(tree, { id: "flame-resident-svg", maxNodes: FLAME_NODE_BUDGET }),
      requested: renderFlameGraph(tree, { id: "flame-requested-svg", maxNodes: FLAME_NODE_BUDGET, metric: "requested" }),
    };
  } catch (error) {
    if (error instanceof BySourceError && /no source locations/.test(error.message)) {
      return { note: NO_STACKS };
    }
    if (!(error instanceof Error)) throw error;
    return { note: `The sources picture could not be drawn: ${error.message}` };
  }
}
