import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import { BARE_IMAGE, Kernel, ProcessKilledError, checkKernel } from "../src/index.js";
import { ANON, RW, statusKb } from "./helpers.js";

const MiB = 1024 * 1024;

function machine(ramMiB: number, swapMiB: number) {
  const kernel = new Kernel({ ram: new PhysicalMemory({ size: ramMiB * MiB }), swap: new PhysicalMemory({ size: swapMiB * MiB }) });
  return { kernel, proc: kernel.createProcess({ image: BARE_IMAGE }) };
}

describe("swap to a simulated disk", () => {
  it("swaps anonymous pages out under pressure and back in on access (major faults)", () => {
    const { kernel, proc } = machine(2, 8);
    const pages = 1024; // 4 MiB of data in 2 MiB of RAM
    const p = proc.mmap(0, pages * 4096, RW, ANON);
    for (let i = 0; i < pages; i++) proc.memory.store32(p + i * 4096 + 12, i * 7 + 1);
    expect(statusKb(proc.status(), "VmSwap")).toBeGreaterThan(0);
    expect(proc.faults.major).toBe(0);
    for (let i = 0; i < pages; i++) expect(proc.memory.load32(p + i * 4096 + 12)).toBe(i * 7 + 1);
    expect(proc.faults.major).toBeGreaterThan(0);
    const swapFree = (): number => Number(/^SwapFree: +(\d+) kB$/m.exec(kernel.meminfo())![1]);
    expect(kernel.meminfo()).toMatch(/^SwapTotal: +8188 kB$/m); // 8 MiB minus the header page
    expect(swapFree()).toBeLessThan(8188);
    expect(checkKernel(kernel, [proc])).toEqual([]);
    const child = proc.fork(); // swapped entries are shared by reference
    for (let i = 0; i < pages; i += 97) expect(child.memory.load32(p + i * 4096 + 12)).toBe(i * 7 + 1);
    expect(checkKernel(kernel, [proc, child])).toEqual([]);
    kernel.exit(child.pid);
    proc.munmap(p, pages * 4096);
    expect(swapFree()).toBe(8188);
    expect(statusKb(proc.status(), "VmSwap")).toBe(0);
    expect(checkKernel(kernel, [proc])).toEqual([]);
  });

  it("runs the OOM killer only when RAM and swap are full", () => {
    const { kernel, proc } = machine(1, 1);
    kernel.overcommitMemory = 1;
    const p = proc.mmap(0, 1024 * 4096, RW, ANON);
    let touched = 0;
    expect(() => {
      for (; touched < 1024; touched++) proc.memory.store8(p + touched * 4096, 1);
    }).toThrow(ProcessKilledError);
    expect(touched).toBeGreaterThan(255); // more than RAM alone could hold
    expect(kernel.log.at(-1)).toMatch(/^Out of memory: Killed process 1 \(bare\) total-vm:\d+kB, anon-rss:\d+kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:\d+kB oom_score_adj:0$/);
    expect(checkKernel(kernel, [proc])).toEqual([]);
    expect(kernel.pages.freePages).toBe(kernel.pages.totalPages - 1 - kernel.swap!.mapPages); // everything back but the zero page and the swap map
    expect(kernel.swap!.freeSlots).toBe(kernel.swap!.slots);
  });
});
