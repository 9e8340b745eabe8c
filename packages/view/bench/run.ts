/**
 * Benchmark of @mem/view: drawing the heap map of a heap of 100,000 chunks (aggregated to the
 * default budget of 4,000 shapes) and of 2,000 chunks (one shape a chunk), next to a baseline
 * that only serialises the same data (JSON.stringify): the floor any picture of it costs.
 * Run: npm run bench (BENCH_QUICK=1 for a shorter run).
 */
import { Bench } from "tinybench";
import { renderHeapMap, type ChunkCell, type HeapMapData } from "../src/index.js";

const quick = process.env.BENCH_QUICK === "1";
const STATES: ChunkCell["state"][] = ["in-use", "in-use", "in-use", "tcache", "fastbin", "small", "unsorted", "large"];

function heap(n: number): HeapMapData {
  const chunks: ChunkCell[] = [];
  let at = 0x555555559000;
  for (let i = 0; i < n; i++) {
    const size = 32 + ((i * 7) % 40) * 16;
    chunks.push({ address: at, size, state: STATES[(i * 31) % STATES.length]! });
    at += size;
  }
  chunks.push({ address: at, size: 135168, state: "top" });
  return { allocator: "glibc", heapStart: 0x555555559000, heapEnd: at + 135168, chunks, mmapped: [] };
}

const big = heap(100_000);
const small = heap(2_000);
const bench = new Bench({ time: quick ? 200 : 1500, warmupTime: quick ? 50 : 300 });
bench
  .add("baseline: JSON.stringify of 100,000 chunks", () => void JSON.stringify(big))
  .add("renderHeapMap: 100,000 chunks (aggregated to 4,000 shapes)", () => void renderHeapMap(big))
  .add("baseline: JSON.stringify of 2,000 chunks", () => void JSON.stringify(small))
  .add("renderHeapMap: 2,000 chunks (one shape a chunk)", () => void renderHeapMap(small));
await bench.run();
for (const t of bench.tasks) {
  const r = t.result;
  if (r.state !== "completed") throw new Error(`${t.name}: ${r.state}`);
  console.log(`${t.name.padEnd(64)} ${r.latency.mean.toFixed(2).padStart(9)} ms`);
}
