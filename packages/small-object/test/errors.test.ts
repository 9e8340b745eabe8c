/**
 * Bad input: typed errors that name the tier, the address, the size and the rule, with
 * pymalloc's state left exactly as it was; and the checker catching corrupted structures.
 */
import { spawnSync } from "node:child_process";
import { liveSkip, liveTitle } from "../../../scripts/host-facts.js";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Pymalloc, PymallocConfigError, PymallocError, PymallocInvariantError } from "../src/index.js";
import { makeHost } from "./helpers/host.js";

function setup(strictFree = false) {
  const host = makeHost();
  host.mmap.forced.push(0x7f0000100000);
  const pm = new Pymalloc(host, { strictFree });
  const blocks = [pm.malloc(32), pm.malloc(32), pm.malloc(32), pm.malloc(100)];
  return { host, pm, blocks };
}

function expectRefused(pm: Pymalloc, action: () => unknown, rule: string, message: RegExp): void {
  const before = pm.debugMallocStats();
  const blocks = pm.allocatedBlocks();
  let error: unknown;
  try {
    action();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PymallocError);
  expect((error as PymallocError).rule).toBe(rule);
  expect((error as Error).message).toMatch(/^small-object: /);
  expect((error as Error).message).toMatch(message);
  expect(pm.debugMallocStats()).toBe(before);
  expect(pm.allocatedBlocks()).toBe(blocks);
  pm.check();
}

