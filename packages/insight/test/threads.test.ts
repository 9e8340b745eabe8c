/**
 * Thread arenas in the account and the pins: a thread heap's bytes go to glibc's causes
 * (heap_info, the arena's malloc_state, chunk headers, in-use, bins, tcache, top), never to
 * other.anon, and the malloc_trim(0) dry run covers every arena as glibc 2.36's mtrim does
 * (free chunks' pages madvised in each arena, only main_arena's top trimmed).
 */
import { describe, expect, it } from "vitest";
import type { GlibcMalloc } from "@mem/libc-malloc";
import { accountDetail, pinsOf } from "../src/index.js";
import { makeStack } from "./support.js";

/** libc-malloc's test/fixtures/thread-trim.c: main and two threads, 20 blocks of 40,000 bytes each, every other one freed. */
function threadTrim() {
  const s = makeStack("malloc");
  const libc = s.libc as GlibcMalloc;
  const pattern = () => {
    const b: number[] = [];
    for (let i = 0; i < 20; i++) {
      b.push(libc.malloc(40000));
      s.process.memory.fill(b[i]!, 40000, 1);
    }
    for (let i = 0; i < 20; i += 2) libc.free(b[i]!);
    return b;
  };
  pattern();
  for (const thread of [2, 3]) {
    libc.setThread(thread);
    const b = pattern();
    libc.free(b[19]!);
    libc.free(b[17]!);
    libc.malloc(100); // a chunk left in the thread's tcache
    libc.free(libc.malloc(100));
  }
  libc.setThread(1);
  return { s, libc };
}

describe("insight with thread arenas", () => {
  it("the account gives every byte of the thread heaps a glibc cause and still sums to RssAnon", () => {
    const { s } = threadTrim();
    const { account } = accountDetail(s);
    expect(account.causes["other.anon"]).toBeUndefined();
    expect(account.causes["glibc.heap-info"]).toBe(2 * 0x30);
    expect(account.causes["glibc.arena"]).toBe(2 * 0x8a0); // malloc_state 0x898 and 8 bytes of alignment
    expect(account.causes["glibc.tcache-struct"]).toBe(3 * 0x288);
    expect(account.causes["glibc.tcache"]).toBeGreaterThan(0);
    expect(account.liveBlocks).toBe(3 * 10 - 4 + 2);
  });

  it("the malloc_trim(0) dry run predicts the RssAnon drop of mallocTrim(0) over all arenas", () => {
    const { s, libc } = threadTrim();
    const dry = pinsOf(s, accountDetail(s)).trim!;
    const before = s.process.mm.rssAnon * 4096;
    libc.mallocTrim(0);
    const after = s.process.mm.rssAnon * 4096;
    expect(dry.rssDrop).toBe(before - after);
    expect(before - after).toBeGreaterThan(2 * 288 * 1024);
  });
});
