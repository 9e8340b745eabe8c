export type { CAllocator, GlibcMallocOptions, HeapChunk, Mallinfo2 } from "./api.js";
export {
  M_ARENA_MAX,
  M_ARENA_TEST,
  M_CHECK_ACTION,
  M_GRAIN,
  M_KEEP,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  M_MXFAST,
  M_NLBLKS,
  M_PERTURB,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
} from "./api.js";
export { EINVAL, ENOMEM, MallocArgumentError } from "./constants.js";
export { HeapCheckError, MallocAbort } from "./errors.js";
export { GlibcMalloc } from "./glibc-malloc.js";
export { CHUNK_BIN, CHUNK_FASTBIN, CHUNK_FENCEPOST, CHUNK_IN_USE, CHUNK_STATE_NAMES, CHUNK_TCACHE, CHUNK_TOP, heapChunksOf } from "./chunk-states.js";
export type { ChunkStates } from "./chunk-states.js";
export { Glibc241Malloc } from "./glibc-241.js";
export { Glibc242Malloc } from "./glibc-242.js";
export { Glibc243Malloc } from "./glibc-243.js";
export { MAIN_ARENA_LIBC_OFFSET, mainArenaAddress } from "./main-arena.js";
export { LIBC_236_GLOBALS, OWN_PAGE_GLOBALS, OWN_PAGE_STATE_BYTES, arenaGlobalsAt } from "./arena-globals.js";
export type { ArenaGlobals, ArenaGlobalsLayout } from "./arena-globals.js";
export { TlsfMalloc } from "./tlsf-malloc.js";
export type { GlibcInspection, ThreadHeapWalk, TlsfBlock, TlsfInspection } from "./inspect.js";
