export * from "./api.js";
export { PyMem, createPyMem, DOMAINS } from "./pymem.js";
export { PyFatalError, PySegmentationFault, PyMemUsageError } from "./errors.js";
export { mallocAllocator } from "./malloc-allocator.js";
export { mmapArenaAllocator } from "./arena-allocator.js";
export { dumpDebugBlock, formatPointer } from "./debug-dump.js";
export { reportBytes } from "./report-bytes.js";
export type { DebugBlockView } from "./debug-inspect.js";
export { PyException } from "./errors.js";
export { Tracemalloc, MAX_NFRAME, DEFAULT_DOMAIN, type FrameInput, type TracemallocOptions } from "./tracemalloc/tracemalloc.js";
export {
  Snapshot,
  Statistic,
  StatisticDiff,
  Trace,
  Traceback,
  Frame,
  Filter,
  DomainFilter,
  type KeyType,
  type RawFrame,
  type RawTrace,
  type TraceFilter,
} from "./tracemalloc/snapshot.js";
export { formatSize } from "./tracemalloc/format.js";
export { HashtableSize } from "./tracemalloc/hashtable-size.js";
