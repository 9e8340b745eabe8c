/**
 * Benchmarks of @mem/pymem: what domain dispatch adds per call, and what the debug hooks and
 * tracemalloc add, each next to its baseline (the same allocator without that layer).
 * Run: npm run bench (BENCH_QUICK=1 for a shorter run). Allocators beneath are this package's
 * test doubles (test/support), so the figures isolate the PyMem layer itself.
 */
import { Bench } from "tinybench";
import { createPyMem, Tracemalloc, type PyMem, type PyMemAllocatorEx, type PythonMallocPreset } from "../src/index.js";
import { SimLibc } from "../test/support/sim-libc.js";
import { SimProcess } from "../test/support/sim-process.js";
import { testSmallObject } from "../test/support/test-small-object.js";

const quick = process.env.BENCH_QUICK === "1";
const BATCH = 64;
const ROUNDS = 32;
/** malloc + free pairs per measured iteration. */
const PAIRS = BATCH * ROUNDS;

function stack(preset: PythonMallocPreset): { py: PyMem; libc: SimLibc } {
  const process = new SimProcess();
  const libc = new SimLibc(process);
  return { py: createPyMem({ process, libc, pythonMalloc: preset, smallObject: testSmallObject() }), libc };
}

/** A trivial allocator (a LIFO of fixed addresses, touching no memory): makes dispatch cost visible. */
interface Lifo {
  slots: Float64Array;
  top: number;
}
function trivialAllocator(): PyMemAllocatorEx<Lifo> {
  const slots = new Float64Array(BATCH * 2);
  for (let i = 0; i < slots.length; i++) slots[i] = 0x7f00_0000_0000 + i * 64;
  return {
    ctx: { slots, top: slots.length },
    malloc: (c, _n) => c.slots[--c.top]!,
    calloc: (c, _a, _b) => c.slots[--c.top]!,
    realloc: (_c, p, _n) => p,
    free: (c, p) => {
      c.slots[c.top++] = p;
    },
  };
}

const ptrs = new Float64Array(BATCH);
let sink = 0;

/** `PyMem_Malloc(size)` x BATCH then `PyMem_Free` x BATCH, ROUNDS times. */
const viaPyMem = (py: PyMem, size: number) => () => {
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < BATCH; i++) ptrs[i] = py.memMalloc(size);
    for (let i = 0; i < BATCH; i++) py.memFree(ptrs[i]!);
  }
};
/** The same calls straight into an allocator record (no wrapper, no slot). */
const direct = (a: PyMemAllocatorEx, size: number) => () => {
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < BATCH; i++) ptrs[i] = a.malloc(a.ctx, size);
    for (let i = 0; i < BATCH; i++) a.free(a.ctx, ptrs[i]!);
  }
};
/** `PyMem_Realloc` growing then shrinking each block. */
const reallocs = (py: PyMem) => () => {
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < BATCH; i++) ptrs[i] = py.memMalloc(64);
    for (let i = 0; i < BATCH; i++) ptrs[i] = py.memRealloc(ptrs[i]!, 200);
    for (let i = 0; i < BATCH; i++) ptrs[i] = py.memRealloc(ptrs[i]!, 48);
    for (let i = 0; i < BATCH; i++) py.memFree(ptrs[i]!);
  }
  sink += ptrs[0]!;
};

type Case = { name: string; ours: [string, () => void]; baseline: [string, () => void] };
const cases: Case[] = [];

{
  const { py } = stack("malloc");
  const trivial = trivialAllocator();
  py.setAllocator("mem", trivial);
  cases.push({
    name: "dispatch over a trivial allocator",
    ours: ["PyMem_Malloc/Free", viaPyMem(py, 64)],
    baseline: ["record called directly", direct(trivial, 64)],
  });
}
{
  const { py } = stack("default");
  cases.push({
    name: "dispatch, default preset, 64 B (small-object double)",
    ours: ["PyMem_Malloc/Free", viaPyMem(py, 64)],
    baseline: ["record called directly", direct(py.getAllocator("mem"), 64)],
  });
}
{
  const { py } = stack("malloc");
  cases.push({
    name: "dispatch, malloc preset, 64 B (libc double)",
    ours: ["PyMem_Malloc/Free", viaPyMem(py, 64)],
    baseline: ["record called directly", direct(py.getAllocator("mem"), 64)],
  });
}
for (const [size, label] of [
  [64, "64 B"],
  [1000, "1000 B"],
] as const) {
  cases.push({
    name: `debug hooks, pymalloc_debug vs default, ${label}`,
    ours: ["with hooks", viaPyMem(stack("pymalloc_debug").py, size)],
    baseline: ["without", viaPyMem(stack("default").py, size)],
  });
  cases.push({
    name: `debug hooks, malloc_debug vs malloc, ${label}`,
    ours: ["with hooks", viaPyMem(stack("malloc_debug").py, size)],
    baseline: ["without", viaPyMem(stack("malloc").py, size)],
  });
}
cases.push({
  name: "debug hooks, realloc 64 -> 200 -> 48 (malloc_debug vs malloc)",
  ours: ["with hooks", reallocs(stack("malloc_debug").py)],
  baseline: ["without", reallocs(stack("malloc").py)],
});
{
  const traced = stack("default").py;
  const tm = new Tracemalloc(traced);
  tm.setTraceback([{ filename: "bench.py", lineno: 1 }]);
  tm.start(1);
  cases.push({
    name: "tracemalloc tracing, default preset, 64 B",
    ours: ["traced", viaPyMem(traced, 64)],
    baseline: ["not traced", viaPyMem(stack("default").py, 64)],
  });
}

const bench = new Bench({ time: quick ? 100 : 300, warmupTime: quick ? 50 : 100 });
for (const c of cases) {
  bench.add(`${c.name} | ${c.ours[0]}`, c.ours[1]);
  bench.add(`${c.name} | ${c.baseline[0]}`, c.baseline[1]);
}
await bench.run();

/** Nanoseconds per malloc+free pair. */
const nsPerPair = (name: string): number => {
  const result = bench.getTask(name)?.result;
  if (!result || !("throughput" in result)) throw new Error(`no result for ${name}`);
  return 1e9 / (result.throughput.mean * PAIRS);
};
console.table(
  cases.map((c) => {
    const ours = nsPerPair(`${c.name} | ${c.ours[0]}`);
    const base = nsPerPair(`${c.name} | ${c.baseline[0]}`);
    return {
      case: c.name,
      ours: `${c.ours[0]}: ${ours.toFixed(1)} ns`,
      baseline: `${c.baseline[0]}: ${base.toFixed(1)} ns`,
      "ours / baseline (time)": (ours / base).toFixed(2),
      "added per pair": `${(ours - base).toFixed(1)} ns`,
    };
  }),
);
if (sink === 42) console.log("");
