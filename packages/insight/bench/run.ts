/**
 * Benchmark of @mem/insight: the cost of one account (every resident byte by cause) of a
 * stack after a CPython-like workload: 200,000 small objects (pymalloc), 2,000 raw blocks of
 * 1-20 KB and 20 mmapped ones (glibc), then 90% of everything freed in scattered order. The
 * baseline next to it is what the account cannot avoid: listing the resident pages
 * (os-vm's residentAnonPages) and glibc's own heap walk.
 * Run: npm run bench (BENCH_QUICK=1 for a shorter run).
 */
import { residentAnonPages } from "@mem/os-vm";
import type { GlibcMalloc } from "@mem/libc-malloc";
import { Bench } from "tinybench";
import { accountDetail, pinsOf } from "../src/index.js";
import { makeStack } from "../test/support.js";

const quick = process.env.BENCH_QUICK === "1";
const OBJECTS = quick ? 50_000 : 200_000;

const s = makeStack("default", "glibc", 1024);
const live: { domain: "obj" | "raw"; p: number }[] = [];
for (let i = 0; i < OBJECTS; i++) live.push({ domain: "obj", p: s.pymem.objectMalloc(16 + ((i * 7) % 30) * 16) });
for (let i = 0; i < 2000; i++) {
  const n = 1000 + ((i * 7919) % 19000);
  const p = s.pymem.rawMalloc(n);
  s.process.memory.fill(p, n, 1);
  live.push({ domain: "raw", p });
}
for (let i = 0; i < 20; i++) live.push({ domain: "raw", p: s.pymem.rawMalloc(200_000 + i * 4096) });
let seed = 12345;
const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
for (let i = live.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [live[i], live[j]] = [live[j]!, live[i]!];
}
for (const b of live.slice(0, Math.floor(live.length * 0.9))) s.pymem.free(b.domain, b.p);

const detail = accountDetail(s);
console.log(`stack: RssAnon ${(detail.account.rssAnon / 1048576).toFixed(1)} MiB, ${s.pymalloc!.narenasCurrentlyAllocated} arenas, ${(s.libc as GlibcMalloc).walkHeap().length} heap chunks`);

const bench = new Bench({ time: quick ? 300 : 2000 });
bench
  .add("baseline: residentAnonPages + glibc walkHeap", () => {
    residentAnonPages(s.process);
    (s.libc as GlibcMalloc).walkHeap();
  })
  .add("account (accountDetail)", () => {
    accountDetail(s);
  })
  .add("account + pins (accountDetail + pinsOf)", () => {
    pinsOf(s, accountDetail(s));
  });
await bench.run();
console.table(bench.table());
