export type { PymallocOptions, PymallocParams, PymallocVersion } from "./api.js";
export { ARENA_OBJECT_SIZE, DUMMY_SIZE_IDX, POOL_HEADER_SIZE, PYMALLOC_VERSIONS } from "./api.js";
export { ArenaMap } from "./arena-map.js";
export { PlacedArenaAllocator, type PlacedArenaAllocatorOptions } from "./arena-placement.js";
export { checkPymalloc, type CheckOptions } from "./check.js";
export { PymallocConfigError, PymallocError, PymallocInvariantError } from "./errors.js";
export { deriveGeometry, type PymallocGeometry, type RadixGeometry } from "./geometry.js";
export { Pymalloc, pymallocFactory } from "./pymalloc.js";
export { countAllocatedBlocks, formatMallocStats, groupThousands, printone, type PymallocState } from "./stats.js";
