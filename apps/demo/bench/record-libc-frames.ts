/**
 * The cost of C call sites in recordings (`record --libc --frames N`): an allocation-heavy C
 * program (1,000,000 calls from two call sites, compiled -O2 -g) and `sort` on 200,000 lines,
 * run plainly and under the LD_PRELOAD shim with 0, 1 and 5 frames; wall time, best of 3,
 * the trace size, and the time symbolize.ts takes to rewrite the 5-frame trace.
 *
 *   node --import tsx bench/record-libc-frames.ts
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { libcShim } from "../src/record/helpers.js";
import { symbolizeTrace } from "../src/record/symbolize.js";

const HEAVY = `#include <stdlib.h>
__attribute__((noinline)) void *leaf(size_t n) { void *p = malloc(n); return p; }
int main(void) {
  static void *keep[1024];
  for (int i = 0; i < 500000; i++) {
    int k = i & 1023;
    free(keep[k]);
    keep[k] = (i % 3) ? leaf(16 + i % 200) : malloc(32);
  }
  return 0;
}
`;

const shim = await libcShim();
const dir = mkdtempSync(join(tmpdir(), "record-libc-frames-"));
try {
  const src = join(dir, "heavy.c");
  writeFileSync(src, HEAVY);
  const heavy = join(dir, "heavy");
  execFileSync("gcc", ["-O2", "-g", "-o", heavy, src]);
  const words = join(dir, "words.txt");
  writeFileSync(words, Array.from({ length: 200_000 }, (_, i) => `w${(i * 7919) % 200_000}\n`).join(""));
  const programs: [string, string[]][] = [
    ["heavy (1,000,000 calls)", [heavy]],
    ["sort 200,000 lines", ["sort", "--parallel=1", words]],
  ];
  const best = (run: () => void): number => {
    let min = Infinity;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      run();
      min = Math.min(min, performance.now() - t);
    }
    return Math.round(min);
  };
  console.log("| program | plain (ms) | no frames (ms) | 1 frame (ms) | 5 frames (ms) | trace size none → 5 frames | symbolising (ms) |");
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const [name, [cmd, ...args]] of programs) {
    const env = { ...process.env, LC_ALL: "C" };
    const plain = best(() => spawnSync(cmd!, args, { env, stdio: "ignore" }));
    const times: number[] = [];
    const sizes: number[] = [];
    let last = "";
    for (const frames of [0, 1, 5]) {
      const out = join(dir, `t${frames}.memtrace`);
      times.push(
        best(() => {
          rmSync(out, { force: true });
          spawnSync(cmd!, args, { env: { ...env, LD_PRELOAD: shim, MEMTRACE_OUT: out, MEMTRACE_LIBC_FRAMES: String(frames) }, stdio: "ignore" });
        }),
      );
      sizes.push(statSync(out).size);
      last = out;
    }
    const t = performance.now();
    await symbolizeTrace(last);
    const symbolising = Math.round(performance.now() - t);
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    console.log(`| ${name} | ${plain} | ${times[0]} | ${times[1]} | ${times[2]} | ${mb(sizes[0]!)} → ${mb(sizes[2]!)} | ${symbolising} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
