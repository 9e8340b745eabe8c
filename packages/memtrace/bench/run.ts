/**
 * Benchmarks of @mem/memtrace on a real recording (the `classes` CPython run, first
 * 100,000 lines), each next to a baseline:
 * - reading with TraceStream (one reused record) vs the obvious parser
 *   (split("\n"), split(" "), Number(), an object per line);
 * - reading into fresh event objects (parseTrace) vs JSON.parse of the same events;
 * - formatting events vs JSON.stringify of the same events;
 * - PointerMap vs Map for the recorded-pointer -> replayed-pointer map a replayer keeps;
 * - reading a recording with source locations (apps/demo's stacks fixture, `--frames 5`: 77,474
 *   calls, 25,161 `#F`/`#T`/`#S`/`#R` lines) vs the same recording with those lines removed
 *   (per call: what the stack records cost the reader).
 * Run: npm run bench (BENCH_QUICK=1 for a shorter run).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { Bench } from "tinybench";
import { PointerMap, TraceStream, formatEvent, parseTrace } from "../src/index.js";

const quick = process.env.BENCH_QUICK === "1";
const LINES = 100_000;
const file = new URL("../../small-object/test/fixtures/recordings/classes.memtrace.gz", import.meta.url);
const all = gunzipSync(readFileSync(file)).toString("utf8");
let cut = 0;
for (let i = 0; i < LINES; i++) cut = all.indexOf("\n", cut) + 1;
const text = all.slice(0, cut);
const CHUNK = 64 * 1024;
const chunks: string[] = [];
for (let i = 0; i < text.length; i += CHUNK) chunks.push(text.slice(i, i + CHUNK));
const events = parseTrace(text);
const json = JSON.stringify(events);
const pointers = events.flatMap((e) => ("result" in e && e.result !== 0 ? [e.result] : []));

const stacksFile = new URL("../../../apps/demo/test/fixtures/report-stacks/sources.memtrace.gz", import.meta.url);
const withStacks = gunzipSync(readFileSync(stacksFile)).toString("utf8");
const withoutStacks = withStacks
  .split("\n")
  .filter((l) => !/^#[FTSR] /.test(l))
  .join("\n");
const chunksOf = (t: string) => Array.from({ length: Math.ceil(t.length / CHUNK) }, (_, i) => t.slice(i * CHUNK, (i + 1) * CHUNK));
const withChunks = chunksOf(withStacks);
const withoutChunks = chunksOf(withoutStacks);
const stackCalls = parseTrace(withoutStacks).filter((e) => e.kind === "malloc" || e.kind === "calloc" || e.kind === "realloc" || e.kind === "free").length;

let sink = 0;

function streamRead(): void {
  const s = new TraceStream((r) => {
    sink += r.size;
  });
  for (const c of chunks) s.push(c);
  s.end();
}

/** A whole trace read by TraceStream (its stack table kept), one chunk at a time. */
function readChunks(parts: readonly string[]): void {
  const s = new TraceStream((r) => {
    sink += r.size;
  });
  for (const c of parts) s.push(c);
  s.end();
  sink += s.stacks.tracebacks;
}

/** The obvious parser: what one writes first. */
function naiveRead(): void {
  const out: unknown[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(" ");
    switch (f[0]) {
      case "m":
        out.push({ kind: "malloc", domain: f[1], size: Number(f[2]), result: Number(f[3]) });
        break;
      case "c":
        out.push({ kind: "calloc", domain: f[1], nelem: Number(f[2]), elsize: Number(f[3]), result: Number(f[4]) });
        break;
      case "r":
        out.push({ kind: "realloc", domain: f[1], ptr: Number(f[2]), size: Number(f[3]), result: Number(f[4]) });
        break;
      case "f":
        out.push({ kind: "free", domain: f[1], ptr: Number(f[2]) });
        break;
      default:
        out.push({ kind: f[0] });
    }
  }
  sink += out.length;
}

function objectsRead(): void {
  sink += parseTrace(text).length;
}

function jsonRead(): void {
  sink += (JSON.parse(json) as unknown[]).length;
}

function formatAll(): void {
  let n = 0;
  for (const e of events) n += formatEvent(e).length;
  sink += n;
}

function jsonFormatAll(): void {
  let n = 0;
  for (const e of events) n += JSON.stringify(e).length;
  sink += n;
}

function pointerMap(): void {
  const m = new PointerMap(1 << 12);
  for (let i = 0; i < pointers.length; i++) m.set(pointers[i]!, i);
  for (let i = 0; i < pointers.length; i++) sink += m.get(pointers[i]!);
  for (let i = 0; i < pointers.length; i++) m.delete(pointers[i]!);
}

function jsMap(): void {
  const m = new Map<number, number>();
  for (let i = 0; i < pointers.length; i++) m.set(pointers[i]!, i);
  for (let i = 0; i < pointers.length; i++) sink += m.get(pointers[i]!)!;
  for (let i = 0; i < pointers.length; i++) m.delete(pointers[i]!);
}

type Case = { name: string; unit: string; per: number; ours: () => void; oursName: string; baseline: () => void; baseName: string };
const cases: Case[] = [
  { name: "read lines (reused record)", unit: "M lines/s", per: LINES, ours: streamRead, oursName: "TraceStream", baseline: naiveRead, baseName: "split + Number" },
  { name: "read lines into event objects", unit: "M lines/s", per: LINES, ours: objectsRead, oursName: "parseTrace", baseline: jsonRead, baseName: "JSON.parse" },
  { name: "format events", unit: "M lines/s", per: events.length, ours: formatAll, oursName: "formatEvent", baseline: jsonFormatAll, baseName: "JSON.stringify" },
  { name: "pointer map set+get+delete", unit: "M ops/s", per: pointers.length * 3, ours: pointerMap, oursName: "PointerMap", baseline: jsMap, baseName: "Map" },
  {
    name: "read a recording with stacks",
    unit: "M calls/s",
    per: stackCalls,
    ours: () => readChunks(withChunks),
    oursName: "with #F/#T/#S/#R",
    baseline: () => readChunks(withoutChunks),
    baseName: "same without them",
  },
];

const bench = new Bench({ time: quick ? 200 : 600, warmupTime: quick ? 100 : 200 });
for (const c of cases) {
  bench.add(`${c.name} | ours`, c.ours);
  bench.add(`${c.name} | baseline`, c.baseline);
}
await bench.run();

const rate = (name: string, per: number): number => {
  const result = bench.getTask(name)?.result;
  if (!result || !("throughput" in result)) throw new Error(`no result for ${name}`);
  return result.throughput.mean * per;
};
console.table(
  cases.map((c) => {
    const ours = rate(`${c.name} | ours`, c.per);
    const base = rate(`${c.name} | baseline`, c.per);
    return {
      case: c.name,
      ours: `${c.oursName} ${(ours / 1e6).toFixed(2)} ${c.unit}`,
      baseline: `${c.baseName} ${(base / 1e6).toFixed(2)} ${c.unit}`,
      "ours / baseline": (ours / base).toFixed(2),
    };
  }),
);
if (sink === 42) console.log("");
