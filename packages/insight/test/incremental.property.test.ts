import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accountDetail, SoftDirtyTracker, type AccountDetail } from "../src/index.js";
import { PhysicalMemory } from "@mem/hardware";
import { GlibcMalloc } from "@mem/libc-malloc";
import { CLEAR_REFS_SOFT_DIRTY, Kernel, clearRefs } from "@mem/os-vm";
import { makeStack, type TestStack } from "./support.js";

const PRESETS = ["default", "malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"] as const;
const LIBCS = ["glibc", "tlsf"] as const;
type Domain = "raw" | "mem" | "obj";

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 512 }) },
  { weight: 1, arbitrary: fc.integer({ min: 513, max: 4096 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4097, max: 300_000 }) },
);
const op = fc.oneof(
  fc.record({ kind: fc.constant("malloc" as const), domain: fc.constantFrom<Domain>("raw", "mem", "obj"), size }),
  fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }),
  // many small objects at once (new pools and arenas), and freeing most of them (arenas released and mapped again)
  fc.record({ kind: fc.constant("burst" as const), n: fc.integer({ min: 50, max: 3000 }), size: fc.integer({ min: 1, max: 512 }) }),
  fc.record({ kind: fc.constant("sweep" as const), keep: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant("sample" as const) }),
);

/** Everything an account tells that a sample or the pins use, as one comparable value. */
function visible(d: AccountDetail): unknown {
  return { account: d.account, pymalloc: d.pymalloc, live: [d.libc.liveBlocks, d.libc.liveUsable], chunks: d.libc.chunks.length, mapped: d.libc.mapped, threads: d.libc.threadChunks.map((c) => c.length), heaps: d.libc.threadStructures };
}

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Replays `ops` on `s`, calling `check` at each `sample` op and at the end. */
function run(s: TestStack, ops: readonly Op[], check: () => void): void {
  const live: { p: number; domain: Domain }[] = [];
  for (const o of ops) {
    if (o.kind === "malloc") {
      const p = s.pymem.malloc(o.domain, o.size);
      if (p !== 0) live.push({ p, domain: o.domain });
    } else if (o.kind === "burst") {
      for (let i = 0; i < o.n; i++) {
        const p = s.pymem.malloc("obj", o.size);
        if (p !== 0) live.push({ p, domain: "obj" });
      }
    } else if (o.kind === "sweep") {
      // free all but every tenth (scattered frees), keeping the ones at index ≡ keep (mod 10)
      const kept: typeof live = [];
      live.forEach((b, i) => {
        if (i % 10 === o.keep) kept.push(b);
        else s.pymem.free(b.domain, b.p);
      });
      live.length = 0;
      live.push(...kept);
    } else if (o.kind === "sample") {
      check();
    } else if (live.length > 0) {
      const i = o.pick % live.length;
      const b = live[i]!;
      if (o.kind === "free") {
        s.pymem.free(b.domain, b.p);
        live.splice(i, 1);
      } else {
        const q = s.pymem.realloc(b.domain, b.p, o.size);
        if (q !== 0) live[i] = { p: q, domain: b.domain };
      }
    }
  }
  check();
}

describe("incremental account (soft-dirty tracking)", () => {
  for (const preset of PRESETS) {
    for (const libc of LIBCS) {
      it(`equals a full account at every sample: PYTHONMALLOC=${preset}, ${libc}`, () => {
        fc.assert(
          fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
            const s = makeStack(preset, libc, 256);
            const tracker = new SoftDirtyTracker();
            run(s, ops, () => {
              const incremental = accountDetail(s, { tracker });
              const full = accountDetail(s);
              expect(visible(incremental)).toEqual(visible(full));
            });
          }),
          { numRuns: 10 },
        );
      });
    }
  }

  it("equals a full account at every step with glibc threads (thread arenas and heaps, switches, exits)", () => {
    const tsize = fc.oneof(fc.integer({ min: 1, max: 1032 }), fc.integer({ min: 1033, max: 20_000 }), fc.integer({ min: 20_001, max: 150_000 }));
    const top = fc.oneof(
      fc.record({ kind: fc.constant("malloc" as const), size: tsize }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("switch" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("exit" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("sample" as const) }),
    );
    fc.assert(
      fc.property(fc.array(top, { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 2 }), (ops, arenaMax) => {
        const process = new Kernel({ ram: new PhysicalMemory({ size: 128 * 1024 * 1024 }) }).createProcess();
        const libc = new GlibcMalloc(process, { tcacheKey: 0x1234, arenaMax, cpus: 2 });
        const s = { process, libc, pymalloc: undefined };
        const tracker = new SoftDirtyTracker();
        const live: number[] = [];
        const threads = [1];
        let next = 2;
        for (const o of ops) {
          if (o.kind === "malloc") {
            const p = libc.malloc(o.size);
            process.memory.fill(p, Math.min(o.size, 64), 0xab);
            live.push(p);
          } else if (o.kind === "switch") {
            if (o.pick % (threads.length + 1) === threads.length) threads.push(next++);
            libc.setThread(threads[o.pick % threads.length]!);
          } else if (o.kind === "exit") {
            const others = threads.filter((t) => t !== 1 && t !== libc.thread);
            if (others.length === 0) continue;
            const t = others[o.pick % others.length]!;
            libc.threadExit(t);
            threads.splice(threads.indexOf(t), 1);
          } else if (o.kind === "free") {
            if (live.length > 0) libc.free(live.splice(o.pick % live.length, 1)[0]!);
          } else {
            expect(visible(accountDetail(s, { tracker }))).toEqual(visible(accountDetail(s)));
          }
        }
        expect(visible(accountDetail(s, { tracker }))).toEqual(visible(accountDetail(s)));
      }),
      { numRuns: 40 },
    );
  });

  it("reads again only the pool headers on pages written since the previous account", () => {
    const s = makeStack("default", "glibc", 256);
    const tracker = new SoftDirtyTracker();
    const blocks: number[] = [];
    for (let i = 0; i < 40_000; i++) blocks.push(s.pymem.malloc("obj", 32 + (i % 8) * 16));
    accountDetail(s, { tracker });
    const pools = tracker.pools.reads + tracker.pools.hits;
    expect(tracker.pools.reads).toBe(pools); // the first account reads them all
    expect(pools).toBeGreaterThan(100);
    accountDetail(s, { tracker });
    expect(tracker.pools.reads).toBe(0);
    expect(tracker.libc.reused).toBe(true); // nothing outside the arenas changed: glibc's part replayed
    s.pymem.free("obj", blocks[123]!);
    s.pymem.free("obj", blocks[30_000]!);
    const after = accountDetail(s, { tracker });
    expect(tracker.libc.reused).toBe(true);
    expect(tracker.pools.reads).toBeLessThanOrEqual(4); // the two pools freed from (and an arena-object page at most)
    expect(tracker.pools.hits).toBeGreaterThan(pools - 5);
    expect(visible(after)).toEqual(visible(accountDetail(s)));
    // a C-library call writes the heap: glibc's part is walked again
    const raw = s.pymem.malloc("raw", 100);
    expect(visible(accountDetail(s, { tracker }))).toEqual(visible(accountDetail(s)));
    expect(tracker.libc.reused).toBe(false);
    s.pymem.free("raw", raw);
    // someone else clears the bits between two accounts: the tracker starts afresh
    s.pymem.free("obj", blocks[5_000]!);
    clearRefs(s.process, CLEAR_REFS_SOFT_DIRTY);
    const again = accountDetail(s, { tracker });
    expect(tracker.pools.hits).toBe(0);
    expect(visible(again)).toEqual(visible(accountDetail(s)));
  });
});
