/**
 * Golden tests: exact addresses, header bytes and statistics after each step, for
 * sequences whose outcome follows from obmalloc.c (and was confirmed with the probe).
 */
import { describe, expect, it } from "vitest";
import { Pymalloc, readArenaObject } from "../src/index.js";
import { makeHost } from "./helpers/host.js";

const ARENA = 1 << 20;
const POOL = 16384;

/** The pool header at `pool`, without its address. */
function header(pm: Pymalloc, pool: number) {
  const { address: _address, ...fields } = pm.poolHeader(pool);
  return fields;
}

/** Arena object `i` of the vector, without its index and own address. */
function arenaObject(pm: Pymalloc, i: number) {
  const { index: _index, object: _object, ...fields } = readArenaObject(pm.host.memory, pm.arenas, i);
  return fields;
}

describe("first allocation", () => {
  it("creates the arenas vector, the radix nodes, an arena losing one pool to alignment, and carves two blocks", () => {
    const host = makeHost();
    const base = 0x7f0000002000; // 8 KiB past a pool boundary: one pool lost
    host.mmap.forced.push(base);
    const pm = new Pymalloc(host);
    const p = pm.malloc(100);
    expect(p).toBe(0x7f0000004030);
    // raw calls: the vector (realloc of 16 * 48 bytes), then the mid and bottom radix nodes
    expect(host.bump.calls).toEqual({ malloc: 0, calloc: 2, realloc: 1, free: 0 });
    expect(pm.maxarenas).toBe(16);
    expect(host.bump.history.map(([, n]) => n)).toEqual([768, 262144, 131072]);
    expect(header(pm, 0x7f0000004000)).toEqual({
      count: 1,
      freeblock: p + 112,
      nextpool: 0,
      prevpool: 0,
      arenaindex: 0,
      szidx: 6,
      nextoffset: 48 + 2 * 112,
      maxnextoffset: POOL - 112,
    });
    expect(host.memory.load64(p + 112)).toBe(0); // the carved free block ends the list
    expect(arenaObject(pm, 0)).toEqual({
      address: base,
      poolAddress: 0x7f0000008000,
      nfreepools: 62,
      ntotalpools: 63,
      freepools: 0,
      nextarena: 0,
      prevarena: 0,
    });
    expect(arenaObject(pm, 1).address).toBe(0);
    expect(pm.unusedArenaObjects).toBe(pm.arenas + 48);
    expect(pm.usableArenas).toBe(pm.arenas);
    expect(pm.nfp2lasta[62]).toBe(pm.arenas);
    expect(pm.arenaObjects().map((a) => a.index)).toEqual([0]);
    expect(pm.poolHeader(p + 5000).szidx).toBe(6);
    expect(pm.allocatedBlocks()).toBe(1);
    expect(pm.debugMallocStats()).toBe(
      [
        "Small block threshold = 512, in 32 size classes.",
        "",
        "class   size   num pools   blocks in use  avail blocks",
        "-----   ----   ---------   -------------  ------------",
        "    6    112           1               1           144",
        "",
        "# arenas allocated total           =                    1",
        "# arenas reclaimed                 =                    0",
        "# arenas highwater mark            =                    1",
        "# arenas allocated current         =                    1",
        "1 arenas * 1048576 bytes/arena     =            1,048,576",
        "",
        "# bytes in allocated blocks        =                  112",
        "# bytes in available blocks        =               16,128",
        "62 unused pools * 16384 bytes      =            1,015,808",
        "# bytes lost to pool headers       =                   48",
        "# bytes lost to quantization       =                   96",
        "# bytes lost to arena alignment    =               16,384",
        "Total                              =            1,048,576",
        "",
        "arena map counts",
        "# arena map mid nodes              =                    1",
        "# arena map bot nodes              =                    1",
        "",
        "# bytes lost to arena map root     =              262,144",
        "# bytes lost to arena map mid      =              262,144",
        "# bytes lost to arena map bot      =              131,072",
        "Total                              =              655,360",
        "",
      ].join("\n"),
    );
    pm.check();
  });

  it("marks the arena map: an unaligned arena sets tail_hi of its slot and tail_lo of the next", () => {
    const host = makeHost();
    host.mmap.forced.push(0x7f0000002000);
    const pm = new Pymalloc(host);
    pm.malloc(1);
    const map = pm.arenaMap!;
    expect(map.isUsed(0x7f0000002000)).toBe(true);
    expect(map.isUsed(0x7f0000001fff)).toBe(false);
    expect(map.isUsed(0x7f0000002000 + ARENA - 1)).toBe(true);
    expect(map.isUsed(0x7f0000002000 + ARENA)).toBe(false);
    // bytes of the bottom node: entry for slot 0x7f0000000000 >> 20, then the next slot
    const bot = host.bump.history[2]![0];
    const slot = (0x7f0000000000 / ARENA) % 16384;
    expect(host.memory.load32(bot + slot * 8)).toBe(0x2000); // tail_hi
    expect(host.memory.load32(bot + slot * 8 + 4)).toBe(0); // tail_lo
    expect(host.memory.load32(bot + (slot + 1) * 8)).toBe(0);
    expect(host.memory.load32(bot + (slot + 1) * 8 + 4)).toBe(0x2000);
  });

  it("an aligned arena keeps 64 pools and sets tail_hi = -1", () => {
    const host = makeHost();
    host.mmap.forced.push(0x7f0000100000);
    const pm = new Pymalloc(host);
    expect(pm.malloc(16)).toBe(0x7f0000100030);
    expect(arenaObject(pm, 0)).toMatchObject({ nfreepools: 63, ntotalpools: 64, poolAddress: 0x7f0000104000 });
    const bot = host.bump.history[2]![0];
    expect(host.memory.load32(bot + ((0x7f0000100000 / ARENA) % 16384) * 8)).toBe(0xffffffff);
  });
});

