/**
 * The cost of threads in GlibcMalloc: the same malloc/free pattern (sizes 16..2000, 1,000
 * blocks live per thread) run on the main thread only, then on 4 threads that take turns every
 * `burst` calls (each with its own tcache and arena, as glibc), and the cost of a thread switch
 * alone. Run: node --import tsx bench/threads.ts
 */
import { PhysicalMemory } from "@mem/hardware";
import { Kernel } from "@mem/os-vm";
import { GlibcMalloc } from "../src/index.js";

function run(threads: number, burst: number, ops: number): number {
  const process = new Kernel({ ram: new PhysicalMemory({ size: 512 * 1024 * 1024 }) }).createProcess();
  const libc = new GlibcMalloc(process, { tcacheKey: 1 });
  const live: number[][] = Array.from({ length: threads }, () => new Array<number>(1000).fill(0));
  let seed = 1;
  const start = performance.now();
  for (let i = 0; i < ops; i++) {
    const t = Math.floor(i / burst) % threads;
    if (threads > 1 && i % burst === 0) libc.setThread(t + 1);
    seed = (seed * 1103515245 + 12345) >>> 0;
    const slot = seed % 1000;
    const mine = live[t]!;
    if (mine[slot] !== 0) libc.free(mine[slot]!);
    mine[slot] = libc.malloc(16 + (seed >>> 16) % 1985);
  }
  return ((performance.now() - start) * 1e6) / ops;
}

const ops = 1_000_000;
run(1, 1, 200_000); // warm-up
run(4, 16, 200_000);
console.log("| pattern | ns per malloc or free |");
console.log("|---|---:|");
console.log(`| main thread only | ${(run(1, 1, ops) / 2).toFixed(0)} |`);
for (const burst of [1000, 16, 1]) console.log(`| 4 threads, switching every ${burst} calls | ${(run(4, burst, ops) / 2).toFixed(0)} |`);
