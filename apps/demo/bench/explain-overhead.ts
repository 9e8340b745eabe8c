/**
 * The cost of `mem-demo explain --every 10000` over a plain `mem-demo replay` of the same
 * trace (issue 12's aim: at most 15% more). Both sides replay a trace already parsed into
 * columns (parsing and gunzip, which both commands pay alike, are left out: the figure is
 * the stricter one), through the same stack; the explain side wraps the process with
 * `countSyscalls` and drives a `Timeline` exactly as explain-command.ts does, `finish()`
 * (end account and pins) included. User CPU (process.cpuUsage) and wall time, best of N,
 * rounds alternating so that a load from other processes hits both sides alike.
 *
 * Traces: the largest committed CPython 3.11 recordings, scattered-frees (855,230 events),
 * and a synthetic one (`SYNTH` call events, default 4,000,000: 1.2 M small objects, 90% freed
 * in scattered order, then churn), generated in memory.
 * Run: node --expose-gc --import tsx bench/explain-overhead.ts [rounds] (BENCH_QUICK=1: one recording, 1 M
 * synthetic events; BREAKDOWN=1: the cost stage by stage; OWN_TABLE=1: the timeline keeps the requested
 * sizes in a table of its own, as before the replayer kept them; PROFILE=1: the explain side alone; INCREMENTAL=0:
 * every sample a full account, 1: incremental from the first sample, unset: "auto" as the CLI (before 2026-12-07 the
 * unset default was incremental from the first sample): compare the kinds in separate processes; with both kinds
 * of account in one process the figures drift apart, scattered-frees measured 0.92 against 0.77 s there and 0.88
 * against 0.87 s with each kind alone);
 * ONLY=<name part>: only the traces whose name contains it; SEPARATE=1: each side (replay, explain with full accounts,
 * explain incremental, explain "auto" as the CLI runs it) in processes of their own, best of 3 runs in each child, [rounds] children a side: the figure
 * to quote, since the CLI runs one side per process).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { countSyscalls, Timeline, type SyscallCounts } from "@mem/insight";
import { parseTrace, TraceRecord } from "@mem/memtrace";
import { Replayer } from "../src/replay.js";
import { createStack, type CPythonStack } from "../src/stack.js";
import { PYTHON_RECORDINGS } from "../test/support-fixtures.js";
import { PackedTrace } from "./packed-trace.js";

const quick = process.env.BENCH_QUICK === "1";
const rounds = Number(process.argv[2] ?? (quick ? 2 : 3));
const SYNTH = Number(process.env.SYNTH ?? (quick ? 1_000_000 : 4_000_000));
const EVERY = 10000;
/** INCREMENTAL=0: full accounts; 1: incremental from the first sample; unset or auto: "auto", as the CLI runs it. */
const INCREMENTAL: boolean | "auto" = process.env.INCREMENTAL === "0" ? false : process.env.INCREMENTAL === "1" ? true : "auto";
const RAM = 2 * 1024 ** 3;

/** A source of records: `length` of them, record `i` loaded into a reused TraceRecord. */
interface Source {
  readonly name: string;
  readonly length: number;
  load(i: number, record: TraceRecord): TraceRecord;
}

function recording(file: string, name: string): Source {
  const trace = new PackedTrace(parseTrace(gunzipSync(readFileSync(file)).toString("utf8")));
  return { name, length: trace.length, load: (i, r) => trace.load(i, r) };
}

/**
 * A synthetic CPython-like trace of `n` call events on the obj domain: a third allocates
 * (16-512 bytes), 90% of those are freed in scattered order, the rest alternates malloc/free.
 * Recorded pointers are slot addresses, so the program's addresses are reused as real ones are.
 */
