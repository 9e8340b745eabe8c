export * from "./api.js";
export { ERRNO, OutOfMemoryError, ProcessKilledError, SegmentationFault, SyscallError, hex, type ErrnoCode, type SegvCode } from "./errors.js";
export {
  OOM_SCORE_ADJ_MAX,
  OOM_SCORE_ADJ_MIN,
  SIGKILL,
  formatOomInvoked,
  formatOomKill,
  formatOomSummary,
  formatOomTasks,
  oomBadness,
  oomScore,
  selectBadProcess,
  type OomAllocation,
  type OomCandidate,
} from "./oom-killer.js";
export { Kernel } from "./kernel.js";
export { Process } from "./process.js";
export { BARE_IMAGE, SMALL_C_PROGRAM, imageFromMaps, randomizeImage } from "./layout.js";
export { PageAllocator, type Zone } from "./page-allocator.js";
export { PageTable } from "./page-table.js";
export { VirtualMemory } from "./virtual-memory.js";
export { checkKernel } from "./check.js";
export { KernelOptionError, validateKernelOptions, validateProcessOptions } from "./kernel-options.js";
export { residentAnonPages, type ResidentOptions, type ResidentVma } from "./resident.js";
export {
  CLEAR_REFS_ALL,
  CLEAR_REFS_ANON,
  CLEAR_REFS_MAPPED,
  CLEAR_REFS_MM_HIWATER_RSS,
  CLEAR_REFS_SOFT_DIRTY,
  PAGEMAP_MAX_PAGES,
  PM_PRESENT,
  PM_SOFT_DIRTY,
  PM_SWAP,
  clearRefs,
  isSoftDirty,
  pagemap,
} from "./soft-dirty.js";
