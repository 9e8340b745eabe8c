/**
 * Benchmarks of @mem/os-vm: loads and stores through a process's page tables (TLB hits)
 * next to the same accesses on @mem/hardware's PhysicalMemory directly and on a raw
 * DataView; the cost of a page fault; mmap/munmap throughput.
 * Run: npm run bench (BENCH_QUICK=1 for a shorter run).
 */
import { Bench } from "tinybench";
import { PhysicalMemory } from "@mem/hardware";
import { Kernel, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../src/index.js";

const quick = process.env.BENCH_QUICK === "1";
const OPS = 1 << 16;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

const ram = new PhysicalMemory({ size: 256 * 1024 * 1024 });
const kernel = new Kernel({ ram });
const proc = kernel.createProcess();
const mem = proc.memory;

/** A 1 MiB working set (256 pages: all fit the TLB), every page touched. */
const SPAN = 1 << 20;
const base = proc.mmap(0, SPAN, RW, ANON);
for (let a = 0; a < SPAN; a += 8) mem.store64(base + a, a);

/** The physical address of every virtual page of the working set, for the direct-RAM baseline. */
const physOf = new Float64Array(SPAN / 4096);
for (let page = 0; page < SPAN / 4096; page++) {
  const vm = mem as unknown as { translate(address: number, write: boolean): number };
  physOf[page] = vm.translate(base + page * 4096, false);
}
const raw = new DataView(new ArrayBuffer(SPAN));
for (let a = 0; a < SPAN; a += 8) raw.setUint32(a, a, true);

function offsets(kind: "sequential" | "random", width: number): Float64Array {
  const out = new Float64Array(OPS);
  let seed = 12345;
  for (let i = 0; i < OPS; i++) {
    if (kind === "sequential") out[i] = (i * width) % SPAN;
    else {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      out[i] = ((seed % (SPAN / width)) >>> 0) * width;
    }
  }
  return out;
}
/** Virtual and physical addresses of the same accesses. */
function both(offs: Float64Array): { virt: Float64Array; phys: Float64Array } {
  const virt = new Float64Array(OPS);
  const phys = new Float64Array(OPS);
  for (let i = 0; i < OPS; i++) {
    const o = offs[i]!;
    virt[i] = base + o;
    phys[i] = physOf[Math.floor(o / 4096)]! + (o % 4096);
  }
  return { virt, phys };
}

let sink = 0;
const loadV32 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += mem.load32(a[i]!);
};
const loadP32 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += ram.load32(a[i]!);
};
const loadR32 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += raw.getUint32(a[i]!, true);
};
const loadV64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += mem.load64(a[i]!);
};
const loadP64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) sink += ram.load64(a[i]!);
};
const storeV64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) mem.store64(a[i]!, i);
};
const storeP64 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) ram.store64(a[i]!, i);
};
const storeV8 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) mem.store8(a[i]!, i & 0xff);
};
const storeP8 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) ram.store8(a[i]!, i & 0xff);
};
const storeR8 = (a: Float64Array) => () => {
  for (let i = 0; i < OPS; i++) raw.setUint8(a[i]!, i & 0xff);
};

type Case = { name: string; ours: () => void; baseline: () => void; baselineName: string; raw?: () => void };
const seq32 = both(offsets("sequential", 4));
const rnd32 = both(offsets("random", 4));
const seq64 = both(offsets("sequential", 8));
const rnd64 = both(offsets("random", 8));
const seq8 = both(offsets("sequential", 1));
const rawSeq32 = offsets("sequential", 4);
const rawRnd32 = offsets("random", 4);
const rawSeq8 = offsets("sequential", 1);

