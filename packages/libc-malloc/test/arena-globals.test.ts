/**
 * arena.c's statics (`narenas`, `narenas_limit`, `next_to_use`, `free_list`,
 * `aligned_heap_area`) and each arena's `next`, `next_free` and `attached_threads` are bytes of
 * the simulated process, where glibc 2.36 keeps them. test/fixtures/arena-globals.c reads them
 * out of a real process (libc base + the libc6-dbg offsets) after threads create, leave and
 * reuse arenas under MALLOC_ARENA_MAX=3; the same calls here, read back from simulated memory
 * at the same offsets, print the same text (arena-globals.txt).
 */
import { readFileSync } from "node:fs";
import { Kernel, BARE_IMAGE } from "@mem/os-vm";
import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import {
  GlibcMalloc,
  Glibc241Malloc,
  Glibc242Malloc,
  Glibc243Malloc,
  LIBC_236_GLOBALS,
  MAIN_ARENA_LIBC_OFFSET,
  OWN_PAGE_GLOBALS,
  mainArenaAddress,
  type ArenaGlobalsLayout,
} from "../src/index.js";
import { HEAP_MAX_SIZE } from "../src/heap.js";
import { freshProcess } from "./support/replay.js";

const recorded = readFileSync(new URL("fixtures/arena-globals.txt", import.meta.url), "utf8");
/** The libc6-dbg addresses the C program uses (`nm` of the 2.36 debug file). */
const NM = { narenas: 0x1d3328, nextToUse: 0x1da468, narenasLimit: 0x1da470, alignedHeapArea: 0x1da480, freeList: 0x1da490 };

const releases = [
  { release: "2.36", make: GlibcMalloc, shift: 0 },
  { release: "2.41", make: Glibc241Malloc, shift: 0 },
  { release: "2.42", make: Glibc242Malloc, shift: 0 },
  { release: "2.43", make: Glibc243Malloc, shift: 0x58 },
] as const;

/** Runs arena-globals.c's steps (its thread i is thread i+1 here) and prints what its dump() prints. */
function replay(libc: GlibcMalloc, shift: number, layout: ArenaGlobalsLayout): string {
  const mem = libc.process.memory;
  const main = libc.mainArena;
  const at = (offset: number): number => main + offset;
  const arenas: number[] = [];
  const name = (a: number): string => (a === 0 ? " 0" : arenas.includes(a) ? ` A${arenas.indexOf(a)}` : ` ?${a.toString(16)}`);
  const lines: string[] = [];
  const dump = (when: string): void => {
    const g = layout;
    lines.push(
      `${when}: narenas ${mem.load64(at(g.narenas))} limit ${mem.load64(at(g.narenasLimit))} next_to_use${name(mem.load64(at(g.nextToUse)))} free_list${name(mem.load64(at(g.freeList)))}`,
    );
    arenas.forEach((a, i) => {
      const next = mem.load64(a + 0x870 - shift);
      const nextFree = mem.load64(a + 0x878 - shift);
      lines.push(`  A${i} next${name(next)} next_free${name(nextFree)} attached ${mem.load64(a + 0x880 - shift)}`);
    });
  };
  const start = (i: number): void => {
    libc.setThread(i + 1);
    const chunk = libc.malloc(100) - 16;
    const a = (mem.load64(chunk + 8) & 4) !== 0 ? chunk - (chunk % HEAP_MAX_SIZE) + 0x30 : main;
    if (!arenas.includes(a)) arenas.push(a);
    libc.setThread(1);
  };
  const stop = (i: number): void => libc.threadExit(i + 1);
  libc.free(libc.malloc(100));
  arenas.push(main);
  dump("start");
  start(1);
  dump("thread 1 created an arena");
  stop(1);
  dump("thread 1 exited");
  start(2);
  dump("thread 2 took it from the free list");
  start(3);
  dump("thread 3 created a second");
  start(4);
  dump("thread 4 reused main_arena");
  start(5);
  dump("thread 5 reused the next");
  stop(2);
  stop(3);
  dump("threads 2 and 3 exited");
  start(6);
  dump("thread 6 took the free list's arena");
  stop(4);
  stop(5);
  stop(6);
  dump("all exited");
  return lines.join("\n") + "\n";
}

