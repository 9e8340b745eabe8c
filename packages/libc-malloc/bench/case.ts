/**
 * One benchmark case in its own process (so every allocator gets a clean, monomorphic JIT):
 *   node --import tsx bench/case.ts <glibc|tlsf|thing> <live blocks>
 * Prints one JSON line: { allocator, live, nsPerOp, fillMs }, nsPerOp measured with tinybench.
 */
import { PhysicalMemory } from "@mem/hardware";
import { Kernel } from "@mem/os-vm";
import { MemPool } from "@thi.ng/malloc";
import { Bench } from "tinybench";
import { GlibcMalloc, TlsfMalloc } from "../src/index.js";

const STEPS = 1 << 14;

/** The size mix: 70% 8..127 bytes, 25% 128..1151, 5% 1024..4093 (all below the mmap threshold). */
function sizes(count: number, seed: number): Float64Array {
  const out = new Float64Array(count);
  let s = seed;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const k = s % 100;
    const r = (s >>> 8) % 1024;
    out[i] = k < 70 ? 8 + (r % 120) : k < 95 ? 128 + r : 1024 + r * 3;
  }
  return out;
}

interface Allocator {
  malloc(n: number): number;
  free(p: number): void;
}

function make(kind: string, live: number): Allocator {
  const heapBytes = Math.max(16 << 20, live * 700);
  if (kind === "thing") {
    const pool = new MemPool({ size: heapBytes });
    return { malloc: (n) => pool.malloc(n), free: (p) => void pool.free(p) };
  }
  const ram = Math.ceil((heapBytes * 1.5) / (1 << 20)) * (1 << 20);
  const proc = new Kernel({ ram: new PhysicalMemory({ size: ram }) }).createProcess();
  if (kind === "glibc") return new GlibcMalloc(proc);
  if (kind === "tlsf") return new TlsfMalloc(proc);
  throw new Error(`unknown allocator ${kind}`);
}

const [kind = "glibc", liveText = "100"] = process.argv.slice(2);
const live = Number(liveText);
const a = make(kind, live);
const t0 = performance.now();
const slots = new Float64Array(live);
const fill = sizes(live, 7);
for (let i = 0; i < live; i++) {
  const p = a.malloc(fill[i]!);
  if (p === 0) throw new Error(`allocation ${i} of ${fill[i]} failed`);
  slots[i] = p;
}
const fillMs = performance.now() - t0;
const next = sizes(STEPS, 99);
const victims = new Uint32Array(STEPS);
let s = 5;
for (let i = 0; i < STEPS; i++) {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  victims[i] = s % live;
}
/** `count` steps from `from`: free a pseudo-random live block and allocate a new one in its slot. */
function steps(from: number, count: number): void {
  for (let j = from; j < from + count; j++) {
    const i = j & (STEPS - 1);
    const v = victims[i]!;
    a.free(slots[v]!);
    const p = a.malloc(next[i]!);
    if (p === 0) throw new Error("out of memory");
    slots[v] = p;
  }
}
const BATCH = kind === "thing" && live >= 100_000 ? 4 : 256;
const budget = live >= 1_000_000 ? 3000 : 1500;
let done = 0;
// tinybench on a CPU-time clock (user + system of this process): other processes on a shared
// machine then disturb the figures much less than a wall clock would.
const cpuNow = (): number => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};
const bench = new Bench({ time: budget, iterations: 4, warmupIterations: 2, now: cpuNow });
bench.add(`${kind} ${live}`, () => {
  steps(done, BATCH);
  done += BATCH;
});
await bench.run();
const result = bench.tasks[0]?.result;
if (result === undefined || !("latency" in result)) throw new Error(`benchmark ${kind} ${live} did not complete`);
const nsPerOp = (result.latency.mean * 1e6) / (BATCH * 2);
console.log(JSON.stringify({ allocator: kind, live, nsPerOp, fillMs }));
