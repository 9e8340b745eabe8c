import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type ProcessSpace } from "@mem/os-vm";
import type { PyObjectArenaAllocator } from "./api.js";

/**
 * CPython's default arena allocator on Linux (`_PyObject_ArenaMmap` / `_PyObject_ArenaMunmap`):
 *
 *   alloc(size) = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0),
 *                 MAP_FAILED -> NULL
 *   free(p, size) = munmap(p, size)
 *
 * A failing `mmap` of the process tier throws a `SyscallError`; like `MAP_FAILED` it becomes 0.
 */

/** `_PyObject_ArenaMmap(ctx, size)`. */
function arenaMmap(process: ProcessSpace, size: number): number {
  try {
    return process.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } catch (error) {
    if (isSyscallError(error)) return 0;
    throw error;
  }
}

/** `_PyObject_ArenaMunmap(ctx, ptr, size)`. */
function arenaMunmap(process: ProcessSpace, pointer: number, size: number): void {
  process.munmap(pointer, size);
}

/** Whether `error` is the process tier's `SyscallError` (recognised by name: only the interface is imported). */
function isSyscallError(error: unknown): boolean {
  return error instanceof Error && error.name === "SyscallError";
}

/** Returns the default arena allocator record (mmap/munmap of `process`). */
export function mmapArenaAllocator(process: ProcessSpace): PyObjectArenaAllocator<ProcessSpace> {
  return { ctx: process, alloc: arenaMmap, free: arenaMunmap };
}
