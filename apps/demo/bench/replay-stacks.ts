/**
 * What source locations cost a replay (issue 13: "replay with stacks costs at most 20% more
 * than without"). The same trace is replayed with its stack records (`#F`/`#T`/`#S`/`#R`) and
 * without them (the same file with those lines removed), through the code path of
 * `mem-demo replay` (the stack from the trace's header, then replayFile: read, gunzip, parse,
 * replay), timing user CPU over N rounds, the two variants alternating in each round; the
 * table gives the best of the N and the ratio of the medians too (on a loaded machine the
 * best of a few runs of one side can be a lucky reading):
 *
 * - cold: the first replay in a fresh process (bench/replay-stacks-child.ts), as the command
 *   runs, with the command's own code (the built dist/) and settings; the replay's own CPU
 *   (the stack's construction excluded);
 * - warm: the median of the next few replays in that process (each variant in processes of its
 *   own: replaying both in one process makes each slow the other's JIT down);
 * - the whole `mem-demo replay` command (the built CLI): Node's and the modules' start-up included.
 *
 * Traces: a real recording with stacks (apps/demo/test/fixtures/report-stacks, `--frames 5`),
 * and a larger one made from it: the recording's body repeated 10 times, each copy with its own
 * pointers (offset by a multiple of 2^40) and its own frame and traceback ids, so that stack
 * records keep the share of lines they have in the recording.
 * Run: npm run bench (BENCH_QUICK=1 for fewer rounds), after a build (both the child and the
 * command run dist/); the figures go into the README.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";

const FIXTURE = fileURLToPath(new URL("../test/fixtures/report-stacks/sources.memtrace.gz", import.meta.url));
const CHILD = fileURLToPath(new URL("./replay-stacks-child.ts", import.meta.url));
const STACK_LINE = /^#[FTSR] /;
const COPIES = 10;
/** Replays after the first in each fresh process (their median is the warm figure). */
const WARM = 5;
const POINTER_STEP = 2 ** 40;

/** The recording's body repeated `copies` times, each copy with its own pointers and stack ids. */
export function repeatTrace(text: string, copies: number): string {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let bodyStart = 0;
  while (bodyStart < lines.length && (lines[bodyStart]!.startsWith("# ") || lines[bodyStart] === "# memtrace v1")) bodyStart++;
  let maxFrame = 0;
  let maxTraceback = 0;
  for (const line of lines) {
    if (line.startsWith("#F ")) maxFrame = Math.max(maxFrame, Number(line.split(" ")[1]));
    else if (line.startsWith("#T ")) maxTraceback = Math.max(maxTraceback, Number(line.split(" ")[1]));
  }
  const out = lines.slice(0, bodyStart);
  for (let k = 0; k < copies; k++) {
    const frame = (id: string) => String(Number(id) + k * maxFrame);
    const traceback = (id: string) => String(Number(id) + k * maxTraceback);
    const pointer = (p: string) => (p.startsWith("0x") && p !== "0x0" ? `0x${(Number.parseInt(p.slice(2), 16) + k * POINTER_STEP).toString(16)}` : p);
    for (let i = bodyStart; i < lines.length; i++) {
      const line = lines[i]!;
      if (k === 0) out.push(line);
      else if (line.startsWith("#F ")) {
        const [, id, lineno] = line.split(" ", 3);
        out.push(`#F ${frame(id!)} ${lineno!} ${line.slice(4 + id!.length + lineno!.length + 1)}`);
      } else if (line.startsWith("#T ")) {
        const [, id, total, ...frames] = line.split(" ");
        out.push(`#T ${traceback(id!)} ${total!} ${frames.map(frame).join(" ")}`);
      } else if (line.startsWith("#S ")) out.push(`#S ${traceback(line.slice(3))}`);
      else if (line.startsWith("#")) out.push(line.startsWith("#R ") ? `#R ${pointer(line.slice(3))}` : line);
      else out.push(line.split(" ").map(pointer).join(" "));
    }
  }
  return out.join("\n") + "\n";
}

interface Variant {
  readonly name: "without stacks" | "with stacks";
  readonly path: string;
}
interface Trace {
  readonly name: string;
  readonly lines: number;
  readonly stackRecords: number;
  readonly calls: number;
  readonly variants: readonly [Variant, Variant];
}

