import { describe, expect, it } from "vitest";
import {
  DomainFilter,
  Filter,
  formatSize,
  PyException,
  Snapshot,
  type KeyType,
  type RawTrace,
  type TraceFilter,
} from "../src/index.js";
import { fixture } from "./fixtures.js";

type Lines = [string, string][];
interface TmFixture {
  formatSize: [number, string, string][];
  cases: {
    old: RawTrace[];
    new: RawTrace[];
    statistics: Record<string, Lines>;
    compare: Record<string, Lines>;
    filters: { filters: (string | number | boolean | null)[][]; kept: RawTrace[]; traces: Lines }[];
  }[];
}
const tm = fixture<TmFixture>("tracemalloc.json");

function makeFilter(spec: (string | number | boolean | null)[]): TraceFilter {
  if (spec[0] === "DomainFilter") return new DomainFilter(spec[1] as boolean, spec[2] as number);
  return new Filter(
    spec[1] as boolean,
    spec[2] as string,
    (spec[3] ?? null) as number | null,
    (spec[4] ?? false) as boolean,
    (spec[5] ?? null) as number | null,
  );
}

describe("tracemalloc text formats, against python3", () => {
  it("_format_size, including Python's round-half-even ties", () => {
    for (const [size, plain, signed] of tm.formatSize) {
      expect([size, formatSize(size, false), formatSize(size, true)]).toEqual([size, plain, signed]);
    }
  });

  tm.cases.forEach((c, i) => {
    it(`random snapshot pair #${i}: statistics, compare_to and filter_traces print what Python prints`, () => {
      const oldSnap = new Snapshot(c.old, 4);
      const newSnap = new Snapshot(c.new, 4);
      for (const [key, lines] of Object.entries(c.statistics)) {
        const [keyType, cumulative] = key.split("/") as [KeyType, string | undefined];
        const got = newSnap.statistics(keyType, cumulative !== undefined).map((s) => [String(s), s.repr()]);
        expect([key, got]).toEqual([key, lines]);
      }
      for (const [key, lines] of Object.entries(c.compare)) {
        const [keyType, cumulative] = key.split("/") as [KeyType, string | undefined];
        const got = newSnap.compareTo(oldSnap, keyType, cumulative !== undefined).map((s) => [String(s), s.repr()]);
        expect([key, got]).toEqual([key, lines]);
      }
      for (const f of c.filters) {
        const kept = newSnap.filterTraces(f.filters.map(makeFilter));
        expect([f.filters, kept.rawTraces]).toEqual([f.filters, f.kept]);
        expect(kept.traces.map((t) => [String(t), t.repr()])).toEqual(f.traces);
        expect(kept.tracesRepr()).toBe(`<Traces len=${f.kept.length}>`);
      }
    });
  });

  it("Python's errors for bad key types", () => {
    const s = new Snapshot([], 1);
    expect(() => s.statistics("size" as KeyType)).toThrow(new PyException("ValueError", "unknown key_type: 'size'"));
    expect(() => s.statistics("traceback", true)).toThrow("cumulative mode cannot by used with key type 'traceback'");
    expect(() => s.filterTraces(7 as unknown as TraceFilter[])).toThrow(/filters must be a list of filters/);
  });

  it("the reference captures (tmdemo.py) format identically", () => {
    const line4: RawTrace = [0, 0, [["tmdemo.py", 4]], 1];
    const traces: RawTrace[] = [];
    // 61 traces summing to 31966 bytes on line 4, 2 traces of 552 bytes on line 3.
    for (let k = 0; k < 30; k++) traces.push([0, 56, line4[2], 1], [0, 1001, line4[2], 1]);
    traces.push([0, 256, line4[2], 1], [0, 276, [["tmdemo.py", 3]], 1], [0, 276, [["tmdemo.py", 3]], 1]);
    const stats = new Snapshot(traces, 1).statistics("lineno");
    expect(stats.map(String)).toEqual([
      "tmdemo.py:4: size=31.2 KiB, count=61, average=524 B",
      "tmdemo.py:3: size=552 B, count=2, average=276 B",
    ]);
    expect(stats[0]!.repr()).toBe("<Statistic traceback=<Traceback (<Frame filename='tmdemo.py' lineno=4>,)> size=31966 count=61>");
    expect(new Snapshot(traces, 1).statistics("filename").map(String)).toEqual(["tmdemo.py:0: size=31.8 KiB, count=63, average=516 B"]);
  });
});

describe("Traceback.format", () => {
  // python3: tb.format(), format(2), format(-1), format(0), format(None, True) of the same frames
  it("prints File lines oldest first, limited and reversed like Python (without source lines)", () => {
    const [trace] = new Snapshot([[0, 1, [["c.py", 3], ["b.py", 2], ["a.py", 1]], 3]], 3).traces;
    const tb = trace!.traceback;
    expect(tb.format()).toEqual(['  File "a.py", line 1', '  File "b.py", line 2', '  File "c.py", line 3']);
    expect(tb.format(2)).toEqual(['  File "b.py", line 2', '  File "c.py", line 3']);
    expect(tb.format(-1)).toEqual(['  File "a.py", line 1', '  File "b.py", line 2']); // self[:-1]
    expect(tb.format(0)).toEqual([]);
    expect(tb.format(null, true)).toEqual(['  File "c.py", line 3', '  File "b.py", line 2', '  File "a.py", line 1']);
    expect(String(tb)).toBe("a.py:1");
  });
});
