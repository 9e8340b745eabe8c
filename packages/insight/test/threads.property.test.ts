/**
 * Property: with threads (random switches, exits, calls from any thread, MALLOC_ARENA_MAX 0..2),
 * the account still sums to RssAnon (accountDetail throws otherwise), no resident byte of a
 * thread heap is left to other.anon, the live blocks are the program's, and the malloc_trim(0)
 * dry run predicts the drop of the real trim over all arenas.
 */
import fc from "fast-check";
import { PhysicalMemory } from "@mem/hardware";
import { GlibcMalloc } from "@mem/libc-malloc";
import { Kernel } from "@mem/os-vm";
import { describe, expect, it } from "vitest";
import { accountDetail, pinsOf } from "../src/index.js";

const size = fc.oneof(fc.integer({ min: 1, max: 1032 }), fc.integer({ min: 1033, max: 20_000 }), fc.integer({ min: 20_001, max: 150_000 }));
const op = fc.oneof(
  fc.record({ kind: fc.constant("malloc" as const), size }),
  fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }),
  fc.record({ kind: fc.constant("switch" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("exit" as const), pick: fc.nat() }),
);

describe("account with threads (property)", () => {
  it("sums to RssAnon, leaves nothing to other.anon, counts the program's blocks, and its trim dry run is exact", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 2 }), (ops, arenaMax, cpus) => {
        const process = new Kernel({ ram: new PhysicalMemory({ size: 128 * 1024 * 1024 }) }).createProcess();
        const libc = new GlibcMalloc(process, { tcacheKey: 0x1234, arenaMax, cpus });
        const s = { process, libc, pymalloc: undefined };
        const live: number[] = [];
        const threads = [1];
        let next = 2;
        for (const o of ops) {
          if (o.kind === "malloc") {
            const p = libc.malloc(o.size);
            process.memory.fill(p, o.size, 0xab);
            live.push(p);
          } else if (o.kind === "switch") {
            // an existing thread, or a new one
            if (o.pick % (threads.length + 1) === threads.length) threads.push(next++);
            libc.setThread(threads[o.pick % threads.length]!);
          } else if (o.kind === "exit") {
            const others = threads.filter((t) => t !== 1 && t !== libc.thread);
            if (others.length === 0) continue;
            const t = others[o.pick % others.length]!;
            libc.threadExit(t);
            threads.splice(threads.indexOf(t), 1);
          } else if (live.length > 0) {
            const i = o.pick % live.length;
            if (o.kind === "free") libc.free(live.splice(i, 1)[0]!);
            else {
              const q = libc.realloc(live[i]!, o.size);
              process.memory.fill(q, o.size, 0xcd);
              live[i] = q;
            }
          }
        }
        const detail = accountDetail(s);
        expect(detail.account.causes["other.anon"]).toBeUndefined();
        expect(detail.account.liveBlocks).toBe(live.length);
        const dry = pinsOf(s, detail).trim;
        if (dry === undefined) return; // nothing allocated yet
        const before = process.mm.rssAnon * 4096;
        libc.mallocTrim(0);
        expect(dry.rssDrop).toBe(before - process.mm.rssAnon * 4096);
      }),
      { numRuns: 150 },
    );
  });
});
