/**
 * The browser-safe part of mem-demo (`mem-demo/browser`): the composition root, the
 * walk-through, the call observers and the replayer, none of which touches a file, a
 * process or a terminal. `apps/playground` builds its pages from these.
 */
export { createStack, LIBC_IMPLEMENTATIONS, PYTHONMALLOC_PRESETS, PYMALLOC_VERSION_NAMES, seededKey, libcStatsText } from "./stack.js";
export type { CPythonStack, LibcImplementation, StackOptions } from "./stack.js";
export { runWalkthrough, type Fact, type Step, type Walkthrough } from "./walkthrough.js";
export { layerOf, libcOf, routeOf, type BlockRoute, type RouteLayer } from "./walkthrough-route.js";
export { CallLog, observeArenas, observeLibc, observeSyscalls, ptr, type CallRecord, type Tier } from "./observe.js";
export { Replayer, ReplayError, type ReplayerOptions, type ReplaySummary } from "./replay.js";
export { parseTraceHeader, HEADER_MAX_LINES, type TraceHeader } from "./trace-header.js";
export { fromHeaderLine, replaySettings, TraceSettingsError, type GivenSettings, type ReplaySettings } from "./trace-settings.js";
export { outOfMemoryText, PythonMemoryError } from "./out-of-memory.js";
