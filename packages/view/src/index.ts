export * from "./browser.js";
export { collectMaps, type CollectOptions, type MapsData } from "./collect.js";
export { collectArenas, PIN_WASTE_RATIO } from "./collect-arenas.js";
export { chunkState, collectGlibcHeap, collectTlsfHeap } from "./collect-heap.js";
export { collectPages } from "./collect-pages.js";
