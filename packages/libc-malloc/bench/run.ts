/**
 * Benchmarks of @mem/libc-malloc: malloc/free throughput with 100, 10,000 and 1,000,000 live
 * blocks on a mix of sizes, each next to @thi.ng/malloc (a TypeScript malloc over one flat
 * ArrayBuffer) on the same pattern. Every access of ours goes through the os-vm tier's page
 * tables and TLB. Each case runs in its own Node process (bench/case.ts) so that no allocator's
 * JIT profile disturbs another's. Run: npm run bench (BENCH_QUICK=1 skips the 1M case).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const quick = process.env.BENCH_QUICK === "1";
const counts = quick ? [100, 10_000] : [100, 10_000, 1_000_000];
const ours = ["glibc", "tlsf"] as const;
const names: Record<string, string> = { glibc: "GlibcMalloc", tlsf: "TlsfMalloc", thing: "@thi.ng/malloc" };
const caseFile = fileURLToPath(new URL("./case.ts", import.meta.url));

function measure(kind: string, live: number): { nsPerOp: number; fillMs: number } {
  const out = execFileSync(process.execPath, ["--import", "tsx", caseFile, kind, String(live)], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!) as { nsPerOp: number; fillMs: number };
}

console.log("| live blocks | allocator | ns per malloc or free | @thi.ng/malloc | ratio (thi.ng time / ours) |");
console.log("|---:|---|---:|---:|---:|");
for (const live of counts) {
  const base = measure("thing", live);
  for (const kind of ours) {
    const r = measure(kind, live);
    console.log(
      `| ${live.toLocaleString("en-US")} | ${names[kind]} | ${r.nsPerOp.toFixed(0)} ns | ${base.nsPerOp.toFixed(0)} ns | ${(base.nsPerOp / r.nsPerOp).toFixed(2)}x |`,
    );
  }
}
