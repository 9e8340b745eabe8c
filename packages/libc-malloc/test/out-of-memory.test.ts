/**
 * Out of memory, as glibc 2.36 on Linux behaves (fixtures of @mem/os-vm: overcommit-enomem.txt,
 * oom-memcg.txt): under vm.overcommit_memory=2 brk and mmap fail with ENOMEM and malloc returns
 * NULL with errno ENOMEM, leaving the heap intact; when the brk heap cannot grow, glibc maps a
 * non-contiguous piece of heap instead; when a page fault finds no frame, the OOM killer ends
 * the process, which malloc never turns into a NULL.
 */
import { PhysicalMemory } from "@mem/hardware";
import { BARE_IMAGE, Kernel, MAP_FIXED, ProcessKilledError, type OvercommitPolicy } from "@mem/os-vm";
import { describe, expect, it } from "vitest";
import { ENOMEM, GlibcMalloc, TlsfMalloc } from "../src/index.js";

const MiB = 1024 * 1024;
const RW = 0x3;
const ANON_PRIVATE = 0x22;

function boot(ramMiB: number, overcommitMemory: OvercommitPolicy) {
  const kernel = new Kernel({ ram: new PhysicalMemory({ size: ramMiB * MiB }), overcommitMemory });
  return { kernel, process: kernel.createProcess({ image: BARE_IMAGE }) };
}

const LIBCS = [
  ["glibc", (p: ReturnType<typeof boot>["process"]) => new GlibcMalloc(p)],
  ["tlsf", (p: ReturnType<typeof boot>["process"]) => new TlsfMalloc(p)],
] as const;

describe.each(LIBCS)("%s out of memory", (_name, make) => {
  it("vm.overcommit_memory=2: a request beyond the commit limit is NULL with ENOMEM; a small one still succeeds (as recorded)", () => {
    const { process } = boot(24, 2);
    const libc = make(process);
    expect(libc.malloc(40 * MiB)).toBe(0);
    expect(libc.errno).toBe(ENOMEM);
    expect(libc.malloc(200000)).not.toBe(0);
    libc.checkHeap();
  });

  it("vm.overcommit_memory=2: filling the commit limit ends in NULL, the heap intact and usable", () => {
    const { kernel, process } = boot(8, 2);
    const libc = make(process);
    const blocks: number[] = [];
    for (;;) {
      const p = libc.malloc(48 * 1024);
      if (p === 0) break;
      process.memory.fill(p, 48 * 1024, 0x5a);
      blocks.push(p);
    }
    expect(libc.errno).toBe(ENOMEM);
    expect(kernel.committedPages).toBeLessThanOrEqual(kernel.commitLimit);
    expect(kernel.oomKills).toBe(0);
    libc.checkHeap();
    for (const p of blocks) libc.free(p);
    libc.checkHeap();
    const again = libc.malloc(48 * 1024);
    expect(again).not.toBe(0);
    libc.free(again);
  });

  it("a page fault that finds no frame ends the process (SIGKILL), never a NULL; the dead heap answers with the signal", () => {
    const { kernel, process } = boot(2, 1);
    const libc = make(process);
    let error: unknown;
    try {
      for (let n = 0; n < 1000; n++) {
        const p = libc.calloc(1, 48 * 1024); // calloc writes the recycled (brk) memory it hands out
        expect(p).not.toBe(0);
        process.memory.fill(p, 48 * 1024, 1);
      }
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProcessKilledError);
    expect(kernel.pages.freePages).toBe(kernel.pages.totalPages - 1);
    expect(() => libc.malloc(16)).toThrow(ProcessKilledError);
    expect(() => libc.checkHeap()).toThrow(ProcessKilledError);
  });
});

describe("glibc's fallback when the break cannot move", () => {
  it("maps a non-contiguous piece of heap (at least 1 MiB, MMAP_AS_MORECORE_SIZE) and keeps serving from it", () => {
    const { process } = boot(64, 0);
    const libc = new GlibcMalloc(process);
    const first = libc.malloc(1000);
    const top = process.brk(0);
    // something mapped right after the heap: brk cannot grow (do_brk_flags finds no room)
    process.mmap(top, 64 * 4096, RW, ANON_PRIVATE | MAP_FIXED);
    const big = libc.malloc(200 * 1024); // below the mmap threshold: from the heap's top
    expect(big).not.toBe(0);
    expect(process.brk(0)).toBe(top); // the break did not move
    expect(big < process.startBrk || big > top).toBe(true); // served from a mapping
    expect(process.maps()).toMatch(/-\S+ rw-p 00000000 00:00 0 *\n/);
    const small = libc.malloc(100);
    expect(small).not.toBe(0);
    libc.free(big);
    libc.free(first);
    libc.free(small);
    libc.checkHeap();
  });
});

describe("two processes, one OOM kill", () => {
  it.each(LIBCS)("%s: the survivor's malloc gets its memory after the worse process is killed, and its heap stays sound", (_name, make) => {
    const kernel = new Kernel({ ram: new PhysicalMemory({ size: 4 * MiB }), overcommitMemory: 1 });
    const hogProcess = kernel.createProcess({ image: BARE_IMAGE, comm: "hog" });
    const survivorProcess = kernel.createProcess({ image: BARE_IMAGE, comm: "survivor" });
    const hog = make(hogProcess);
    const survivor = make(survivorProcess);
    for (let n = 0; n < 55; n++) hogProcess.memory.fill(hog.malloc(48 * 1024), 48 * 1024, 1); // ~2.6 MiB resident
    const blocks: number[] = [];
    for (let n = 0; n < 40; n++) {
      const p = survivor.malloc(48 * 1024);
      expect(p).not.toBe(0);
      survivorProcess.memory.fill(p, 48 * 1024, 2); // the faults that run out are the survivor's
      blocks.push(p);
    }
    expect(kernel.oomKills).toBe(1);
    expect(kernel.log.at(-1)).toMatch(/^Out of memory: Killed process 1 \(hog\) /);
    expect(() => hog.malloc(16)).toThrow(ProcessKilledError);
    survivor.checkHeap();
    for (const p of blocks) expect(survivorProcess.memory.load8(p + 100)).toBe(2);
    for (const p of blocks) survivor.free(p);
    survivor.checkHeap();
  });
});
