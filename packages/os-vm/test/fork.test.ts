import { describe, expect, it } from "vitest";
import { MADV_DONTFORK, MADV_WIPEONFORK, SegmentationFault, checkKernel } from "../src/index.js";
import { ANON, RW, boot, statusKb } from "./helpers.js";

describe("fork", () => {
  it("shares private pages copy-on-write and shared pages for real", () => {
    const { kernel, proc } = boot();
    const priv = proc.mmap(0, 4 * 4096, RW, ANON);
    const shared = proc.mmap(0, 4096, RW, 0x21);
    for (let i = 0; i < 4; i++) proc.memory.store32(priv + i * 4096, 100 + i);
    proc.memory.store32(shared, 7);
    const free = kernel.pages.freePages;
    const child = proc.fork();
    expect(child.pid).toBe(2);
    expect(child.maps()).toBe(proc.maps());
    expect(statusKb(child.status(), "RssAnon")).toBe(16);
    expect(statusKb(child.status(), "RssShmem")).toBe(0); // faulted in from the shmem file on use
    expect(child.memory.load32(shared)).toBe(7);
    expect(statusKb(child.status(), "RssShmem")).toBe(4);
    expect(child.memory.load32(priv + 4096)).toBe(101);
    // fork copied no data page: only the child's page tables were allocated
    expect(free - kernel.pages.freePages).toBe(1 + child.mm.pageTable.tablePages);
    expect(child.faults.minor).toBe(1); // the shared page
    const faults = child.faults.minor; // (1: the shared page)
    child.memory.store32(priv + 4096, 999); // copy-on-write fault in the child
    expect(child.faults.minor).toBe(faults + 1);
    expect(proc.memory.load32(priv + 4096)).toBe(101);
    expect(child.memory.load32(priv + 4096)).toBe(999);
    proc.memory.store32(priv, 555); // the parent's first write copies too (the count is still 2)
    expect(child.memory.load32(priv)).toBe(100);
    child.memory.store32(shared, 8);
    expect(proc.memory.load32(shared)).toBe(8);
    expect(checkKernel(kernel, [proc, child])).toEqual([]);
    kernel.exit(child.pid);
    expect(child.hasExited).toBe(true);
    proc.memory.store32(priv + 2 * 4096, 1); // now the only mapping: reused in place, no copy
    expect(checkKernel(kernel, [proc])).toEqual([]);
  });

  it("leaves MADV_DONTFORK mappings out and starts MADV_WIPEONFORK ones empty", () => {
    const { kernel, proc } = boot();
    const a = proc.mmap(0x200000000000, 4096, RW, ANON | 0x10);
    const b = proc.mmap(0x200000010000, 4096, RW, ANON | 0x10);
    proc.memory.store8(a, 1);
    proc.memory.store8(b, 2);
    proc.madvise(a, 4096, MADV_DONTFORK);
    proc.madvise(b, 4096, MADV_WIPEONFORK);
    const child = proc.fork();
    expect(() => child.memory.load8(a)).toThrow(SegmentationFault);
    expect(child.memory.load8(b)).toBe(0);
    expect(proc.memory.load8(b)).toBe(2);
    expect(checkKernel(kernel, [proc, child])).toEqual([]);
  });
});

describe("stack growth", () => {
  it("grows the stack on a fault below it, within RLIMIT_STACK and the guard gap", () => {
    const { proc } = boot({}, { stackLimit: 2 * 1024 * 1024 });
    const top = 0x7ffffffff000;
    proc.memory.store8(top - 2 * 1024 * 1024, 1); // exactly 2 MiB: allowed
    expect(statusKb(proc.status(), "VmStk")).toBe(2048);
    expect(() => proc.memory.store8(top - 2 * 1024 * 1024 - 1, 1)).toThrow(SegmentationFault);
    // a mapping just below the stack's reach: growth must keep 1 MiB away from it
    const other = boot().proc;
    other.mmap(0x7fffffd00000, 0x100000, RW, ANON | 0x10); // ends at 0x7fffffe00000
    expect(() => other.memory.load8(0x7ffffff00000 - 1)).toThrow(/SEGV_MAPERR/);
    expect(() => other.memory.load8(0x7ffffff00000)).not.toThrow();
    expect(statusKb(other.status(), "VmStk")).toBe(1020);
  });
});
