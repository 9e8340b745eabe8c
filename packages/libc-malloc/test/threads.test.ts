import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { GlibcMalloc } from "../src/index.js";
import { HEAP_MAX_SIZE } from "../src/heap.js";
import { freshProcess } from "./support/replay.js";

const dir = join(import.meta.dirname, "fixtures", "recordings");

/** Where a result sits: in the brk heap, a thread heap (64 MiB-aligned) or an mmapped chunk. */
function placement(ptr: number, heapStart: number): string {
  if (ptr === 0) return "NULL";
  const offset = ptr - heapStart;
  if (offset >= 0 && offset < 2 ** 30) return `brk+0x${offset.toString(16)}`;
  if (ptr % 4096 === 16) return "mmapped";
  return `thread-heap+0x${(ptr % HEAP_MAX_SIZE).toString(16)}`;
}

interface Replayed {
  compared: number;
  moved: string[];
  libc: GlibcMalloc;
}

/** Replays a recorded libc trace with thread records; every result's placement is compared with the recording's. */
function replayThreads(name: string): Replayed {
  const text = gunzipSync(readFileSync(join(dir, `${name}.memtrace.gz`))).toString("utf8");
  const header = (re: RegExp): string | undefined => re.exec(text)?.[1];
  const heapStart = Number(header(/^# heap-start (0x[0-9a-f]+)$/m));
  const cpus = Number(header(/^# cpus (\d+)$/m) ?? 2);
  const arenaMax = Number(header(/^# env MALLOC_ARENA_MAX=(\d+)$/m) ?? 0);
  const libc = new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234, cpus, arenaMax });
  const sim = new Map<number, number>();
  const moved: string[] = [];
  let compared = 0;
  const check = (line: number, recorded: number, got: number): void => {
    sim.set(recorded, got);
    compared++;
    const want = placement(recorded, heapStart);
    const have = placement(got, libc.heapStart);
    if (want !== have && moved.length < 5) moved.push(`line ${line}: recorded ${want}, replayed ${have}`);
  };
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const f = line.split(" ");
    const n = (k: number): number => Number(f[k]);
    const ptr = (k: number): number => (n(k) === 0 ? 0 : (sim.get(n(k)) ?? -1));
    switch (f[0]) {
      case "t":
        libc.setThread(n(1));
        break;
      case "x":
        libc.threadExit(n(1));
        break;
      case "m":
        check(i + 1, n(3), libc.malloc(n(2)));
        break;
      case "c":
        check(i + 1, n(4), libc.calloc(n(2), n(3)));
        break;
      case "r":
        check(i + 1, n(4), libc.realloc(ptr(2), n(3)));
        break;
      case "f":
        libc.free(ptr(2));
        break;
    }
  });
  return { compared, moved, libc };
}

describe("glibc with threads: real recordings (glibc 2.36, 2 CPUs)", () => {
  it.each([
    ["thread-waves", 450],
    ["thread-waves-arena-max-2", 450],
    ["thread-chains", 24000],
  ])("%s: every result at the recorded offset from its heap start, malloc_stats equal", (name, atLeast) => {
    const { compared, moved, libc } = replayThreads(name);
    expect(moved).toEqual([]);
    expect(compared).toBeGreaterThan(atLeast);
    libc.checkHeap(); // the main heap (the main thread's tcache holds thread-arena chunks too)
    expect(libc.mallocStats()).toBe(readFileSync(join(dir, `${name}.stats.txt`), "utf8"));
  });
});

describe("glibc with threads: malloc_info over every arena", () => {
  it("thread-info: the recorded program's own malloc_info(0, stderr), byte for byte (two arenas, a thread heap grown to 3 MB)", () => {
    const { moved, libc } = replayThreads("thread-info");
    expect(moved).toEqual([]);
    expect(libc.mallocInfo()).toBe(readFileSync(join(dir, "thread-info.info.xml"), "utf8"));
  });
});

describe("glibc with threads: a thread's arena and heap", () => {
  const hexRange = (a: number, b: number): string => `${a.toString(16).padStart(8, "0")}-${b.toString(16).padStart(8, "0")}`;

  it("a thread's first malloc creates its arena in a 64 MiB-aligned heap: rw-p as far as used, ---p beyond, all of it in VmSize", () => {
    const process = freshProcess();
    const libc = new GlibcMalloc(process, { tcacheKey: 0x1234 });
    libc.free(libc.malloc(10));
    const vmBefore = Number(/VmSize:\s+(\d+) kB/.exec(process.status())![1]);
    libc.setThread(2);
    const p = libc.malloc(100);
    const heap = p - (p % HEAP_MAX_SIZE);
    expect(p - heap).toBe(0xb70); // heap_info 0x30, malloc_state 0x898, top at +0x8d0, the 0x290 tcache, then p
    expect(process.memory.load64(p - 8)).toBe(0x70 | 0x4 | 0x1); // NON_MAIN_ARENA | PREV_INUSE
    expect(process.memory.load64(heap)).toBe(heap + 0x30); // heap_info.ar_ptr: the arena right after it
    expect(process.maps()).toContain(`${hexRange(heap, heap + 0x21000)} rw-p 00000000 00:00 0`);
    expect(process.maps()).toContain(`${hexRange(heap + 0x21000, heap + HEAP_MAX_SIZE)} ---p 00000000 00:00 0`);
    const vmAfter = Number(/VmSize:\s+(\d+) kB/.exec(process.status())![1]);
    expect(vmAfter - vmBefore).toBe(HEAP_MAX_SIZE / 1024);
    expect(libc.arenas()).toEqual([libc.mainArena, heap + 0x30]);
    // the main thread's block goes back to main_arena, the thread's to its arena
    libc.setThread(1);
    libc.free(p);
    const q = libc.malloc(100);
    expect(q).toBe(p); // main's tcache took it (tcache is per thread, whatever the chunk's arena)
  });

  it("an exited thread's arena is reused by the next new thread (the free list), its tcache flushed into the bins", () => {
    const libc = new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234 });
    libc.malloc(1);
    libc.setThread(2);
    const a = libc.malloc(200);
    libc.free(libc.malloc(300)); // in thread 2's tcache
    libc.setThread(1);
    libc.threadExit(2);
    expect(libc.thread).toBe(1);
    libc.setThread(3);
    const b = libc.malloc(200);
    expect(b - (b % HEAP_MAX_SIZE)).toBe(a - (a % HEAP_MAX_SIZE));
    expect(libc.arenas()).toHaveLength(2);
    expect(libc.mallinfo2().arena).toBe(0x21000 + 0x21000);
  });

  it("beyond arena_max, reused_arena takes the arenas round robin from main_arena", () => {
    const libc = new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234, arenaMax: 2 });
    libc.malloc(1);
    const heapOf = (thread: number): number => {
      libc.setThread(thread);
      const p = libc.malloc(2000);
      return p >= libc.heapStart && p - libc.heapStart < 2 ** 30 ? 0 : p - (p % HEAP_MAX_SIZE);
    };
    const second = heapOf(2); // a new arena (2 = the limit)
    expect(second).not.toBe(0);
    expect([heapOf(3), heapOf(4), heapOf(5), heapOf(6)]).toEqual([0, second, 0, second]);
  });
});

