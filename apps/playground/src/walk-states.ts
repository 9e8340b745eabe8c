/**
 * The walk-through as pictures: mem-demo's {@link runWalkthrough} gives each step's story,
 * calls, facts and routes; this module repeats the same requests on a twin stack built with
 * the same options (the walk-through does not hand out its stack) and reads the tiers'
 * state after each step, so every step has its arena, heap and page maps and its lit road.
 * The twin's pointers equal the walk-through's (tested): both stacks are deterministic.
 */
import { collectMaps, type MapsData } from "@mem/view";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "@mem/os-vm";
import { createStack, runWalkthrough, type CPythonStack, type StackOptions, type Step, type Walkthrough } from "mem-demo/browser";
import { pathOf, type Path } from "./path.js";

/** The options the page lets a person change. */
export type PlaygroundOptions = Pick<StackOptions, "pythonMalloc" | "libc" | "pymallocVersion" | "seed">;

/** One step of the walk-through with what the page draws for it. */
export interface WalkState {
  /** The walk-through's step (title, story, calls, facts, routes). */
  readonly step: Step;
  /** The tiers' maps and account after the step. */
  readonly maps: MapsData;
  /** The road the step's requests took. */
  readonly path: Path;
  /** The pointers the twin stack returned in this step (to check against the routes). */
  readonly pointers: readonly number[];
}

/** The walk-through and the state after each of its steps. */
export interface WalkStates {
  /** The walk-through itself. */
  readonly walkthrough: Walkthrough;
  /** One state a step, in order. */
  readonly states: readonly WalkState[];
}

const PERSON = 78;

/** Runs the walk-through and its twin; `seed` defaults to 1 so that the pictures are reproducible. */
export function walkthroughStates(options: PlaygroundOptions = {}): WalkStates {
  const opts = { ...options, seed: options.seed ?? 1 };
  const walkthrough = runWalkthrough(opts);
  const stack = createStack(opts);
  const states: WalkState[] = [];
  const steps = walkthrough.steps;
  const faults = () => stack.process.faults.minor;
  const pymallocPresent = stack.pymalloc !== undefined;
  const at = (i: number): Step => {
    const s = steps[i];
    if (s === undefined) throw new Error(`playground: the walk-through has no step ${i}`);
    return s;
  };

  // step 0: the naive picture, in a scratch process of the same kernel
  naive(stack);
  states.push({ step: at(0), maps: collectMaps(stack), path: pathOf({ entry: "none", pymallocPresent, pymallocServed: false, calls: at(0).calls, faults: 1 }), pointers: [] });

  const live: number[] = [];
  for (const [i, size] of [PERSON, PERSON, 600, 1024 * 1024].entries()) {
    const step = at(i + 1);
    const before = faults();
    const p = stack.pymem.objectMalloc(size);
    live.push(p);
    const served = stack.pymalloc?.owns(p) ?? false;
    states.push({ step, maps: collectMaps(stack), path: pathOf({ entry: "obj", pymallocPresent, pymallocServed: served, calls: step.calls, faults: faults() - before }), pointers: [p] });
  }
  const last = at(5);
  const before = faults();
  const served = live.some((p) => stack.pymalloc?.owns(p) ?? false);
  for (const p of live) stack.pymem.objectFree(p);
  states.push({ step: last, maps: collectMaps(stack), path: pathOf({ entry: "obj", pymallocPresent, pymallocServed: served, calls: last.calls, faults: faults() - before }), pointers: [] });
  return { walkthrough, states };
}

/** What the walk-through's first step does to the kernel: a scratch process maps, touches and unmaps a page. */
function naive(stack: CPythonStack): void {
  const scratch = stack.kernel.createProcess();
  const address = scratch.mmap(0, PERSON, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  scratch.memory.write(address, new TextEncoder().encode("Michael"));
  scratch.munmap(address, PERSON);
  stack.kernel.exit(scratch.pid);
}
