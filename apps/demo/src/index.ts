export { createStack, LIBC_IMPLEMENTATIONS, PYTHONMALLOC_PRESETS, PYMALLOC_VERSION_NAMES } from "./stack.js";
export type { CPythonStack, LibcImplementation, StackOptions } from "./stack.js";
export { runWalkthrough, type Fact, type Step, type Walkthrough } from "./walkthrough.js";
export { renderWalkthrough } from "./render.js";
export { Replayer, ReplayError, type ReplaySummary } from "./replay.js";
export { replayFile, type ReplayFileOptions } from "./replay-file.js";
export { statsText, STATS_KINDS, type StatsKind } from "./stats.js";
export { CallLog, observeArenas, observeLibc, observeSyscalls, type CallRecord, type Tier } from "./observe.js";
