import type { MremapSyscall, ProcessSpace } from "@mem/os-vm";

/** System calls counted by {@link countSyscalls}. */
export interface SyscallCounts {
  /** `brk` calls that moved the break (glibc's sbrk), and raw `brk` calls. */
  brk: number;
  /** `mmap` calls. */
  mmap: number;
  /** `munmap` calls. */
  munmap: number;
  /** `madvise` calls. */
  madvise: number;
  /** `mremap` calls. */
  mremap: number;
}

/** What the counting wrapper tells a watcher about one call. */
export type SyscallListener = (call: keyof SyscallCounts, args: readonly number[]) => void;

/**
 * Wraps a process so that its memory system calls are counted (for the timeline's "system
 * calls since the previous sample"); every call goes through unchanged. Like the demo's
 * strace wrapper it forwards the image (glibc finds main_arena through it) and mremap.
 */
export function countSyscalls(process: ProcessSpace, listener?: SyscallListener): { process: ProcessSpace; counts: SyscallCounts } {
  const counts: SyscallCounts = { brk: 0, mmap: 0, munmap: 0, madvise: 0, mremap: 0 };
  const wrapper: ProcessSpace = {
    get pid() {
      return process.pid;
    },
    get memory() {
      return process.memory;
    },
    mmap: (address, length, prot, flags, fd, offset) => {
      counts.mmap++;
      const result = process.mmap(address, length, prot, flags, fd, offset);
      listener?.("mmap", [result, length]);
      return result;
    },
    munmap: (address, length) => {
      counts.munmap++;
      process.munmap(address, length);
      listener?.("munmap", [address, length]);
    },
    mprotect: (address, length, prot) => process.mprotect(address, length, prot),
    madvise: (address, length, advice) => {
      counts.madvise++;
      process.madvise(address, length, advice);
      listener?.("madvise", [address, length, advice]);
    },
    brk: (address) => {
      if (address !== 0) counts.brk++;
      return process.brk(address);
    },
    sbrk: (increment) => {
      if (increment !== 0) counts.brk++;
      const result = process.sbrk(increment);
      if (increment !== 0) listener?.("brk", [increment]);
      return result;
    },
  };
  if ("image" in process) Object.defineProperty(wrapper, "image", { get: () => (process as { image: unknown }).image, enumerable: true });
  if ("mremap" in process) {
    const remapping = process as ProcessSpace & MremapSyscall;
    (wrapper as ProcessSpace & MremapSyscall).mremap = (oldAddress, oldLength, newLength, flags, newAddress) => {
      counts.mremap++;
      return remapping.mremap(oldAddress, oldLength, newLength, flags, newAddress);
    };
  }
  return { process: wrapper, counts };
}