describe("pools", () => {
  it("hands out blocks in address order, retires a full pool, takes the next, and reuses a freed block first (LIFO)", () => {
    const host = makeHost();
    host.mmap.forced.push(0x7f0000100000);
    const pm = new Pymalloc(host);
    const pool0 = 0x7f0000100000;
    const blocks: number[] = [];
    for (let i = 0; i < 145; i++) blocks.push(pm.malloc(112));
    expect(blocks[0]).toBe(pool0 + 48);
    expect(blocks[144]).toBe(pool0 + 48 + 144 * 112);
    expect(pm.usedpools[6]).toBe(0); // full: in no list
    expect(header(pm, pool0)).toMatchObject({ count: 145, freeblock: 0, nextoffset: 48 + 145 * 112 });
    const next = pm.malloc(100);
    expect(next).toBe(pool0 + POOL + 48);
    expect(pm.usedpools[6]).toBe(pool0 + POOL);
    pm.free(blocks[10]!);
    // the formerly full pool goes to the front of the class's list
    expect(pm.usedpools[6]).toBe(pool0);
    expect(header(pm, pool0)).toMatchObject({ count: 144, freeblock: blocks[10], nextpool: pool0 + POOL, prevpool: 0 });
    expect(header(pm, pool0 + POOL).prevpool).toBe(pool0);
    pm.free(blocks[20]!);
    expect(host.memory.load64(blocks[20]!)).toBe(blocks[10]); // free-list link in the block's first word
    expect(pm.malloc(97)).toBe(blocks[20]);
    expect(pm.malloc(112)).toBe(blocks[10]);
    pm.check();
  });

  it("an empty pool returns to its arena's freepools and is reused for another class from offset 48", () => {
    const host = makeHost();
    host.mmap.forced.push(0x7f0000100000);
    const pm = new Pymalloc(host);
    const a = pm.malloc(16);
    const b = pm.malloc(48);
    pm.free(a);
    expect(pm.usedpools[0]).toBe(0);
    expect(arenaObject(pm, 0)).toMatchObject({ freepools: 0x7f0000100000, nfreepools: 63 });
    const c = pm.malloc(200); // class 12 takes the cached pool, re-initialised
    expect(c).toBe(0x7f0000100030);
    expect(header(pm, 0x7f0000100000)).toMatchObject({ szidx: 12, count: 1, nextoffset: 48 + 2 * 208 });
    pm.free(b);
    pm.free(c);
    // recycled pool of the same class keeps its free list: the last freed block comes back
    expect(pm.malloc(208)).toBe(c);
    pm.check();
  });
});

describe("realloc policy (obmalloc.c pymalloc_realloc)", () => {
  it("keeps a block when the new size fits its class and shrinks by less than 25 %", () => {
    const host = makeHost();
    const pm = new Pymalloc(host);
    const p = pm.malloc(100); // class 112
    for (const n of [112, 90, 85]) expect(pm.realloc(p, n)).toBe(p);
    host.memory.store64(p, 0x1122334455);
    const q = pm.realloc(p, 84); // 4 * 84 = 336 = 3 * 112: moves, copies 84 bytes
    expect(q).not.toBe(p);
    expect(pm.blockSize(84)).toBe(96);
    expect(host.memory.load64(q)).toBe(0x1122334455);
    const r = pm.realloc(q, 600); // to the raw domain
    expect(pm.owns(r)).toBe(false);
    expect(pm.rawAllocatedBlocks).toBe(1);
    expect(host.memory.load64(r)).toBe(0x1122334455);
    const s = pm.realloc(r, 50); // raw blocks never migrate back
    expect(pm.owns(s)).toBe(false);
    expect(host.bump.calls.realloc).toBe(2); // the arenas vector, then this one
    const t = pm.realloc(0, 30);
    expect(pm.owns(t)).toBe(true);
    const u = pm.realloc(t, 0); // moves to malloc(0) = raw
    expect(pm.owns(u)).toBe(false);
    expect(pm.rawAllocatedBlocks).toBe(2);
    expect(pm.allocatedBlocks()).toBe(2);
    pm.check();
  });

  it("calloc: 32 x 16 from pymalloc (zeroed), 33 x 16 and 0 x 5 from raw calloc", () => {
    const host = makeHost();
    const pm = new Pymalloc(host);
    const junk = pm.malloc(512);
    host.memory.fill(junk, 512, 0xab);
    pm.free(junk);
    const p = pm.calloc(32, 16);
    expect(p).toBe(junk);
    expect([...host.memory.read(p + 8, 504)].every((b) => b === 0)).toBe(true);
    expect(host.memory.load64(p)).toBe(0);
    expect(pm.owns(pm.calloc(33, 16))).toBe(false);
    expect(pm.owns(pm.calloc(0, 5))).toBe(false);
    expect(host.bump.calls.calloc).toBe(2 + 2); // radix nodes + two fallbacks
    expect(pm.allocatedBlocks()).toBe(3);
  });
});