describe("arena.c's statics in libc's data segment", () => {
  it("sit at the offsets from main_arena that libc6-dbg's nm gives", () => {
    for (const key of ["narenas", "nextToUse", "narenasLimit", "alignedHeapArea", "freeList"] as const) {
      expect(LIBC_236_GLOBALS[key]).toBe(NM[key] - MAIN_ARENA_LIBC_OFFSET);
    }
    const process = freshProcess();
    const main = mainArenaAddress(process.image.mappings)!;
    // narenas in libc's rw-p data, the .bss statics in the anonymous mapping after it
    const maps = process.image.mappings.filter((m) => m.perms.startsWith("rw"));
    for (const offset of Object.values(LIBC_236_GLOBALS)) {
      expect(maps.some((m) => main + offset >= m.start && main + offset + 8 <= m.end)).toBe(true);
    }
  });

  for (const { release, make, shift } of releases) {
    it(`${release}: after threads create, leave and reuse arenas (MALLOC_ARENA_MAX=3) memory holds what the real 2.36 process held`, () => {
      const libc = new make(freshProcess(), { tcacheKey: 0x1234, arenaMax: 3, arenaStatics: "libc" });
      expect(replay(libc, shift, LIBC_236_GLOBALS)).toBe(recorded);
    });
    it(`${release}: by default the same values sit right after main_arena, and the RSS is that of arenaStatics "libc" less the one page of libc's .bss`, () => {
      const compact = freshProcess();
      const real = freshProcess();
      expect(replay(new make(compact, { tcacheKey: 0x1234, arenaMax: 3 }), shift, OWN_PAGE_GLOBALS)).toBe(recorded);
      replay(new make(real, { tcacheKey: 0x1234, arenaMax: 3, arenaStatics: "libc" }), shift, LIBC_236_GLOBALS);
      const rss = (p: typeof compact): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(p.status())![1]);
      expect(rss(real) - rss(compact)).toBe(4);
    });
  }

  it("aligned_heap_area is new_heap's hint in memory: set when a 128 MiB reservation comes out aligned, taken by the next heap", () => {
    const libc = new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234, arenaStatics: "libc" });
    const mem = libc.process.memory;
    const hint = libc.mainArena + LIBC_236_GLOBALS.alignedHeapArea;
    const heapOf = (p: number): number => p - (p % HEAP_MAX_SIZE);
    libc.malloc(1);
    expect(mem.load64(hint)).toBe(0);
    const seen: number[] = [];
    for (let thread = 2; thread <= 5; thread++) {
      const before = mem.load64(hint);
      libc.setThread(thread);
      const heap = heapOf(libc.malloc(100));
      if (before !== 0) {
        expect(heap).toBe(before); // the hint was tried first and taken...
        expect(mem.load64(hint)).toBe(0); // ...and cleared
      } else if (mem.load64(hint) !== 0) {
        expect(mem.load64(hint)).toBe(heap + HEAP_MAX_SIZE); // the end of a reservation that came out aligned
      }
      seen.push(before);
    }
    expect(seen.some((h) => h !== 0)).toBe(true);
  });

  it("a write into free_list is what the next thread takes, as with glibc", () => {
    const libc = new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234, arenaStatics: "libc" });
    const mem = libc.process.memory;
    libc.setThread(2);
    libc.malloc(100);
    const [, a] = libc.arenas();
    libc.threadExit(2);
    expect(mem.load64(libc.mainArena + LIBC_236_GLOBALS.freeList)).toBe(a);
    mem.store64(libc.mainArena + LIBC_236_GLOBALS.freeList, 0); // a debugger empties the free list
    libc.setThread(3);
    const p = libc.malloc(100) - 16;
    expect(p - (p % HEAP_MAX_SIZE) + 0x30).not.toBe(a); // so thread 3 makes a new arena
    expect(mem.load64(libc.mainArena + LIBC_236_GLOBALS.narenas)).toBe(3);
    expect(libc.arenas()).toHaveLength(3);
  });

  it("without a libc image they follow main_arena in its own page", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 256 * 1024 ** 2 }) }).createProcess({ image: BARE_IMAGE });
    const libc = new GlibcMalloc(process, { tcacheKey: 0x1234, arenaMax: 2 });
    const mem = process.memory;
    const g = (offset: number): number => mem.load64(libc.mainArena + offset);
    expect(libc.mainArena % 4096).toBe(0);
    libc.malloc(1);
    expect(g(OWN_PAGE_GLOBALS.narenas)).toBe(1);
    libc.setThread(2);
    libc.malloc(1);
    libc.setThread(3);
    libc.malloc(1); // over the limit: reuses main_arena
    expect([g(OWN_PAGE_GLOBALS.narenas), g(OWN_PAGE_GLOBALS.narenasLimit), g(OWN_PAGE_GLOBALS.nextToUse)]).toEqual([2, 2, libc.arenas()[1]]);
    libc.threadExit(2);
    expect(g(OWN_PAGE_GLOBALS.freeList)).toBe(libc.arenas()[1]);
  });

  it("refuses an unknown layout, and the real one where there is no libc image, before touching anything", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 256 * 1024 ** 2 }) }).createProcess({ image: BARE_IMAGE });
    const vmas = process.mm.vmas.count;
    expect(() => new GlibcMalloc(process, { arenaStatics: "bss" as "libc" })).toThrow(/arenaStatics must be "compact" or "libc", got "bss"/);
    expect(() => new GlibcMalloc(process, { arenaStatics: "libc" })).toThrow(/maps no libc image/);
    expect(process.mm.vmas.count).toBe(vmas);
    expect(() => new GlibcMalloc(freshProcess(), { arenaStatics: "compact" })).not.toThrow();
  });
});
