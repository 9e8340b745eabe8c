/**
 * The renderers alone, with nothing that reads a stack: the entry the browser bundle
 * (`dist/view.global.js`, global `MemView`) is built from, for pages that draw from data.
 */
export type * from "./api.js";
export { aggregate, mixText, type Interval, type Segment } from "./aggregate.js";
export { renderArenaMap } from "./arena-map.js";
export { renderHeapMap } from "./heap-map.js";
export { renderFlameGraph } from "./flame-graph.js";
export { flameTree } from "./flame-tree.js";
export { FlamePacker, flameIndexAt, pruneFlameTree, unpackFlame, type FlamePruneOptions, type PackedFlame, type PackedFlames, type PrunedFlame, type UnpackedFlame } from "./flame-pack.js";
export { pageCodeName, renderPageMap } from "./page-map.js";
export { downsample, renderTimeline, timelineGroups } from "./timeline.js";
export { causeColour, CHUNK_COLOURS, distinctCauseColours, GREY, OKABE_ITO, sizeClassColour, viridis } from "./palette.js";
export { bytes, esc, hex } from "./svg.js";
export { CHUNK_STATES, PACKED_SNAPSHOT_BOUND, packMaps, unpackMaps, type PackedMaps, type PackLimits } from "./codec.js";
export { arenaMapText, type ArenaTextOptions } from "./arena-text.js";