describe("arenas", () => {
  it("releases wholly free arenas except the last of usable_arenas (3.9+), all of them in 3.8", () => {
    for (const [version, kept] of [
      ["3.11", 1],
      ["3.9", 1],
      ["3.8", 0],
    ] as const) {
      const host = makeHost();
      const pm = new Pymalloc(host, { version });
      const perArena = Math.floor((pm.params.poolSize - 48) / 512) * (pm.params.arenaSize / pm.params.poolSize);
      const blocks: number[] = [];
      for (let i = 0; i < perArena * 3; i++) blocks.push(pm.malloc(512));
      expect(pm.narenasCurrentlyAllocated).toBe(3);
      for (const b of blocks) pm.free(b);
      expect(pm.narenasCurrentlyAllocated, version).toBe(kept);
      expect(host.mmap.mappings.size).toBe(kept);
      expect(pm.ntimesArenaAllocated).toBe(3);
      pm.check();
    }
  });

  it("grows the arenas vector 16 -> 32 only when all 16 slots hold full arenas", () => {
    const host = makeHost();
    const pm = new Pymalloc(host, { params: { arenaSize: 65536 } }); // 4 pools per arena
    const vectors: number[] = [];
    for (let i = 0; i < 16 * 4 * 31; i++) pm.malloc(512);
    expect(pm.maxarenas).toBe(16);
    vectors.push(pm.arenas);
    pm.malloc(512);
    expect(pm.maxarenas).toBe(32);
    expect(pm.narenasCurrentlyAllocated).toBe(17);
    expect(host.bump.calls.realloc).toBe(2);
    expect(pm.arenas).not.toBe(vectors[0]); // the bump allocator never grows in place
    pm.check();
  });

  it("a new arena crossing a 16 GiB boundary needs a second bottom node", () => {
    const host = makeHost();
    const boundary = 2 ** 34 * 0x1fc0;
    host.mmap.forced.push(boundary - 0x8000);
    const pm = new Pymalloc(host);
    pm.malloc(8);
    expect(pm.arenaMap!.botCount).toBe(2);
    expect(pm.arenaMap!.midCount).toBe(1);
    expect(pm.debugMallocStats()).toContain("# arena map bot nodes              =                    2\n");
    expect(pm.debugMallocStats()).toContain("# bytes lost to arena map bot      =              262,144\nTotal                              =              786,432\n");
    expect(pm.owns(boundary + ARENA - 0x8001)).toBe(true);
    expect(pm.owns(boundary + ARENA - 0x8000)).toBe(false);
  });

  it("3.10's arena map ignores the top 16 address bits: 8 KiB root and mid, 2 KiB bottom", () => {
    const pm = new Pymalloc(makeHost(), { version: "3.10" });
    pm.malloc(8);
    expect(pm.debugMallocStats().split("\n").slice(-5).join("\n")).toBe(
      [
        "# bytes lost to arena map root     =                8,192",
        "# bytes lost to arena map mid      =                8,192",
        "# bytes lost to arena map bot      =                2,048",
        "Total                              =               18,432",
        "",
      ].join("\n"),
    );
  });
});

describe("out of memory", () => {
  it("falls back to the raw domain when no arena can be mapped, and puts the slot back", () => {
    const host = makeHost();
    const pm = new Pymalloc(host);
    host.mmap.failNext = 1;
    const p = pm.malloc(64);
    expect(pm.owns(p)).toBe(false);
    expect(pm.rawAllocatedBlocks).toBe(1);
    expect(pm.unusedArenaObjects).toBe(pm.arenas);
    expect(pm.owns(pm.malloc(64))).toBe(true);
    pm.free(p);
    expect(pm.rawAllocatedBlocks).toBe(0);
    pm.check();
  });

  it("gives the arena back when a radix node cannot be allocated", () => {
    const host = makeHost();
    const pm = new Pymalloc(host);
    host.bump.failPlan.push(false, true); // the vector succeeds, the mid node fails
    const p = pm.malloc(64);
    expect(pm.owns(p)).toBe(false); // served by the raw fallback
    expect(pm.rawAllocatedBlocks).toBe(1);
    expect(host.mmap.log).toEqual(["mmap 1048576 -> 0x7efffff00000", "munmap 0x7efffff00000 1048576"]);
    expect(pm.narenasCurrentlyAllocated).toBe(0);
    expect(pm.ntimesArenaAllocated).toBe(0);
    expect(pm.arenaMap!.midCount).toBe(0);
    pm.check();
  });
});
