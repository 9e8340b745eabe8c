/**
 * The program's calls that change glibc's malloc state without allocating: `malloc_trim`
 * and `mallopt`. A recorder writes each as a comment, so that readers that do not know them
 * (older replays, other tools) skip them as before:
 *
 * ```
 *   # malloc_trim <pad> <result>             pad and glibc's return value, decimal
 *   # mallopt <param> <value> <result>       M_TRIM_THRESHOLD is -1, M_MMAP_THRESHOLD -3, …
 * ```
 *
 * A replay makes the same call on the simulated glibc at that point of the trace; a
 * different return value is a divergence (the simulated heap did not have what the real one
 * had to give back, or a value was refused).
 */
import { GlibcMalloc } from "@mem/libc-malloc";
import type { CPythonStack } from "./stack.js";

/** One `malloc_trim` or `mallopt` call of the recorded program. */
export type LibcControl =
  | { readonly call: "malloc_trim"; readonly pad: number; readonly result: number }
  | { readonly call: "mallopt"; readonly param: number; readonly value: number; readonly result: number };

/** The call in a comment's text (after the `#`), or undefined for another comment. */
export function libcControlOf(commentText: string): LibcControl | undefined {
  let m = /^ malloc_trim (\d+) (-?\d+)$/.exec(commentText);
  if (m !== null) return { call: "malloc_trim", pad: Number(m[1]), result: Number(m[2]) };
  m = /^ mallopt (-?\d+) (-?\d+) (-?\d+)$/.exec(commentText);
  if (m !== null) return { call: "mallopt", param: Number(m[1]), value: Number(m[2]), result: Number(m[3]) };
  return undefined;
}

/** The comment line of a call (what a recorder writes and a replay's `--out` keeps). */
export function libcControlLine(control: LibcControl): string {
  return control.call === "malloc_trim" ? `# malloc_trim ${control.pad} ${control.result}` : `# mallopt ${control.param} ${control.value} ${control.result}`;
}

/**
 * Makes the call on the stack's glibc and returns its result, or undefined when the C
 * allocator is not glibc (the TLSF allocator has neither call: nothing happens).
 */
export function applyLibcControl(stack: CPythonStack, control: LibcControl): number | undefined {
  const libc = stack.libc;
  if (!(libc instanceof GlibcMalloc)) return undefined;
  return control.call === "malloc_trim" ? libc.mallocTrim(control.pad) : libc.mallopt(control.param, control.value);
}
