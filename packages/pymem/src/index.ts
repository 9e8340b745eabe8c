export * from "./api.js";
export { PyMem, createPyMem, DOMAINS } from "./pymem.js";
export { PyFatalError, PySegmentationFault, PyMemUsageError } from "./errors.js";
export { mallocAllocator } from "./malloc-allocator.js";
export { mmapArenaAllocator } from "./arena-allocator.js";
export { dumpDebugBlock, formatPointer } from "./debug-dump.js";
