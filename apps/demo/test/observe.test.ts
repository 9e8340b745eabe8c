import { PhysicalMemory } from "@mem/hardware";
import { GlibcMalloc } from "@mem/libc-malloc";
import { Kernel, type ProcessSpace } from "@mem/os-vm";
import { describe, expect, it } from "vitest";
import { CallLog, observeSyscalls } from "../src/observe.js";

describe("observeSyscalls", () => {
  it("logs glibc's realloc of an mmapped chunk as strace prints the mremap it makes", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 256 * 1024 * 1024 }) }).createProcess();
    const log = new CallLog();
    const libc = new GlibcMalloc(observeSyscalls(process, log));
    const p = libc.malloc(256 * 1024);
    log.take();
    const q = libc.realloc(p, 1024 * 1024);
    const lines = log.take().map((r) => r.text);
    // as in packages/libc-malloc/test/fixtures/mremap-realloc.txt, recorded under strace
    expect(lines).toEqual([`mremap(0x${(p - 16).toString(16)}, 266240, 1052672, MREMAP_MAYMOVE) = 0x${(q - 16).toString(16)}`]);
  });

  it("leaves mremap out for a process that has none", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 64 * 1024 * 1024 }) }).createProcess();
    const bare: ProcessSpace = {
      pid: process.pid,
      memory: process.memory,
      mmap: (...args) => process.mmap(...args),
      munmap: (...args) => process.munmap(...args),
      mprotect: (...args) => process.mprotect(...args),
      madvise: (...args) => process.madvise(...args),
      brk: (...args) => process.brk(...args),
      sbrk: (...args) => process.sbrk(...args),
    };
    expect("mremap" in observeSyscalls(bare, new CallLog())).toBe(false);
  });
});
