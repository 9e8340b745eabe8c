/**
 * Watching the calls between tiers. The composition root can wrap what one tier hands to
 * the next and log each call in the notation users know: strace for system calls,
 * ltrace-style `malloc(600) = 0x…` for the C library, CPython's names for PyMem's arena
 * allocator. The wrappers change nothing: every call goes through unchanged.
 */
import type { CAllocator } from "@mem/libc-malloc";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_WRITE,
  type MremapSyscall,
  type ProcessSpace,
} from "@mem/os-vm";
import type { PyObjectArenaAllocator } from "@mem/pymem";

/** The tier a logged call crosses into. */
export type Tier = "python" | "pymem" | "pymalloc" | "libc" | "kernel" | "ram";

/** One logged call. */
export interface CallRecord {
  /** The tier that serves the call. */
  readonly tier: Tier;
  /** The call and its result, e.g. `brk(0x55555557a000) = 0x55555557a000`. */
  readonly text: string;
}

/** Collects call records; `take()` hands over and clears what was logged. */
export class CallLog {
  private records: CallRecord[] = [];
  /** Whether calls are being recorded. */
  enabled = true;

  /** Logs one call. */
  add(tier: Tier, text: string): void {
    if (this.enabled) this.records.push({ tier, text });
  }

  /** Returns the records since the last `take()` and starts afresh. */
  take(): CallRecord[] {
    const out = this.records;
    this.records = [];
    return out;
  }
}

/** Lowercase hex with `0x`, NULL for 0: how strace and ltrace print pointers. */
export function ptr(value: number): string {
  return value === 0 ? "NULL" : `0x${value.toString(16)}`;
}

function protNames(prot: number): string {
  const names = [
    [PROT_READ, "PROT_READ"],
    [PROT_WRITE, "PROT_WRITE"],
    [PROT_EXEC, "PROT_EXEC"],
  ] as const;
  const set = names.filter(([bit]) => (prot & bit) !== 0).map(([, name]) => name);
  return set.length ? set.join("|") : "PROT_NONE";
}

