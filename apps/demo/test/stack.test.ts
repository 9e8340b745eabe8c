import { describe, expect, it } from "vitest";
import { ProcessKilledError } from "@mem/os-vm";
import { createStack } from "../src/stack.js";

describe("createStack: the default CPython 3.11 stack and its swaps", () => {
  it("routes a small object to pymalloc, a medium one to glibc's brk heap and a large one to mmap", () => {
    const stack = createStack({ ramSize: 256 << 20 });
    expect(stack.pymem.allocatorName()).toBe("pymalloc");
    const small = stack.pymem.objectMalloc(78);
    expect(stack.pymalloc?.owns(small)).toBe(true);
    const medium = stack.pymem.objectMalloc(600);
    expect(stack.pymalloc?.owns(medium)).toBe(false);
    expect(medium).toBeGreaterThanOrEqual(stack.process.startBrk);
    expect(medium).toBeLessThan(stack.process.programBreak);
    const large = stack.pymem.objectMalloc(1 << 20);
    expect(large).toBeGreaterThan(stack.process.programBreak);
    expect(large % 4096).toBe(16);
    stack.pymem.objectFree(small);
    stack.pymem.objectFree(medium);
    stack.pymem.objectFree(large);
    stack.pymalloc?.check();
    stack.libc.checkHeap();
  });

  it("PYTHONMALLOC=malloc takes pymalloc out: PyObject_Malloc(78) becomes a glibc chunk", () => {
    const stack = createStack({ ramSize: 256 << 20, pythonMalloc: "malloc" });
    expect(stack.pymalloc).toBeUndefined();
    expect(stack.pymem.allocatorName()).toBe("malloc");
    const p = stack.pymem.objectMalloc(78);
    expect(p).toBeGreaterThanOrEqual(stack.process.startBrk);
    expect(p).toBeLessThan(stack.process.programBreak);
    expect(stack.libc.usableSize(p)).toBe(88);
  });

  it("PYTHONMALLOC=debug wraps every domain in the debug hooks: an overflow is caught on free", () => {
    const stack = createStack({ ramSize: 256 << 20, pythonMalloc: "debug" });
    expect(stack.pymem.allocatorName()).toBe("pymalloc_debug");
    const p = stack.pymem.objectMalloc(16);
    stack.process.memory.store8(p + 16, 0x41);
    expect(() => stack.pymem.objectFree(p)).toThrow(/bad trailing pad byte/);
  });

  it("the second libc implementation serves the same requests", () => {
    const stack = createStack({ ramSize: 256 << 20, libc: "tlsf" });
    const blocks = [600, 1000, 5000, 200_000].map((n) => stack.pymem.rawMalloc(n));
    expect(new Set(blocks).size).toBe(4);
    for (const b of blocks) expect(b).not.toBe(0);
    blocks.forEach((b) => stack.pymem.rawFree(b));
  });

  it("a pymalloc version preset changes the geometry: 3.8 uses 4 KiB pools in 256 KiB arenas", () => {
    const stack = createStack({ ramSize: 256 << 20, pymallocVersion: "3.8" });
    expect(stack.pymalloc?.params.poolSize).toBe(4096);
    expect(stack.pymalloc?.params.arenaSize).toBe(256 * 1024);
    const p = stack.pymem.objectMalloc(78);
    expect(stack.pymalloc?.debugMallocStats()).toMatch(/# arenas allocated total\s+=\s+1\n/);
    stack.pymem.objectFree(p);
  });

  it("RAM size is an option: overcommitted memory runs out at a page fault, the OOM killer ends the process, and the kernel stays usable", () => {
    const stack = createStack({ ramSize: 8 << 20 });
    const blocks: number[] = [];
    let error: unknown;
    try {
      for (let i = 0; i < 16; i++) {
        const p = stack.pymem.rawMalloc(1 << 20);
        expect(p).not.toBe(0); // Linux overcommits: the mapping succeeds, the frames do not exist yet
        blocks.push(p);
        stack.process.memory.fill(p, 1 << 20, 1);
      }
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProcessKilledError);
    expect(blocks.length).toBeLessThanOrEqual(8);
    expect(stack.kernel.log.at(-1)).toMatch(/^Out of memory: Killed process 1 \(python3\) /);
    expect(() => stack.pymem.rawFree(blocks[0]!)).toThrow(ProcessKilledError); // a killed process makes no more calls
    // its memory is back: another process runs on the same kernel
    const next = stack.kernel.createProcess();
    const again = next.mmap(0, 1 << 20, 3, 0x22);
    next.memory.fill(again, 1 << 20, 2);
    expect(next.memory.load8(again + 12345)).toBe(2);
  });
});
