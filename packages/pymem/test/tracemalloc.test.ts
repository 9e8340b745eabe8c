import { describe, expect, it } from "vitest";
import { HashtableSize, PyException, PyFatalError, Tracemalloc, type PythonThreadState } from "../src/index.js";
import { fixture } from "./fixtures.js";
import { SCENARIOS } from "./support/fatal-scenarios.js";
import { makeStack } from "./support/stack.js";

interface LiveFixture {
  idleTracemallocMemory: number;
  afterStopTracemalloc: number;
  tracedAfterStop: [number, number];
  live: { file: string; steps: { label: string; line: number }[]; ours: [number, number, number][] };
}
interface FatalFixture {
  cases: { case: string; pythonmalloc: string; tracemalloc: boolean; p: string | null; stderr: string }[];
}
const tm = fixture<LiveFixture>("tracemalloc.json");
const fatal = fixture<FatalFixture>("fatal-errors.json");

describe("Tracemalloc over a PyMem", () => {
  it("idle and after stop: 624 bytes of tables, (0, 0) traced, like python3", () => {
    const { py } = makeStack();
    const t = new Tracemalloc(py);
    expect(t.getTracemallocMemory()).toBe(tm.idleTracemallocMemory);
    t.start(3);
    t.setTraceback([{ filename: "x.py", lineno: 1 }]);
    py.memFree(py.memMalloc(10));
    py.memMalloc(20);
    t.stop();
    expect(t.getTracemallocMemory()).toBe(tm.afterStopTracemalloc);
    expect(t.getTracedMemory()).toEqual(tm.tracedAfterStop);
    expect(t.getTracebackLimit()).toBe(3);
  });

  it("replays the live ctypes probe: the same traces (domain, size, line) as python3", () => {
    const { py } = makeStack("default");
    const t = new Tracemalloc(py);
    t.start(1);
    const at = (label: string) => {
      const step = tm.live.steps.find((s) => s.label === label)!;
      t.setTraceback([{ filename: tm.live.file, lineno: step.line }]);
    };
    at("raw malloc 1000");
    const a = py.rawMalloc(1000);
    at("mem malloc 0");
    py.memMalloc(0);
    at("obj malloc 700");
    py.objectMalloc(700);
    at("mem calloc 10 7");
    py.memCalloc(10, 7);
    at("obj malloc 100");
    const e = py.objectMalloc(100);
    at("obj realloc 100->90");
    py.objectRealloc(e, 90);
    t.setTraceback([{ filename: tm.live.file, lineno: tm.live.steps[6]!.line }]);
    const f = py.objectMalloc(100);
    at("obj realloc 100->3000");
    py.objectRealloc(f, 3000);
    at("raw free");
    py.rawFree(a);
    at("raw realloc NULL 33");
    py.rawRealloc(0, 33);
    const ours = t
      .takeSnapshot()
      .traces.map((tr) => [tr.domain, tr.size, tr.traceback.frames[0]!.lineno] as [number, number, number])
      .sort((x, y) => x[1] - y[1] || x[2] - y[2]);
    expect(ours).toEqual(tm.live.ours);
    expect(t.getTracedMemory()[0]).toBe(tm.live.ours.reduce((s, x) => s + x[1], 0));
    // peak: 1000 + 0 + 700 + 70 + 90, then the 100-byte block became 3000 bytes, before RawFree(a)
    expect(t.getTracedMemory()[1]).toBe(1000 + 700 + 70 + 90 + 3000);
  });

  it("a PyObject_Malloc(1000) that pymalloc hands to RAW is traced once (re-entrancy guard)", () => {
    const { py, pools } = makeStack("default");
    const t = new Tracemalloc(py);
    t.start();
    const p = py.objectMalloc(1000);
    expect(pools[0]!.rawFallbacks).toBe(1);
    const snap = t.takeSnapshot();
    expect(snap.rawTraces).toEqual([[0, 1000, [["<unknown>", 0]], 1]]);
    expect(t.getTraceback(p)!.repr()).toBe("<Traceback (<Frame filename='<unknown>' lineno=0>,)>");
    py.objectFree(p);
    expect(t.takeSnapshot().rawTraces).toEqual([]);
    expect(t.getTracedMemory()).toEqual([0, 1000]);
    t.resetPeak();
    expect(t.getTracedMemory()).toEqual([0, 0]);
  });

  it("hooks sit over the debug hooks: traces carry the caller's pointer and size; names are null while tracing", () => {
    const { py } = makeStack("debug");
    const t = new Tracemalloc(py);
    t.start(2);
    expect(py.allocatorName()).toBeNull();
    t.setTraceback([
      { filename: "inner.py", lineno: 7 },
      { filename: "outer.py", lineno: 3 },
      { filename: "main.py", lineno: 1 },
    ]);
    const p = py.memCalloc(3, 5);
    expect(py.memory.load8(p - 8)).toBe(0x6d);
    const [trace] = t.takeSnapshot().traces;
    expect(trace!.repr()).toBe(
      "<Trace domain=0 size=15 B, traceback=<Traceback (<Frame filename='outer.py' lineno=3>, <Frame filename='inner.py' lineno=7>) total_nframe=3>>",
    );
    expect(String(trace)).toBe("outer.py:3: 15 B");
    t.stop();
    expect(py.allocatorName()).toBe("pymalloc_debug");
    py.memFree(p); // the block is still a valid debug block
  });

  it("start() validation and snapshot errors are Python's", () => {
    const { py } = makeStack();
    const t = new Tracemalloc(py);
    expect(() => t.start(0)).toThrow(new PyException("ValueError", "the number of frames must be in range [1; 65535]"));
    expect(() => t.start(65536)).toThrow(PyException);
    expect(() => t.takeSnapshot()).toThrow("the tracemalloc module must be tracing memory allocations to take a snapshot");
    t.start(4);
    t.start(9); // already tracing: no-op, limit unchanged
    expect(t.getTracebackLimit()).toBe(4);
    expect(() => new Tracemalloc(py).start()).toThrow(/already tracing/);
  });

  it("PyTraceMalloc_Track / Untrack: other domains, -2 when not tracing", () => {
    const { py } = makeStack();
    const t = new Tracemalloc(py);
    expect(t.track(42, 0x1234, 778)).toBe(-2);
    t.start();
    t.setTraceback([{ filename: "np.py", lineno: 5 }]);
    expect(t.track(42, 0x1234, 778)).toBe(0);
    const [trace] = t.takeSnapshot().traces;
    expect(trace!.repr()).toBe("<Trace domain=42 size=778 B, traceback=<Traceback (<Frame filename='np.py' lineno=5>,) total_nframe=1>>");
    // a second table (domain 42) now counts: 624 + 1 traceback + 1 filename + 1 trace table with one entry
    expect(t.getTracemallocMemory()).toBe(624 + 32 + 32 + (80 + 128 + 32));
    expect(t.untrack(42, 0x1234)).toBe(0);
    expect(t.untrack(42, 0x9999)).toBe(0);
    expect(t.getTracedMemory()[0]).toBe(0);
  });

  it("get_tracemalloc_memory follows the hash tables' resize rules", () => {
    const h = new HashtableSize();
    const sizes: number[] = [];
    for (let i = 0; i < 40; i++) {
      h.added();
      sizes.push(h.nbuckets);
    }
    // 9/16 > 0.5 -> round_size(trunc(18 / 0.6) = 30) = 32; 17/32 -> 64 (56.66 -> 64); 33/64 -> 128 (110 -> 128)
    expect(sizes.indexOf(32)).toBe(8);
    expect(sizes.indexOf(64)).toBe(16);
    expect(sizes.indexOf(128)).toBe(32);
    expect(h.bytes()).toBe(80 + 8 * 128 + 32 * 40);
    for (let i = 0; i < 28; i++) h.removed();
    // 12/128 = 0.094 < 0.1 -> round_size(trunc(24 / 0.6) = 40) = 64
    expect(h.nbuckets).toBe(64);
    h.clear();
    expect(h.bytes()).toBe(80 + 128);
  });

  it("truncates tracebacks to the limit but keeps total_nframe; interns tracebacks and filenames", () => {
    const { py } = makeStack();
    const t = new Tracemalloc(py);
    t.start(2);
    const stack = [
      { filename: "a.py", lineno: 1 },
      { filename: "b.py", lineno: -5 },
      { filename: "c.py", lineno: 3 },
    ];
    t.setTraceback(stack);
    py.memMalloc(8);
    py.memMalloc(8);
    const traces = t.takeSnapshot().rawTraces;
    expect(traces).toEqual([
      [0, 8, [["a.py", 1], ["b.py", 0]], 3],
      [0, 8, [["a.py", 1], ["b.py", 0]], 3],
    ]);
    // one interned traceback, two filenames, two traces
    expect(t.getTracemallocMemory()).toBe(624 + 32 + 2 * 32 + 2 * 32);
  });
});