function synthetic(n: number): Source {
  const grow = Math.floor(n * 0.3);
  const shrink = Math.floor(grow * 0.9);
  const kinds = new Uint8Array(n); // 0 malloc, 1 free
  const slots = new Uint32Array(n);
  const sizes = new Uint16Array(n);
  let seed = 12345;
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < grow; i++) {
    slots[i] = i;
    sizes[i] = 16 + Math.floor(random() * 8) * 8 + (random() < 0.05 ? Math.floor(random() * 440) : 0);
  }
  const order = Uint32Array.from({ length: grow }, (_, i) => i);
  for (let i = grow - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  for (let i = 0; i < shrink; i++) {
    kinds[grow + i] = 1;
    slots[grow + i] = order[i]!;
  }
  // churn: malloc a fresh slot, free it again two events later
  for (let i = grow + shrink, k = 0; i < n; i++, k++) {
    const pair = k >> 1;
    kinds[i] = k & 1;
    slots[i] = grow + (pair % 50_000);
    sizes[i] = 16 + (pair % 31) * 16;
  }
  const address = (slot: number): number => 0x7f0000000000 + slot * 64;
  return {
    name: `synthetic (${(n / 1e6).toFixed(1)} M events)`,
    length: n,
    load(i, r) {
      r.domain = "obj";
      if (kinds[i] === 0) {
        r.kind = "malloc";
        r.size = sizes[i]!;
        r.result = address(slots[i]!);
      } else {
        r.kind = "free";
        r.ptr = address(slots[i]!);
      }
      return r;
    },
  };
}

function replayAll(source: Source, stack: CPythonStack, onEvent?: (r: TraceRecord) => void, timeline?: Timeline): void {
  const replayer = new Replayer(stack, undefined, onEvent ? { onEvent } : {});
  if (timeline !== undefined && process.env.OWN_TABLE !== "1") {
    replayer.keepRequestedSizes();
    timeline.requestedFrom(replayer);
  }
  const record = new TraceRecord();
  for (let i = 0; i < source.length; i++) replayer.handle(source.load(i, record), i + 1);
}

/** Plain replay. */
function plain(source: Source): void {
  replayAll(source, createStack({ ramSize: RAM }));
}

/**
 * What explain-command.ts does around the replay. `stage` (BREAKDOWN=1) stops short: 1 the
 * syscall counter and an empty hook, 2 plus the requested sizes (follow), 3 plus afterCall
 * without samples, 4 everything.
 */
function explain(source: Source, stage = 4, incremental: boolean | "auto" = INCREMENTAL): number {
  const watch: { timeline?: Timeline; counts?: SyscallCounts } = {};
  const stack = createStack({
    ramSize: RAM,
    wrapProcess: (p) => {
      const counted = countSyscalls(p, (call, args) => watch.timeline?.onSyscall(call, args));
      watch.counts = counted.counts;
      return counted.process;
    },
  });
  const timeline = new Timeline(stack, { every: stage === 3 ? 2 ** 52 : EVERY, syscalls: watch.counts, incremental });
  watch.timeline = timeline;
  if (stage === 1) replayAll(source, stack, () => undefined);
  else if (stage === 2) replayAll(source, stack, (r) => void timeline.follow(r), timeline);
  else {
    replayAll(
      source,
      stack,
      (r) => {
        if (timeline.follow(r)) timeline.afterCall();
      },
      timeline,
    );
  }
  if (stage < 4) return 0;
  return timeline.finish().timeline.length;
}

function measure(run: () => unknown): { user: number; wall: number } {
  globalThis.gc?.();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  run();
  const c = process.cpuUsage(c0);
  return { user: c.user / 1e6, wall: (performance.now() - t0) / 1000 };
}

const sources: Source[] = [];
for (const name of quick ? ["json-roundtrip"] : ["json-roundtrip", "small-objects"]) sources.push(recording(join(PYTHON_RECORDINGS, `${name}.memtrace.gz`), name));
if (!quick) sources.push(recording(new URL("../../../packages/insight/test/fixtures/scattered-frees.memtrace.gz", import.meta.url).pathname, "scattered-frees"));
sources.push(synthetic(SYNTH));
// ONLY=<name part>: just the traces whose name contains it
const only = process.env.ONLY;
if (only !== undefined) sources.splice(0, sources.length, ...sources.filter((s) => s.name.includes(only)));

if (process.env.SIDE !== undefined) {
  // a child of SEPARATE=1: one side only, its best user CPU over `rounds` runs
  const side = process.env.SIDE;
  for (const source of sources) {
    let best = Infinity;
    let samples = 0;
    for (let round = 0; round < rounds; round++) {
      best = Math.min(best, measure(() => (side === "replay" ? plain(source) : (samples = explain(source, 4, side === "auto" ? "auto" : side === "incremental")))).user);
    }
    console.log(`RESULT ${JSON.stringify({ user: best, samples })}`);
  }
  process.exit(0);
}

