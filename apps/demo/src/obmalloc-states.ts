/**
 * CPython 3.12+ keeps pymalloc's state per interpreter (PEP 684): an interpreter created with
 * its own obmalloc (`_interpreters.create()`, `use_main_obmalloc = 0`) has its own pools,
 * arenas and radix tree, while the main interpreter and legacy sub-interpreters share the
 * main one. The CPython recorder writes `# obmalloc-state <interpreter id>` whenever the state
 * serving mem/obj calls changes (0: the main interpreter's); a replay gives each state a
 * Pymalloc of its own, over the same process and arena allocator.
 *
 * ```
 *   # obmalloc-state 1      mem/obj slots -> Pymalloc of interpreter 1 (made on first use)
 *   m obj 56 0x7f..         served by interpreter 1's pools and arenas
 *   # obmalloc-state 0      mem/obj slots -> stack.pymalloc (the main interpreter's)
 * ```
 */
import { Pymalloc } from "@mem/small-object";
import type { CPythonStack } from "./stack.js";

/** A trace's `# obmalloc-state` line that this stack cannot follow. */
export class ObmallocStateError extends Error {
  override readonly name = "ObmallocStateError";
}

const statesOf = new WeakMap<CPythonStack, Map<number, Pymalloc>>();

/** The text of an `# obmalloc-state <id>` comment (after the `#`), or undefined for another comment. */
export function obmallocStateOf(commentText: string): number | undefined {
  const m = /^ obmalloc-state (\d+)$/.exec(commentText);
  return m === null ? undefined : Number(m[1]);
}

/**
 * Makes the obmalloc state of interpreter `id` serve the mem and obj domains (0: the main
 * interpreter's, `stack.pymalloc`), creating its Pymalloc with the stack's version on first
 * use, and returns it; undefined when pymalloc serves nothing (`PYTHONMALLOC=malloc`).
 * @throws {@link ObmallocStateError} when debug hooks sit above pymalloc (a state per
 *   interpreter under the hooks is not modelled)
 */
export function selectObmallocState(stack: CPythonStack, id: number): Pymalloc | undefined {
  const main = stack.pymalloc;
  if (main === undefined) return undefined;
  let states = statesOf.get(stack);
  if (states === undefined) statesOf.set(stack, (states = new Map([[0, main]])));
  const serving = stack.pymem.getAllocator("obj").ctx;
  if (!(serving instanceof Pymalloc) || ![...states.values()].includes(serving)) {
    throw new ObmallocStateError(
      `the trace has calls of a sub-interpreter with its own obmalloc state (interpreter ${id}), and under PYTHONMALLOC=${stack.options.pythonMalloc} ` +
        "hooks sit above pymalloc: one pymalloc state per interpreter beneath the debug hooks is not modelled",
    );
  }
  let pm = states.get(id);
  if (pm === undefined) states.set(id, (pm = new Pymalloc(main.host, { version: stack.options.pymallocVersion })));
  stack.pymem.setAllocator("mem", pm.allocator);
  stack.pymem.setAllocator("obj", pm.allocator);
  return pm;
}

/** Every obmalloc state the replay has made, the main interpreter's first (empty without pymalloc). */
export function obmallocStates(stack: CPythonStack): readonly Pymalloc[] {
  const states = statesOf.get(stack);
  if (states !== undefined) return [...states.values()];
  return stack.pymalloc === undefined ? [] : [stack.pymalloc];
}
