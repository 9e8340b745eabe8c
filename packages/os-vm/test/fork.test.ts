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
    expect(kernel.liveProcesses.map((p) => p.pid)).toEqual([1, 2]);
    kernel.exit(child.pid);
    expect(child.hasExited).toBe(true);
    expect(kernel.liveProcesses.map((p) => p.pid)).toEqual([1]);
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

describe("fork against the real kernel (test/live/forkcow.c, recorded in test/fixtures/forkcow.txt)", () => {
  it("takes one fault per page on copy-on-write, keeps RSS, and reuses pages once alone", async () => {
    const { readFileSync } = await import("node:fs");
    const recorded = readFileSync(new URL("fixtures/forkcow.txt", import.meta.url), "utf8");
    const real = (label: string, field: string): number => Number(new RegExp(`^${label}:.*${field} ([-+]\\d+)`, "m").exec(recorded)![1]);
    const { kernel, proc } = boot();
    const p = proc.mmap(0, 64 * 4096, RW, ANON);
    const f0 = proc.faults.minor;
    for (let i = 0; i < 64; i++) proc.memory.store8(p + i * 4096, 1);
    expect(proc.faults.minor - f0).toBe(real("parent write 64", "minflt"));
    expect(statusKb(proc.status(), "RssAnon")).toBe(real("parent write 64", "RssAnon"));
    const before = statusKb(proc.status(), "RssAnon");
    const child = proc.fork();
    // the child starts with the parent's RssAnon (the real child has its own stdio page or two more)
    const childDelta = statusKb(child.status(), "RssAnon") - before;
    expect(real("child after fork", "RssAnon minus the parent's") - childDelta).toBeLessThanOrEqual(8);
    let cf = child.faults.minor;
    const cr = statusKb(child.status(), "RssAnon");
    for (let i = 0; i < 32; i++) child.memory.store8(p + i * 4096, 2);
    const cowFaults = child.faults.minor - cf;
    expect(cowFaults).toBe(32);
    expect(real("child write 32", "minflt") - cowFaults).toBeGreaterThanOrEqual(0); // the real child adds faults on its own stack and stdio
    expect(real("child write 32", "minflt") - cowFaults).toBeLessThanOrEqual(4);
    expect(statusKb(child.status(), "RssAnon") - cr).toBe(real("child write 32", "RssAnon"));
    cf = child.faults.minor;
    for (let i = 32; i < 64; i++) child.memory.load8(p + i * 4096);
    expect(child.faults.minor - cf).toBe(real("child read 32", "minflt"));
    kernel.exit(child.pid);
    const pf = proc.faults.minor;
    const pr = statusKb(proc.status(), "RssAnon");
    for (let i = 0; i < 64; i++) proc.memory.store8(p + i * 4096, 3);
    const reuse = proc.faults.minor - pf; // write-protect faults that reuse the page in place
    expect(reuse).toBe(64);
    expect(real("parent write 64 after child exit", "minflt") - reuse).toBeGreaterThanOrEqual(0);
    expect(real("parent write 64 after child exit", "minflt") - reuse).toBeLessThanOrEqual(8);
    expect(statusKb(proc.status(), "RssAnon") - pr).toBe(real("parent write 64 after child exit", "RssAnon"));
  });
});