const DEMO = fileURLToPath(new URL("..", import.meta.url));
/** Prints the process's user CPU seconds to standard error as it exits (loaded with --import). */
const CPU_AT_EXIT = `data:text/javascript,process.on("exit",()=>process.stderr.write("cpu-at-exit "+process.cpuUsage().user/1e6+"\\n"))`;

/** A fresh process's first replay of `path` and the median of `warm` more (user CPU), and the calls replayed. */
function replays(path: string, warm: number): { cold: number; warm: number; calls: number } {
  const out = execFileSync(process.execPath, ["--import", "tsx", CHILD, path, String(warm)], { encoding: "utf8", cwd: DEMO });
  return JSON.parse(out.trim().split("\n").at(-1)!) as { cold: number; warm: number; calls: number };
}

/** The user CPU of the whole `mem-demo replay <path>` command (the built CLI, dist/). */
function command(path: string): number {
  const result = spawnSync(process.execPath, ["--import", CPU_AT_EXIT, join(DEMO, "bin/mem-demo.js"), "replay", path], { encoding: "utf8", cwd: DEMO });
  const line = /cpu-at-exit (\S+)/.exec(result.stderr);
  if (result.status !== 0 || line === null) throw new Error(`mem-demo replay ${path} failed: ${result.stderr}`);
  return Number(line[1]);
}

/** The median of some timings. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs the stacks benchmark and prints its table. */
export function benchReplayStacks(rounds: number): void {
  const dir = mkdtempSync(join(tmpdir(), "mem-bench-stacks-"));
  try {
    const recorded = gunzipSync(readFileSync(FIXTURE)).toString("utf8");
    const traces: Trace[] = [];
    for (const [name, text] of [
      ["sources.py (recorded, --frames 5)", recorded],
      [`sources.py x${COPIES} (synthetic)`, repeatTrace(recorded, COPIES)],
    ] as const) {
      const lines = text.split("\n");
      const without = lines.filter((l) => !STACK_LINE.test(l)).join("\n");
      const base = join(dir, String(traces.length));
      writeFileSync(`${base}-without.memtrace.gz`, gzipSync(without));
      writeFileSync(`${base}-with.memtrace.gz`, gzipSync(text));
      traces.push({
        name,
        lines: lines.length - 1,
        stackRecords: lines.length - without.split("\n").length,
        calls: 0,
        variants: [
          { name: "without stacks", path: `${base}-without.memtrace.gz` },
          { name: "with stacks", path: `${base}-with.memtrace.gz` },
        ],
      });
    }
    const rows: Record<string, string>[] = [];
    for (const trace of traces) {
      const runs: Record<"cold" | "process" | "warm", [number[], number[]]> = { cold: [[], []], process: [[], []], warm: [[], []] };
      let calls = [0, 0];
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        for (const i of order) {
          const path = trace.variants[i]!.path;
          const r = replays(path, WARM);
          runs.cold[i]!.push(r.cold);
          runs.warm[i]!.push(r.warm);
          calls[i] = r.calls;
          runs.process[i]!.push(command(path));
        }
      }
      if (calls[0] !== calls[1]) throw new Error(`${trace.name}: the two variants replayed ${calls[0]} and ${calls[1]} calls`);
      calls = [calls[0]!, calls[1]!];
      for (const [mode, all] of [
        ["cold replay (first in a fresh process)", runs.cold],
        ["whole mem-demo replay command", runs.process],
        [`warm replay (median of ${WARM} after the first, same process)`, runs.warm],
      ] as const) {
        const [without, withStacks] = [Math.min(...all[0]), Math.min(...all[1])];
        rows.push({
          trace: trace.name,
          "calls / stack records": `${calls[0]} / ${trace.stackRecords}`,
          "user CPU": mode,
          "without stacks (s)": without.toFixed(3),
          "with stacks (s)": withStacks.toFixed(3),
          "with / without": `${((withStacks / without - 1) * 100).toFixed(1)}%`,
          "medians": `${median(all[0]).toFixed(3)} → ${median(all[1]).toFixed(3)}: ${((median(all[1]) / median(all[0]) - 1) * 100).toFixed(1)}%`,
        });
      }
    }
    console.log(`replay with and without stack records (user CPU, best of ${rounds}, alternating; and the medians)`);
    console.table(rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) benchReplayStacks(process.env.BENCH_QUICK === "1" ? 3 : 7);
