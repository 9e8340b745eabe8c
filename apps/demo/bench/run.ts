/**
 * Replay throughput of the full simulated stack (RAM → kernel → glibc → PyMem → pymalloc)
 * on real CPython 3.11 recordings, next to the same traces replayed natively by real
 * pymalloc (a C program linked with libpython; skipped with a message without a compiler).
 * Both sides parse the trace first (here into typed-array columns, see packed-trace.ts) and
 * time only the replay. Then replay-stacks.ts: a replay with and without stack records.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseTrace, TraceRecord } from "@mem/memtrace";
import { replayNative } from "../src/record/index.js";
import { Replayer } from "../src/replay.js";
import { readTraceHeader } from "../src/replay-file.js";
import { createStack, type StackOptions } from "../src/stack.js";
import { PackedTrace } from "./packed-trace.js";
import { benchReplayStacks } from "./replay-stacks.js";
import { PYTHON_RECORDINGS, recordings } from "../test/support-fixtures.js";

/** Parses a recording into columns (the event objects become garbage before the clock starts). */
function load(file: string): { trace: PackedTrace; calls: number } {
  const events = parseTrace(gunzipSync(readFileSync(file)).toString("utf8"));
  const calls = events.filter((e) => ["malloc", "calloc", "realloc", "free"].includes(e.kind)).length;
  return { trace: new PackedTrace(events), calls };
}

const rows: Record<string, string>[] = [];
for (const name of recordings(PYTHON_RECORDINGS)) {
  const file = join(PYTHON_RECORDINGS, `${name}.memtrace.gz`);
  const { trace, calls } = load(file);
  const pythonMalloc = ((await readTraceHeader(file)).env.PYTHONMALLOC || "default") as StackOptions["pythonMalloc"];

  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const stack = createStack({ ramSize: 2 * 1024 ** 3, pythonMalloc });
    const replayer = new Replayer(stack);
    const record = new TraceRecord();
    const start = performance.now();
    for (let i = 0; i < trace.length; i++) replayer.handle(trace.load(i, record), i + 1);
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  const ours = calls / best;
  let native: string;
  let ratio = "";
  try {
    const n = await replayNative(file, { repeat: 3 });
    native = (n.eventsPerSecond / 1e6).toFixed(2);
    ratio = (n.eventsPerSecond / ours).toFixed(1) + "x";
  } catch (error) {
    native = `failed: ${(error as Error).message.split("\n")[0]!.slice(0, 60)}…`;
  }
  rows.push({ trace: pythonMalloc === "default" ? name : `${name} (PYTHONMALLOC=${pythonMalloc})`, calls: String(calls), "simulated stack (M events/s)": (ours / 1e6).toFixed(2), "native pymalloc (M events/s)": native, "native / simulated": ratio });
}
console.table(rows);

// What source locations cost a replay: the same trace with and without its stack records (replay-stacks.ts).
benchReplayStacks(process.env.BENCH_QUICK === "1" ? 3 : 7);
