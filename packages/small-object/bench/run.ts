/**
 * Benchmark of @mem/small-object: malloc/free throughput of the workload in workload.ts
 * (100,000 live blocks, a CPython-like size mix, 200,000 free+malloc pairs of churn) through
 * the simulated pymalloc and the tiers beneath it, next to native CPython 3.11 pymalloc
 * running the same sequence (test/native/pymalloc_probe.c, built when gcc and Python's
 * headers are present; skipped with a message otherwise).
 * Each case runs in a child process of its own (see below).
 * Run: npm run bench (BENCH_QUICK=1 for a shorter run).
 */
import { PhysicalMemory } from "@mem/hardware";
import { Kernel } from "@mem/os-vm";
import { createPyMem } from "@mem/pymem";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";
import { Pymalloc } from "../src/index.js";
import { makeHost } from "../test/helpers/host.js";
import { GlibcMalloc } from "@mem/libc-malloc";
import { benchProbe, buildProbe } from "../test/native/probe.js";
import { bareHost } from "./bare-memory.js";
import { minimalAllocator } from "./js-floor.js";
import { makePlan, runPlan, type Target } from "./workload.js";

const quick = process.env.BENCH_QUICK === "1";
const LIVE = 100_000;
const CHURN = quick ? 50_000 : 200_000;
const OPS = 2 * LIVE + 2 * CHURN;

interface Case {
  name: string;
  make: () => Target;
}

const cases: Case[] = [
  {
    name: "reference, not pymalloc: the smallest pymalloc-shaped allocator over one Uint32Array (bench/js-floor.ts)",
    make: () => minimalAllocator(),
  },
  {
    name: "pymalloc (3.11) alone: over bare DataView memory (bench/bare-memory.ts), bump raw allocator",
    make: () => {
      const pm = new Pymalloc(bareHost());
      return { malloc: (n) => pm.malloc(n), free: (p) => pm.free(p) };
    },
  },
  {
    name: "pymalloc (3.11) alone, validateFrees: false (CPython's own checks only)",
    make: () => {
      const pm = new Pymalloc(bareHost(), { validateFrees: false });
      return { malloc: (n) => pm.malloc(n), free: (p) => pm.free(p) };
    },
  },
  {
    name: "PyObject_Malloc/Free: pymem -> pymalloc (-> glibc malloc for > 512 B) -> os-vm process (page tables, demand paging) -> RAM",
    make: () => {
      const process = new Kernel({ ram: new PhysicalMemory({ size: 1 << 30 }) }).createProcess();
      const py = createPyMem({ process, libc: new GlibcMalloc(process), smallObject: (host) => new Pymalloc(host).allocator });
      return { malloc: (n) => py.objectMalloc(n), free: (p) => py.objectFree(p) };
    },
  },
  {
    name: "pymalloc over PhysicalMemory used as a flat address space (test/helpers/host.ts), no page tables",
    make: () => {
      const pm = new Pymalloc(makeHost());
      return { malloc: (n) => pm.malloc(n), free: (p) => pm.free(p) };
    },
  },
  {
    name: "pymalloc (3.8 geometry) alone, bare DataView memory",
    make: () => {
      const pm = new Pymalloc(bareHost(), { version: "3.8" });
      return { malloc: (n) => pm.malloc(n), free: (p) => pm.free(p) };
    },
  },
];

// CPU time of this process (user + system), not wall time: the figures then hold on a machine
// shared with other jobs. The native probe measures CLOCK_PROCESS_CPUTIME_ID the same way.
const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Runs case `index` in this process and prints its best time per call as JSON. */
async function runCase(index: number): Promise<void> {
  const c = cases[index]!;
  const bench = new Bench({ iterations: quick ? 1 : 4, time: 0, warmup: !quick, warmupIterations: 1, warmupTime: 0, now: cpuNow });
  const plan = makePlan(LIVE, CHURN);
  let target: Target | null = null;
  bench.add(c.name, () => void runPlan(target!, plan), { beforeEach: () => void (target = c.make()) });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== "completed") throw new Error(`${c.name}: ${r.state}`);
  console.log(JSON.stringify({ ns: (r.latency.min * 1e6) / OPS, samples: r.latency.samplesCount })); // best run, like the native figure
}

const caseArgument = process.argv[2];
if (caseArgument !== undefined) {
  await runCase(Number(caseArgument));
} else {
  let native: number | null = null;
  const built = buildProbe("3.11");
  if ("skip" in built) console.log(`native CPython pymalloc baseline skipped: ${built.skip}`);
  else native = benchProbe(built.exe, quick ? 3 : 10, LIVE, CHURN);

  console.log(`\nworkload: ${LIVE.toLocaleString("en")} live blocks, ${CHURN.toLocaleString("en")} churn pairs = ${OPS.toLocaleString("en")} calls`);
  console.log(native === null ? "native: n/a" : `native CPython 3.11 pymalloc (best run, CPU time): ${native.toFixed(1)} ns/call`);
  console.log("");
  // Each case runs in a process of its own: in one process, the engine's type feedback for
  // one memory implementation would slow the code down for the others, which no user sees.
  for (let index = 0; index < cases.length; index++) {
    const output = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), String(index)], { encoding: "utf8" });
    const { ns, samples } = JSON.parse(output.trim().split("\n").at(-1)!) as { ns: number; samples: number };
    const ratio = native === null ? "" : `  ratio ${(ns / native).toFixed(1)}x native (${native.toFixed(1)} ns)`;
    console.log(`${cases[index]!.name}\n  ${ns.toFixed(1)} ns/call (best of ${samples}), ${(1e9 / ns / 1e6).toFixed(2)} M calls/s${ratio}`);
  }
}