describe("fatal reports with tracemalloc tracing (PYTHONTRACEMALLOC=5), against python3", () => {
  for (const rec of fatal.cases.filter((c) => c.tracemalloc)) {
    it(rec.case, () => {
      const m = /\nCurrent thread 0x([0-9a-f]{16}) \(most recent call first\):\n {2}File "(.*)", line (\d+) in (.*)\n/.exec(rec.stderr)!;
      const thread: PythonThreadState = { threadId: parseInt(m[1]!, 16), frames: [{ filename: m[2]!, lineno: Number(m[3]), name: m[4]! }] };
      const { py } = makeStack("debug", { threadState: () => thread });
      const t = new Tracemalloc(py);
      t.start(5);
      // The block was allocated on the line the probe then aborts on (one statement per line).
      t.setTraceback([{ filename: m[2]!, lineno: Number(m[3]) }]);
      const scenario = SCENARIOS[rec.case]!;
      const { p, n } = scenario.setup(py);
      let error: unknown;
      try {
        scenario.fail(py, p);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PyFatalError);
      let expected = rec.stderr;
      if (rec.p !== null && !rec.case.startsWith("gil")) {
        const realP = BigInt(rec.p);
        expected = expected
          .replaceAll(`tail=0x${(realP + BigInt(n)).toString(16)}`, `tail=0x${(p + n).toString(16)}`)
          .replaceAll(`p=0x${realP.toString(16)}`, `p=0x${p.toString(16)}`);
      }
      expect((error as PyFatalError).report).toBe(expected);
    });
  }
});

describe("get_tracemalloc_memory, step by step against python3 (PyTraceMalloc_Track of 80 pointers, then Untrack)", () => {
  const tables = fixture<{ up: number[]; down: number[] }>("tracemalloc-tables.json");
  const steps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);

  it("grows at 9, 17, 33, 65 entries and shrinks below a tenth, like Python/hashtable.c", () => {
    const { py } = makeStack();
    const t = new Tracemalloc(py);
    t.start(1);
    const run = (domain: number) => {
      const up: number[] = [];
      const down: number[] = [];
      for (let i = 0; i < 80; i++) {
        t.track(domain, 0x10000 + 64 * i, 10);
        up.push(t.getTracemallocMemory());
      }
      for (let i = 0; i < 80; i++) {
        t.untrack(domain, 0x10000 + 64 * i);
        down.push(t.getTracemallocMemory());
      }
      return { up, down };
    };
    run(78);
    const { up, down } = run(77);
    expect(steps(up)).toEqual(steps(tables.up));
    expect(steps(down)).toEqual(steps(tables.down));
  });
});