describe("invalid frees", () => {
  it("a double free of the last freed block", () => {
    const { pm, blocks } = setup();
    pm.free(blocks[1]!);
    expectRefused(pm, () => pm.free(blocks[1]!), "double-free", /free\(0x7f0000100050\): double-free: .*head of the free list/);
  });

  it("a double free deeper in the free list, with strictFree", () => {
    const { pm, blocks } = setup(true);
    pm.free(blocks[0]!);
    pm.free(blocks[1]!);
    expectRefused(pm, () => pm.free(blocks[0]!), "double-free", /already on the free list/);
  });

  it("a free into a pool with no allocated block", () => {
    const { pm, blocks } = setup();
    pm.free(blocks[3]!);
    expectRefused(pm, () => pm.free(blocks[3]!), "double-free", /has no allocated block/);
  });

  it("an interior pointer", () => {
    const { pm, blocks } = setup();
    expectRefused(pm, () => pm.free(blocks[0]! + 8), "not-a-block", /not the start of a 32-byte block of the pool at 0x7f0000100000/);
    expectRefused(pm, () => pm.free(0x7f0000100010), "not-a-block", /not the start/);
  });

  it("a block never handed out, a pool never carved, realloc of an interior pointer", () => {
    const { pm, blocks } = setup();
    expectRefused(pm, () => pm.free(0x7f0000100030 + 32 * 10), "not-a-block", /never handed out/);
    expectRefused(pm, () => pm.free(0x7f0000100000 + 16384 * 5 + 48), "not-a-block", /never carved/);
    expectRefused(pm, () => pm.realloc(blocks[2]! + 16, 10), "not-a-block", /^small-object: realloc\(0x7f0000100080, 10\)/);
  });

  it("an address in the part of an unaligned arena lost to alignment", () => {
    const host = makeHost();
    host.mmap.forced.push(0x7f0000102000);
    const pm = new Pymalloc(host);
    pm.malloc(8);
    expectRefused(pm, () => pm.free(0x7f0000102010), "not-a-block", /lost to alignment/);
  });

  it("bad sizes", () => {
    const { pm } = setup();
    for (const size of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expectRefused(pm, () => pm.malloc(size), "bad-size", /bad-size/);
    }
    expectRefused(pm, () => pm.calloc(-2, 3), "bad-size", /calloc\(-2\)/);
  });

  it("pointers that are not addresses", () => {
    const { pm } = setup();
    const p = pm.malloc(32);
    for (const bad of [p + 0.5, -16, Number.NaN, 2 ** 53]) {
      expectRefused(pm, () => pm.free(bad), "bad-pointer", new RegExp(`^small-object: free\\(${String(bad)}\\): bad-pointer: not an address`));
      expectRefused(pm, () => pm.realloc(bad, 40), "bad-pointer", new RegExp(`^small-object: realloc\\(${String(bad)}, 40\\): bad-pointer`));
      expectRefused(pm, () => pm.poolHeader(bad), "bad-pointer", /^small-object: poolHeader\(/);
      expect(pm.owns(bad)).toBe(false);
    }
    expect(pm.owns(p)).toBe(true);
    pm.free(p);
  });

  it("parameters obmalloc.c would not compile", () => {
    const host = makeHost();
    expect(() => new Pymalloc(host, { params: { poolSize: 12288 } })).toThrow(PymallocConfigError);
    expect(() => new Pymalloc(host, { version: "3.9", params: { poolSize: 16384, arenaSize: 1 << 20 } })).toThrow(
      /without the radix tree POOL_SIZE must equal the system page size/,
    );
    expect(() => new Pymalloc(host, { params: { arenaSize: 8192 } })).toThrow(/arenaSize/);
  });
});

describe("the checker", () => {
  const corrupt = (mutate: (pm: Pymalloc, blocks: number[]) => void, invariant: string) => {
    const { pm, blocks } = setup();
    pm.free(blocks[1]!);
    pm.check();
    mutate(pm, blocks);
    let error: unknown;
    try {
      pm.check();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PymallocInvariantError);
    expect((error as PymallocInvariantError).invariant).toBe(invariant);
  };
  const mem = (pm: Pymalloc) => pm.host.memory;

  it("catches a wrong count", () => corrupt((pm) => mem(pm).store32(0x7f0000100000, 5), "pool-header"));
  it("catches a free-list cycle", () => corrupt((pm, b) => mem(pm).store64(b[1]!, b[1]!), "pool-free-list"));
  it("catches a free-list link out of the pool", () => corrupt((pm, b) => mem(pm).store64(b[1]!, 0x1000), "pool-free-list"));
  it("catches a bad maxnextoffset", () => corrupt((pm) => mem(pm).store32(0x7f0000100000 + 44, 7), "pool-header"));
  it("catches a bad arenaindex", () => corrupt((pm) => mem(pm).store32(0x7f0000104000 + 32, 3), "pool-header"));
  it("catches a wrong nfreepools", () => corrupt((pm) => mem(pm).store32(pm.arenas + 16, 10), "arena-freepools"));
  it("catches a broken usable_arenas link", () => corrupt((pm) => mem(pm).store64(pm.arenas + 40, pm.arenas + 48), "usable-arenas"));
  it("catches a stale nfp2lasta finger", () => corrupt((pm) => (pm.nfp2lasta[5] = pm.arenas), "nfp2lasta"));
  it("catches a used pool missing from usedpools", () => corrupt((pm) => (pm.usedpools[1] = 0), "used-pools"));
  it("catches a broken unused_arena_objects list", () => corrupt((pm) => mem(pm).store64(pm.arenas + 48 * 15 + 32, pm.arenas), "unused-list"));
  it("catches a stale arena-map entry", () =>
    corrupt((pm) => {
      const bot = (pm.host as ReturnType<typeof makeHost>).bump.history[2]![0];
      pm.host.memory.store32(bot + 8 * 5, 0x3000);
    }, "arena-map"));
  it("catches a bad ntotalpools", () => corrupt((pm) => mem(pm).store32(pm.arenas + 20, 63), "arena-geometry"));
});

/** The live re-run (`npm run test:live`): python3 must be a CPython whose pymalloc is modelled. */
const MODELLED: readonly string[] = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"];
const liveDoubleFree = liveSkip({
  tools: ["python3"],
  check: (host) => (MODELLED.includes(host.python3 ?? "") ? null : `host python3 is ${host.python3}, the pymalloc model covers CPython 3.8-3.13`),
});

describe("validateFrees: false behaves like a CPython release build", () => {
  // Recorded with python3 (3.11.7) and ctypes: PyObject_Malloc(500) twice, PyObject_Free(p)
  // twice, then PyObject_Malloc(500) three times (test/fixtures/experiments/double-free.txt).
  const recorded = readFileSync(new URL("./fixtures/experiments/double-free.txt", import.meta.url), "utf8");

  it("a double free makes malloc hand the same block out again and again", () => {
    const offsets = /x3 = (\S+) (\S+) (\S+)/.exec(recorded)!.slice(1).map((h) => Number.parseInt(h, 16));
    const { pm } = setup();
    const unchecked = new Pymalloc(pm.host, { validateFrees: false });
    const p = unchecked.malloc(500);
    unchecked.malloc(500);
    unchecked.free(p);
    unchecked.free(p);
    const got = [unchecked.malloc(500), unchecked.malloc(500), unchecked.malloc(500)].map((x) => x - p);
    expect(got).toEqual(offsets);
    expect(got).toEqual([0, 0, 0]);
    expect(() => unchecked.check()).toThrow(PymallocInvariantError);
  });

  it("the same calls on the default (validating) allocator refuse the second free", () => {
    const { pm } = setup();
    const p = pm.malloc(500);
    pm.malloc(500);
    pm.free(p);
    expect(() => pm.free(p)).toThrow(/double-free/);
    pm.check();
  });

  it.skipIf(liveDoubleFree !== null)(liveTitle("the same experiment on this machine's python3", liveDoubleFree), () => {
    const script = [
      "import ctypes",
      "M=ctypes.pythonapi.PyObject_Malloc; M.restype=ctypes.c_void_p; M.argtypes=[ctypes.c_size_t]",
      "F=ctypes.pythonapi.PyObject_Free; F.argtypes=[ctypes.c_void_p]",
      "p=M(500); q=M(500); F(p); F(p); a=M(500); b=M(500); c=M(500)",
      "print(a==p, b==p, c==p)",
    ].join("\n");
    const r = spawnSync("python3", ["-c", script], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("True True True");
  });
});