function mapNames(flags: number): string {
  const names = [
    [MAP_SHARED, "MAP_SHARED"],
    [MAP_PRIVATE, "MAP_PRIVATE"],
    [MAP_FIXED, "MAP_FIXED"],
    [MAP_ANONYMOUS, "MAP_ANONYMOUS"],
    [MAP_NORESERVE, "MAP_NORESERVE"],
    [MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"],
  ] as const;
  return names
    .filter(([bit]) => (flags & bit) !== 0)
    .map(([, name]) => name)
    .join("|");
}

/** Wraps a process so that every memory system call is logged as strace prints it. */
export function observeSyscalls(process: ProcessSpace, log: CallLog): ProcessSpace {
  const errnoOf = (error: unknown): string => {
    const e = error as { code?: string; message?: string };
    return e.code ?? String(e.message);
  };
  const traced = <T>(call: string, run: () => T, show: (result: T) => string): T => {
    try {
      const result = run();
      log.add("kernel", `${call} = ${show(result)}`);
      return result;
    } catch (error) {
      log.add("kernel", `${call} = -1 ${errnoOf(error)}`);
      throw error;
    }
  };
  const zero = () => "0";
  const wrapper: ProcessSpace = {
    get pid() {
      return process.pid;
    },
    get memory() {
      return process.memory;
    },
    mmap: (address, length, prot, flags, fd = -1, offset = 0) =>
      traced(
        `mmap(${ptr(address)}, ${length}, ${protNames(prot)}, ${mapNames(flags)}, ${fd}, ${offset})`,
        () => process.mmap(address, length, prot, flags, fd, offset),
        ptr,
      ),
    munmap: (address, length) => traced(`munmap(${ptr(address)}, ${length})`, () => process.munmap(address, length), zero),
    mprotect: (address, length, prot) =>
      traced(`mprotect(${ptr(address)}, ${length}, ${protNames(prot)})`, () => process.mprotect(address, length, prot), zero),
    madvise: (address, length, advice) =>
      traced(`madvise(${ptr(address)}, ${length}, ${advice === 4 ? "MADV_DONTNEED" : advice === 8 ? "MADV_FREE" : advice})`, () => process.madvise(address, length, advice), zero),
    brk: (address) => traced(`brk(${ptr(address)})`, () => process.brk(address), ptr),
    // glibc's sbrk is the brk syscall underneath: strace shows brk.
    sbrk: (increment) => {
      const old = process.brk(0);
      const result = process.sbrk(increment);
      if (increment !== 0) log.add("kernel", `brk(${ptr(old + increment)}) = ${ptr(process.brk(0))}`);
      return result;
    },
  };
  // Not system calls, but what a C library reads at start-up: where the image mapped libc
  // (glibc's main_arena lives in its data segment).
  if ("image" in process) Object.defineProperty(wrapper, "image", { get: () => (process as { image: unknown }).image, enumerable: true });
  // mremap is optional in the kernel tier: forward it only when the process has it, so that
  // glibc's realloc of an mmapped chunk still finds (and logs) it through the wrapper.
  if ("mremap" in process) {
    const remapping = process as ProcessSpace & MremapSyscall;
    (wrapper as ProcessSpace & MremapSyscall).mremap = (oldAddress, oldLength, newLength, flags, newAddress) =>
      traced(
        `mremap(${ptr(oldAddress)}, ${oldLength}, ${newLength}, ${remapNames(flags)}${newAddress === undefined ? "" : `, ${ptr(newAddress)}`})`,
        () => remapping.mremap(oldAddress, oldLength, newLength, flags, newAddress),
        ptr,
      );
  }
  return wrapper;
}

/** mremap flags as strace prints them. */
function remapNames(flags: number): string {
  const names = [
    [MREMAP_MAYMOVE, "MREMAP_MAYMOVE"],
    [MREMAP_FIXED, "MREMAP_FIXED"],
    [MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"],
  ] as const;
  const parts: string[] = names.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  const rest = flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP);
  if (rest !== 0) parts.push(`0x${rest.toString(16)}`);
  return parts.length === 0 ? "0" : parts.join("|");
}

/** Wraps a C allocator so that every call is logged as ltrace prints it. */
export function observeLibc(libc: CAllocator, log: CallLog): CAllocator {
  return {
    malloc: (size) => logged(log, `malloc(${size})`, libc.malloc(size)),
    calloc: (nmemb, size) => logged(log, `calloc(${nmemb}, ${size})`, libc.calloc(nmemb, size)),
    realloc: (pointer, size) => logged(log, `realloc(${ptr(pointer)}, ${size})`, libc.realloc(pointer, size)),
    free: (pointer) => {
      libc.free(pointer);
      log.add("libc", `free(${ptr(pointer)})`);
    },
    usableSize: (pointer) => libc.usableSize(pointer),
    memalign: (alignment, size) => logged(log, `memalign(${alignment}, ${size})`, libc.memalign(alignment, size)),
    posixMemalign: (alignment, size) => libc.posixMemalign(alignment, size),
    alignedAlloc: (alignment, size) => logged(log, `aligned_alloc(${alignment}, ${size})`, libc.alignedAlloc(alignment, size)),
    get errno() {
      return libc.errno;
    },
    mallinfo2: () => libc.mallinfo2(),
  };
}

function logged(log: CallLog, call: string, result: number): number {
  log.add("libc", `${call} = ${ptr(result)}`);
  return result;
}

/** Wraps PyMem's arena allocator so that pymalloc's arena requests are logged. */
export function observeArenas(arenas: PyObjectArenaAllocator, log: CallLog): PyObjectArenaAllocator {
  return {
    ctx: arenas.ctx,
    alloc: (ctx, size) => {
      const result = arenas.alloc(ctx, size);
      log.add("pymem", `arena allocator: alloc(${size}) = ${ptr(result)}`);
      return result;
    },
    free: (ctx, pointer, size) => {
      log.add("pymem", `arena allocator: free(${ptr(pointer)}, ${size})`);
      arenas.free(ctx, pointer, size);
    },
  };
}
