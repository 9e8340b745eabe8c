export type { Memory, MemoryCounters, MemoryTraffic, PhysicalMemoryOptions } from "./api.js";
export { DEFAULT_FRAME_SIZE, DEFAULT_RAM_SIZE, MAX_RAM_SIZE } from "./api.js";
export {
  AlignmentError,
  ArgumentRangeError,
  BusError,
  InvalidArgumentError,
  UnsafeIntegerError,
  describeArgument,
  hex,
} from "./errors.js";
export { PhysicalMemory } from "./physical-memory.js";
export { CpuCache, TYPICAL_X86_64_CACHES, type CacheLevelConfig, type CacheLevelStats } from "./cache.js";