describe("glibc with threads: integrity checks in a thread heap (test/fixtures/thread-checks.c, as observed)", () => {
  const threadBlocks = (): { libc: GlibcMalloc; a: number } => {
    const libc = new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234 });
    libc.malloc(1);
    libc.setThread(2);
    const a = libc.malloc(2000);
    libc.malloc(16);
    return { libc, a };
  };

  it("a double free: the first free cleared NON_MAIN_ARENA, so the second is checked against main_arena: (out)", () => {
    const { libc, a } = threadBlocks();
    libc.free(a);
    expect(() => libc.free(a)).toThrow("double free or corruption (out)");
  });

  it("a 1 MiB size field: the next chunk lies in the PROT_NONE rest of the heap, a segfault", () => {
    const { libc } = threadBlocks();
    const b = libc.malloc(3000);
    libc.malloc(16);
    libc.process.memory.store64(b - 8, 0x100000 | 0x5);
    expect(() => libc.free(b)).toThrow(expect.objectContaining({ name: "SegmentationFault" }));
  });

  it("a misaligned pointer: free(): invalid pointer; a thread's block freed by main goes back to the thread's arena", () => {
    const { libc, a } = threadBlocks();
    expect(() => libc.free(a + 8)).toThrow("free(): invalid pointer");
    const c = libc.malloc(5000);
    libc.setThread(1);
    libc.free(c);
    libc.setThread(2);
    expect(libc.malloc(5000)).toBe(c);
  });
});

describe("glibc with threads: a thread arena beyond its first 64 MiB heap", () => {
  it("a second heap chained after the first (fenceposts 16|P, 0|P), checked; emptied, it goes at the thread's exit (thread-heap-trim.c, as observed)", () => {
    const process = freshProcess(512 * 1024 * 1024);
    const libc = new GlibcMalloc(process, { tcacheKey: 0x1234 });
    libc.malloc(1);
    libc.setThread(2);
    const blocks: number[] = [];
    for (let i = 0; i < 700; i++) blocks.push(libc.malloc(100_000)); // under the mmap threshold: 70 MB of heap
    const heaps = new Set(blocks.map((p) => p - (p % HEAP_MAX_SIZE)));
    expect(heaps.size).toBe(2);
    const [first, second] = [...heaps];
    expect(process.memory.load64(second! + 8)).toBe(first); // heap_info.prev
    libc.checkHeap();
    for (let i = 0; i < blocks.length; i += 2) libc.free(blocks[i]!);
    libc.checkHeap();
    const vmBefore = Number(/VmSize:\s+(\d+) kB/.exec(process.status())![1]);
    for (let i = blocks.length - 1; i >= 0; i -= 2) libc.free(blocks[i]!);
    libc.checkHeap();
    // the first heap's old top (a small chunk, freed by sysmalloc into the thread's tcache) still
    // counts as in use: heap_trim keeps the empty second heap until the thread's exit flushes it
    const vmMid = Number(/VmSize:\s+(\d+) kB/.exec(process.status())![1]);
    libc.setThread(1);
    libc.threadExit(2);
    libc.checkHeap();
    const vmAfter = Number(/VmSize:\s+(\d+) kB/.exec(process.status())![1]);
    expect([vmBefore - vmMid, vmMid - vmAfter]).toEqual([0, HEAP_MAX_SIZE / 1024]);
    expect(process.maps()).not.toContain(second!.toString(16).padStart(8, "0"));
    // a corrupted size in the thread heap is found by the checker
    libc.setThread(3); // gets the arena from the free list
    const p = libc.malloc(5000);
    process.memory.store64(p - 8, 0x30 | 0x5);
    expect(() => libc.checkHeap()).toThrow(/heap check/);
  });
});