const cases: Case[] = [
  { name: "load32 sequential (TLB hit)", ours: loadV32(seq32.virt), baseline: loadP32(seq32.phys), baselineName: "PhysicalMemory", raw: loadR32(rawSeq32) },
  { name: "load32 random in 1 MiB (TLB hit)", ours: loadV32(rnd32.virt), baseline: loadP32(rnd32.phys), baselineName: "PhysicalMemory", raw: loadR32(rawRnd32) },
  { name: "load64 sequential (TLB hit)", ours: loadV64(seq64.virt), baseline: loadP64(seq64.phys), baselineName: "PhysicalMemory" },
  { name: "load64 random in 1 MiB (TLB hit)", ours: loadV64(rnd64.virt), baseline: loadP64(rnd64.phys), baselineName: "PhysicalMemory" },
  { name: "store64 sequential (TLB hit)", ours: storeV64(seq64.virt), baseline: storeP64(seq64.phys), baselineName: "PhysicalMemory" },
  { name: "store64 random in 1 MiB (TLB hit)", ours: storeV64(rnd64.virt), baseline: storeP64(rnd64.phys), baselineName: "PhysicalMemory" },
  { name: "store8 sequential (TLB hit)", ours: storeV8(seq8.virt), baseline: storeP8(seq8.phys), baselineName: "PhysicalMemory", raw: storeR8(rawSeq8) },
];

const time = quick ? 150 : 400;
const rows: string[] = [];
for (const c of cases) {
  const bench = new Bench({ time, warmup: true, warmupTime: 100 });
  bench.add("ours", c.ours).add("baseline", c.baseline);
  if (c.raw) bench.add("raw", c.raw);
  await bench.run();
  const ns = (name: string): number => {
    const task = bench.tasks.find((t) => t.name === name);
    const r = task?.result as { latency?: { mean: number } } | undefined;
    return ((r?.latency?.mean ?? NaN) * 1e6) / OPS;
  };
  const ours = ns("ours");
  const baseline = ns("baseline");
  const rawNs = c.raw ? ns("raw") : NaN;
  rows.push(
    `${c.name.padEnd(36)} ${ours.toFixed(2).padStart(7)} ns/op   ${c.baselineName} ${baseline.toFixed(2).padStart(6)} ns/op  ratio ${(ours / baseline).toFixed(2)}x` +
      (c.raw ? `   DataView ${rawNs.toFixed(2).padStart(6)} ns/op  ratio ${(ours / rawNs).toFixed(2)}x` : ""),
  );
}

// ---- page faults and system calls ---------------------------------------------------------
const FAULT_PAGES = 1024;
const faultBench = new Bench({ time, warmup: true, warmupTime: 100 });
faultBench.add("write fault (new zeroed frame)", () => {
  const p = proc.mmap(0, FAULT_PAGES * 4096, RW, ANON);
  for (let i = 0; i < FAULT_PAGES; i++) mem.store8(p + i * 4096, 1);
  proc.munmap(p, FAULT_PAGES * 4096);
});
faultBench.add("read fault (zero page)", () => {
  const p = proc.mmap(0, FAULT_PAGES * 4096, RW, ANON);
  for (let i = 0; i < FAULT_PAGES; i++) sink += mem.load8(p + i * 4096);
  proc.munmap(p, FAULT_PAGES * 4096);
});
faultBench.add("mmap+munmap 4 KiB", () => {
  for (let i = 0; i < 256; i++) proc.munmap(proc.mmap(0, 4096, RW, ANON), 4096);
});
faultBench.add("mmap 256 x 64 KiB then munmap", () => {
  const ps: number[] = [];
  for (let i = 0; i < 256; i++) ps.push(proc.mmap(0, 65536, RW, ANON));
  for (const p of ps) proc.munmap(p, 65536);
});
await faultBench.run();
const perOp = (name: string, ops: number): string => {
  const task = faultBench.tasks.find((t) => t.name === name);
  const r = task?.result as { latency?: { mean: number } } | undefined;
  return `${((((r?.latency?.mean ?? NaN) * 1e3) / ops)).toFixed(2)} µs/op`;
};
rows.push("");
rows.push(`write fault (mmap, touch 1024 pages, munmap)  ${perOp("write fault (new zeroed frame)", FAULT_PAGES)} per page`);
rows.push(`read fault  (zero page, 1024 pages)           ${perOp("read fault (zero page)", FAULT_PAGES)} per page`);
rows.push(`mmap+munmap 4 KiB                             ${perOp("mmap+munmap 4 KiB", 256)} per pair`);
rows.push(`mmap 64 KiB x256 then munmap x256             ${perOp("mmap 256 x 64 KiB then munmap", 256)} per pair`);

console.log(rows.join("\n"));
if (sink === 0.5) console.log(sink);
