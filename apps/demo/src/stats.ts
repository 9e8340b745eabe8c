/**
 * The statistics views of `mem-demo replay --stats`, each in the real system's format.
 */
import { libcStatsText, type CPythonStack } from "./stack.js";

/** The statistics a replay can print. */
export const STATS_KINDS = ["pymalloc", "libc", "vm", "all"] as const;
/** One of {@link STATS_KINDS}. */
export type StatsKind = (typeof STATS_KINDS)[number];

/**
 * - pymalloc: exactly the pymalloc section of `sys._debugmallocstats()`;
 * - libc: glibc's `malloc_stats()` text;
 * - vm: the memory lines of /proc/PID/status, then /proc/PID/maps.
 */
export function statsText(stack: CPythonStack, kind: StatsKind): string {
  const parts: string[] = [];
  if (kind === "pymalloc" || kind === "all") {
    parts.push(stack.pymalloc ? stack.pymalloc.debugMallocStats() : "(no pymalloc: PYTHONMALLOC=" + stack.options.pythonMalloc + ")\n");
  }
  if (kind === "libc" || kind === "all") parts.push(libcStatsText(stack.libc));
  if (kind === "vm" || kind === "all") parts.push(stack.process.status() + stack.process.maps());
  return parts.join(kind === "all" ? "\n" : "");
}