if (process.env.SEPARATE === "1") {
  // each side in processes of its own, as the CLI runs them: with replay and explain in one
  // process, V8 optimises the shared tiers for both call shapes (a wrapped and a bare process)
  // and the in-process figures drift apart from the CLI's
  const rows: Record<string, string>[] = [];
  for (const source of sources) {
    const sides = ["replay", "full", "incremental", "auto"];
    const best: Record<string, number> = { replay: Infinity, full: Infinity, incremental: Infinity, auto: Infinity };
    let samples = 0;
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(round + k) % sides.length]!;
        const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "3"], {
          env: { ...process.env, SEPARATE: "", SIDE: side, ONLY: source.name },
          encoding: "utf8",
        });
        const result = JSON.parse(/^RESULT (.*)$/m.exec(out)![1]!) as { user: number; samples: number };
        best[side] = Math.min(best[side]!, result.user);
        if (side !== "replay") samples = result.samples;
      }
    }
    const pct = (x: number): string => `${x >= best.replay! ? "+" : ""}${((x / best.replay! - 1) * 100).toFixed(0)}%`;
    rows.push({
      trace: `${source.name} (${source.length} lines, ${samples} samples)`,
      "replay user s": best.replay!.toFixed(2),
      "explain, full accounts": `${best.full!.toFixed(2)} (${pct(best.full!)})`,
      "explain, incremental": `${best.incremental!.toFixed(2)} (${pct(best.incremental!)})`,
      'explain, "auto" (the CLI)': `${best.auto!.toFixed(2)} (${pct(best.auto!)})`,
    });
    console.log(rows[rows.length - 1]);
  }
  console.table(rows);
  process.exit(0);
}

if (process.env.PROFILE === "1") {
  // only the explain side, for --cpu-prof
  for (const source of sources) explain(source);
  process.exit(0);
}

if (process.env.BREAKDOWN === "1") {
  for (const source of sources) {
    const best = [Infinity, Infinity, Infinity, Infinity, Infinity];
    for (let round = 0; round < rounds; round++) {
      best[0] = Math.min(best[0]!, measure(() => plain(source)).user);
      for (let stage = 1; stage <= 4; stage++) best[stage] = Math.min(best[stage]!, measure(() => explain(source, stage)).user);
    }
    const [replay, hook, follow, after, all] = best.map((x) => x.toFixed(2));
    console.log(`${source.name}: user CPU s, best of ${rounds}: replay ${replay}; + empty hook ${hook}; + requested sizes ${follow}; + afterCall ${after}; + samples ${all}`);
  }
  process.exit(0);
}

const rows: Record<string, string>[] = [];
for (const source of sources) {
  const p: { user: number; wall: number }[] = [];
  const e: { user: number; wall: number }[] = [];
  let samples = 0;
  const runs = [() => p.push(measure(() => plain(source))), () => e.push(measure(() => (samples = explain(source))))];
  // the order alternates from round to round, so that warm-up and load favour no side
  for (let round = 0; round < rounds; round++) for (let k = 0; k < runs.length; k++) runs[(round + k) % runs.length]!();
  const best = (xs: { user: number; wall: number }[], k: "user" | "wall") => Math.min(...xs.map((x) => x[k]));
  const worst = (xs: { user: number; wall: number }[], k: "user" | "wall") => Math.max(...xs.map((x) => x[k]));
  const extra = best(e, "user") / best(p, "user") - 1;
  rows.push({
    trace: `${source.name} (${source.length} lines, ${samples} samples)`,
    "replay user s (best..worst)": `${best(p, "user").toFixed(2)}..${worst(p, "user").toFixed(2)}`,
    "explain user s (best..worst)": `${best(e, "user").toFixed(2)}..${worst(e, "user").toFixed(2)}`,
    "wall best: replay / explain": `${best(p, "wall").toFixed(2)} / ${best(e, "wall").toFixed(2)}`,
    "extra (best user)": `${extra >= 0 ? "+" : ""}${(extra * 100).toFixed(0)}%`,
  });
  console.log(rows[rows.length - 1]);
}
console.table(rows);
