/**
 * End to end: real programs recorded on this machine, replayed through the whole simulated
 * stack (RAM → kernel → glibc malloc → PyMem → pymalloc).
 *  - CPython: the replayed pymalloc statistics equal the ones the real process printed.
 *  - C programs: every chunk glibc placed on the brk heap is placed at the same offset from
 *    the heap start by the simulated glibc; mmapped chunks sit 16 bytes into a page.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseTrace, TraceStream, type MemtraceEvent } from "@mem/memtrace";
import { afterAll, describe, expect, it } from "vitest";
import { readTraceHeader, replayFile } from "../src/replay-file.js";
import { Replayer } from "../src/replay.js";
import { createStack, type StackOptions } from "../src/stack.js";
import { parseTraceHeader } from "../src/trace-header.js";
import { replaySettings } from "../src/trace-settings.js";
import { LIBC_RECORDINGS, PYTHON_RECORDINGS, recordings } from "./support-fixtures.js";

describe("replaying real CPython 3.11 recordings through the full stack", () => {
  const names = recordings(PYTHON_RECORDINGS);
  it("has recordings to replay", () => expect(names.length).toBeGreaterThanOrEqual(3));
  for (const name of names) {
    it(`${name}: pymalloc statistics equal the real run's, line for line`, { timeout: 120_000 }, async () => {
      const file = join(PYTHON_RECORDINGS, `${name}.memtrace.gz`);
      const header = await readTraceHeader(file);
      const pythonMalloc = (header.env.PYTHONMALLOC || "default") as StackOptions["pythonMalloc"];
      const stack = createStack({ ramSize: 2 * 1024 ** 3, pythonMalloc });
      const summary = await replayFile(stack, join(PYTHON_RECORDINGS, `${name}.memtrace.gz`));
      expect(summary.divergences).toBe(0);
      expect(stack.pymalloc!.debugMallocStats()).toBe(readFileSync(join(PYTHON_RECORDINGS, `${name}.stats.txt`), "utf8"));
      stack.pymalloc!.check();
      stack.libc.checkHeap();
    });
  }
});

describe("replaying real C programs' malloc calls: placements equal glibc 2.36's", () => {
  const names = recordings(LIBC_RECORDINGS);
  let comparedInAll = 0;
  it("has recordings to replay", () => expect(names.length).toBeGreaterThanOrEqual(3));
  afterAll(() => {
    // Some programs (gzip) barely allocate; together the recordings must exercise the heap.
    expect(comparedInAll).toBeGreaterThan(1000);
  });
  for (const name of names) {
    it(`${name}: every brk-heap chunk at the recorded offset from the heap start`, { timeout: 120_000 }, () => {
      const text = gunzipSync(readFileSync(join(LIBC_RECORDINGS, `${name}.memtrace.gz`))).toString("utf8");
      const recorded = parseTrace(text);
      const heapStart = recorded.find((e) => e.kind === "heap-start");
      expect(heapStart).toBeDefined();
      // the recorded glibc settings (MALLOC_ARENA_MAX, # cpus) decide the arenas of a threaded trace
      const glibc = replaySettings(parseTraceHeader(text.split("\n"))).glibc;
      const stack = createStack({ ramSize: 2 * 1024 ** 3, glibc });
      const replayed: string[] = [];
      const replayer = new Replayer(stack, (l) => replayed.push(l));
      const stream = new TraceStream((record, line) => replayer.handle(record, line));
      stream.push(text);
      stream.end();
      const real = results(recorded);
      const sim = results(parseTrace(replayed.join("\n") + "\n"));
      expect(sim.length).toBe(real.length);
      const realStart = heapStart!.kind === "heap-start" ? heapStart!.address : 0;
      const simStart = stack.process.startBrk;
      let compared = 0;
      for (let i = 0; i < real.length; i++) {
        const r = real[i]!;
        const s = sim[i]!;
        if (r === 0) {
          expect(s, `call ${i}`).toBe(0);
          continue;
        }
        const onHeap = r - realStart >= 0 && r - realStart < 1 << 30;
        if (onHeap) {
          expect(s - simStart, `result ${i}: recorded heap offset 0x${(r - realStart).toString(16)}`).toBe(r - realStart);
          compared++;
        } else {
          expect(s % 4096, `mmapped result ${i}`).toBe(r % 4096);
        }
      }
      comparedInAll += compared;
      stack.libc.checkHeap();
    });
  }
});

/** The pointers that allocation events returned, in order. */
function results(events: MemtraceEvent[]): number[] {
  return events.flatMap((e) =>
    e.kind === "malloc" || e.kind === "calloc" || e.kind === "realloc" || e.kind === "memalign" ? [e.result] : [],
  );
}
