import { PhysicalMemory, type Memory } from "@mem/hardware";
import type { ProcessSpace } from "@mem/os-vm";

/**
 * A minimal stand-in for an @mem/os-vm process, for this package's tests: memory at
 * virtual = physical addresses (a lazily backed 2^47-byte PhysicalMemory, so addresses look
 * like Linux user space), and anonymous mmap/munmap placing mappings top-down below
 * 0x7f0000000000 like the kernel's mmap base. Only what PyMem uses is implemented.
 */
export class SyscallError extends Error {
  override readonly name = "SyscallError";
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`os-vm(test): ${call} failed with errno ${errno}`);
  }
}

const PAGE = 4096;

export class SimProcess implements ProcessSpace {
  readonly pid = 4242;
  readonly memory: Memory;
  /** Calls made, as strace would print them (for assertions). */
  readonly calls: string[] = [];
  /** Bytes mmap may still hand out (to provoke ENOMEM). */
  mmapBudget = Number.POSITIVE_INFINITY;
  private next = 0x7f00_0000_0000;
  private readonly mappings = new Map<number, number>();

  constructor() {
    this.memory = new PhysicalMemory({ size: 2 ** 47, frameSize: 65536 });
  }

  mmap(address: number, length: number, prot: number, flags: number, fd = -1, offset = 0): number {
    const size = Math.ceil(length / PAGE) * PAGE;
    if (address !== 0 || fd !== -1 || offset !== 0 || size === 0) throw new SyscallError("mmap", 22);
    if (size > this.mmapBudget) throw new SyscallError("mmap", 12);
    this.mmapBudget -= size;
    this.next -= size;
    this.mappings.set(this.next, size);
    this.calls.push(`mmap(NULL, ${length}, ${prot}, ${flags}, ${fd}, ${offset}) = 0x${this.next.toString(16)}`);
    return this.next;
  }

  munmap(address: number, length: number): void {
    if (this.mappings.get(address) !== Math.ceil(length / PAGE) * PAGE) throw new SyscallError("munmap", 22);
    this.mappings.delete(address);
    this.mmapBudget += Math.ceil(length / PAGE) * PAGE;
    this.memory.fill(address, length, 0);
    this.calls.push(`munmap(0x${address.toString(16)}, ${length}) = 0`);
  }

  mprotect(): void {
    throw new SyscallError("mprotect", 38);
  }
  madvise(): void {
    throw new SyscallError("madvise", 38);
  }
  brk(address: number): number {
    return address;
  }
  sbrk(): number {
    throw new SyscallError("sbrk", 38);
  }
}
