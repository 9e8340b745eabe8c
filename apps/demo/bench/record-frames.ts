/**
 * The cost of source locations in recordings: each program of test/fixtures/source-programs
 * (and an allocation-heavy one with a deep stack) run plainly, under the CPython recorder
 * without tracebacks (--frames 0), and with 1 and 5 frames; wall time, best of 3, and the
 * trace size. The aim: one frame costs at most 2x the recording without.
 *
 *   node --import tsx bench/record-frames.ts
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pythonBuild, pythonRecorder } from "../src/record/helpers.js";

const HEAVY = `
def leaf(i):
    return {"k": str(i), "v": [i, i + 1], "t": (i, float(i))}
def mid(i):
    return leaf(i)
def top(n):
    out = []
    for i in range(n):
        out.append(mid(i))
        if len(out) > 1000:
            out = out[500:]
    return out
keep = top(200000)
`;
const PROGRAMS = ["nodes", "jsonmemo", "closures", "threads", "slots", "textproc"];

const build = await pythonBuild("python3");
const recorder = await pythonRecorder(build);
const dir = mkdtempSync(join(tmpdir(), "record-frames-"));
try {
  const scripts: [string, string][] = PROGRAMS.map((p) => {
    const path = join(dir, `${p}.py`);
    copyFileSync(fileURLToPath(new URL(`../test/fixtures/source-programs/${p}.py`, import.meta.url)), path);
    return [p, path];
  });
  writeFileSync(join(dir, "heavy.py"), HEAVY);
  scripts.push(["heavy (deep stack, 1.4 M calls)", join(dir, "heavy.py")]);

  const time = (cmd: string, args: string[], env: NodeJS.ProcessEnv): number => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
      const t = performance.now() - start;
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${String(r.stderr)}`);
      best = Math.min(best, t);
    }
    return best;
  };
  const rows: string[] = ["| program | plain python3 (ms) | recorded, no frames (ms) | 1 frame (ms) | 5 frames (ms) | 1 frame / none | trace size none → 1 frame |", "|---|---:|---:|---:|---:|---:|---:|"];
  for (const [name, path] of scripts) {
    const env = { ...process.env, PYTHONHASHSEED: "0" };
    const trace = join(dir, "t.memtrace");
    const stats = join(dir, "t.stats");
    const plain = time(build.executable, [path], env);
    const none = time(recorder, [trace, stats, build.executable, path], { ...env, MEMTRACE_FRAMES: "0" });
    const sizeNone = statSync(trace).size;
    const one = time(recorder, [trace, stats, build.executable, path], { ...env, MEMTRACE_FRAMES: "1" });
    const sizeOne = statSync(trace).size;
    const five = time(recorder, [trace, stats, build.executable, path], { ...env, MEMTRACE_FRAMES: "5" });
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    rows.push(`| ${name} | ${plain.toFixed(0)} | ${none.toFixed(0)} | ${one.toFixed(0)} | ${five.toFixed(0)} | ${(one / none).toFixed(2)}x | ${mb(sizeNone)} → ${mb(sizeOne)} |`);
    console.log(rows.at(-1));
  }
  console.log(`\n${rows.join("\n")}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
