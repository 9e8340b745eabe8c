export type { CAllocator, Mallinfo2 } from "./api.js";
