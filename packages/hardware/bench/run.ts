/**
 * Benchmarks of @mem/hardware: loads and stores through PhysicalMemory next to a raw
 * DataView over one ArrayBuffer of the same size (the JavaScript ceiling).
 * Run: npm run bench (BENCH_QUICK=1 for a shorter run).
 */
import { Bench } from "tinybench";
import { PhysicalMemory } from "../src/index.js";

const SIZE = 64 * 1024 * 1024;
const OPS = 1 << 16;
const quick = process.env.BENCH_QUICK === "1";

const ram = new PhysicalMemory({ size: SIZE });
const raw = new DataView(new ArrayBuffer(SIZE));
// Materialise every frame first so both sides run over backed memory.
// Every 64-bit word holds a small value, so that 64-bit loads stay below 2^53.
for (let a = 0; a < SIZE; a += 8) {
  ram.store64(a, a);
  raw.setUint32(a, a, true);
}

/** Loads read the upper half of RAM and stores write the lower half, so loaded words stay small. */
function addresses(kind: "sequential" | "random", width: number, base: number): Float64Array {
  const out = new Float64Array(OPS);
  const span = SIZE / 2;
  let seed = 12345;
  for (let i = 0; i < OPS; i++) {
    if (kind === "sequential") out[i] = base + ((i * width) % span);
    else {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      out[i] = base + ((seed % (span / width)) >>> 0) * width;
    }
  }
  return out;
}

let sink = 0;
type Case = { name: string; ours: () => void; baseline: () => void };

// One factory per operation, so that every measured loop has a single, monomorphic call site.
const load8 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += ram.load8(a[i]!);
};
const rawLoad8 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += raw.getUint8(a[i]!);
};
const load32 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += ram.load32(a[i]!);
};
const rawLoad32 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += raw.getUint32(a[i]!, true);
};
const load64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += ram.load64(a[i]!);
};
const rawLoad64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) {
    const at = a[i]!;
    sink += raw.getUint32(at, true) + raw.getUint32(at + 4, true) * 2 ** 32;
  }
};
const store8 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) ram.store8(a[i]!, i & 0xff);
};
const rawStore8 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) raw.setUint8(a[i]!, i & 0xff);
};
const store32 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) ram.store32(a[i]!, i);
};
const rawStore32 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) raw.setUint32(a[i]!, i, true);
};
const store64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) ram.store64(a[i]!, i * 3);
};
const rawStore64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) {
    const at = a[i]!;
    const v = i * 3;
    raw.setUint32(at, v >>> 0, true);
    raw.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
  }
};

const cases: Case[] = [];
for (const kind of ["sequential", "random"] as const) {
  const l1 = addresses(kind, 1, SIZE / 2);
  const l4 = addresses(kind, 4, SIZE / 2);
  const l8 = addresses(kind, 8, SIZE / 2);
  const s1 = addresses(kind, 1, 0);
  const s4 = addresses(kind, 4, 0);
  const s8 = addresses(kind, 8, 0);
  cases.push(
    { name: `load8 ${kind}`, ours: load8(l1), baseline: rawLoad8(l1) },
    { name: `load32 ${kind}`, ours: load32(l4), baseline: rawLoad32(l4) },
    { name: `load64 ${kind}`, ours: load64(l8), baseline: rawLoad64(l8) },
    { name: `store8 ${kind}`, ours: store8(s1), baseline: rawStore8(s1) },
    { name: `store32 ${kind}`, ours: store32(s4), baseline: rawStore32(s4) },
    { name: `store64 ${kind}`, ours: store64(s8), baseline: rawStore64(s8) },
  );
}

const bench = new Bench({ time: quick ? 100 : 400, warmupTime: quick ? 50 : 150 });
for (const c of cases) {
  bench.add(`${c.name} | PhysicalMemory`, c.ours);
  bench.add(`${c.name} | raw DataView`, c.baseline);
}
await bench.run();

const opsPerSecond = (name: string): number => {
  const task = bench.getTask(name);
  const result = task?.result;
  if (!result || !("throughput" in result)) throw new Error(`no result for ${name}: ${JSON.stringify(result)} ${String((result as { error?: unknown } | undefined)?.error)}`);
  return result.throughput.mean * OPS;
};
const rows = cases.map((c) => {
  const ours = opsPerSecond(`${c.name} | PhysicalMemory`);
  const base = opsPerSecond(`${c.name} | raw DataView`);
  return {
    case: c.name,
    "PhysicalMemory (Mops/s)": (ours / 1e6).toFixed(1),
    "raw DataView (Mops/s)": (base / 1e6).toFixed(1),
    "ours / baseline": (ours / base).toFixed(2),
  };
});
console.table(rows);
if (sink === 42) console.log("");
