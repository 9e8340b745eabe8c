/**
 * The road a call took through the tiers, as the page lights it up:
 *
 * ```
 *   PyObject_Malloc ──► pymalloc ──► malloc ──► kernel ──► RAM
 *   (the PyMem API)    (arena,      (glibc      (mmap,     (a frame on
 *                       pool, block) chunks)     brk, PTE)  first touch)
 * ```
 *
 * Each stop is `active` (it did work for the call: served the block, made a system call,
 * faulted a frame in), `passed` (the call went through it without being served there:
 * pymalloc handing a 600-byte request on to the raw domain), or `idle`.
 */
import type { CallRecord } from "mem-demo/browser";

/** The five stops of the road, top to bottom. */
export const PATH_TIERS = ["api", "pymalloc", "malloc", "kernel", "ram"] as const;
/** One stop of {@link PATH_TIERS}. */
export type PathTier = (typeof PATH_TIERS)[number];
/** How a stop took part in a call. */
export type PathState = "active" | "passed" | "idle";
/** The state of every stop. */
export type Path = Readonly<Record<PathTier, PathState>>;

/** The labels the page shows for each stop. */
export const PATH_LABELS: Readonly<Record<PathTier, string>> = {
  api: "PyObject_Malloc",
  pymalloc: "pymalloc",
  malloc: "malloc",
  kernel: "kernel",
  ram: "RAM",
};

/** Where a call entered the stack: a PyMem domain, or the C library directly. */
export type Entry = "obj" | "mem" | "raw" | "libc" | "none";

/** What {@link pathOf} needs to know about one call (or one walk-through step). */
export interface PathInput {
  /** Where the call entered. */
  readonly entry: Entry;
  /** Whether the stack has pymalloc in the entry's domain. */
  readonly pymallocPresent: boolean;
  /** Whether pymalloc served (or took back) the block. */
  readonly pymallocServed: boolean;
  /** The calls that crossed a tier boundary (the walk-through's log). */
  readonly calls: readonly CallRecord[];
  /** Minor page faults during the call (frames brought in). */
  readonly faults: number;
}

/** Lights the road of one call. */
export function pathOf(input: PathInput): Path {
  const { entry, calls } = input;
  const viaPyMem = entry === "obj" || entry === "mem" || entry === "raw";
  const pymallocDomain = entry === "obj" || entry === "mem";
  const libcCalls = calls.some((c) => c.tier === "libc");
  const kernelCalls = calls.some((c) => c.tier === "kernel");
  const pymalloc: PathState = input.pymallocServed ? "active" : pymallocDomain && input.pymallocPresent ? "passed" : "idle";
  const malloc: PathState = libcCalls || entry === "libc" ? "active" : pymalloc === "active" && kernelCalls ? "passed" : "idle";
  return {
    api: viaPyMem ? "active" : "idle",
    pymalloc,
    malloc,
    kernel: kernelCalls ? "active" : "idle",
    ram: input.faults > 0 ? "active" : "idle",
  };
}

/** The road in words, for the picture's text alternative: `PyObject_Malloc → pymalloc → kernel → RAM`. */
export function pathText(path: Path): string {
  const lit = PATH_TIERS.filter((t) => path[t] !== "idle").map((t) => (path[t] === "passed" ? `${PATH_LABELS[t]} (passed on)` : PATH_LABELS[t]));
  return lit.length === 0 ? "no tier did any work" : lit.join(" → ");
}
