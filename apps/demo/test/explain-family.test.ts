/**
 * The `--by` family follows one account of the traced blocks (src/source-tracker.ts): the
 * statistics, the peak, `--resident`, `--pins`/`--faults` and `--temporary` leave out the
 * recorder's own blocks (`# recorder-own-begin/end`, `# tracemalloc-init-begin/end`) and those
 * allocated before tracing started, ignore `#R` lines between the markers, and read a CPython
 * trace's CPython domains only. The tracker's own rules are tested here too.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { TraceStream } from "@mem/memtrace";
import { afterAll, describe, expect, it } from "vitest";
import { explainBySource } from "../src/explain-by-source.js";
import { tracedPeak } from "../src/explain-peak.js";
import { pinsAndFaultsBySource } from "../src/explain-pins-faults.js";
import { residentBySource } from "../src/explain-resident.js";
import { temporaryBySource } from "../src/explain-temporary.js";
import { SourceTracker, type SourceTrackerOptions } from "../src/source-tracker.js";
import { createStack } from "../src/stack.js";

const dir = mkdtempSync(join(tmpdir(), "by-family-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = ["#F 1 3 a.py", "#F 2 9 b.py", "#F 3 0 <unknown>", "#T 1 1 1", "#T 2 1 2", "#T 3 1 3"];

function trace(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `# memtrace v1\n# frames 1\n${[...HEAD, ...lines].join("\n")}\n`);
  return path;
}

/** Feeds `lines` (after the frames a.py:3, b.py:9, <unknown>:0 as tracebacks 1-3) to a tracker. */
function track(lines: string[], options: SourceTrackerOptions = {}): SourceTracker {
  const tracker = new SourceTracker(options);
  const stream: TraceStream = new TraceStream((r) => void tracker.handle(r, stream.stacks.current));
  stream.push(`# memtrace v1\n${[...HEAD, ...lines].join("\n")}\n`);
  stream.end();
  return tracker;
}

const live = (t: SourceTracker) => Object.fromEntries([...t.live].map(([ptr, b]) => [ptr.toString(16), [b.size, b.tb]]));

describe("SourceTracker: the live traced blocks", () => {
  it("traces new blocks with the current traceback; a realloc moves and retraces, #R retraces, a free ends", () => {
    const t = track(["#S 1", "m obj 10 0x1000", "c mem 3 4 0x2000", "#S 2", "r mem 0x2000 40 0x3000", "#R 0x1000", "a raw 64 100 0x4000", "f raw 0x4000", "m obj 5 0x0"]);
    expect(live(t)).toEqual({ 1000: [10, 2], 3000: [40, 2] });
    expect(t.live.total).toBe(50);
    expect(t.calls).toBe(6);
    expect(t.sawStacks).toBe(true);
    expect(t.limit).toBe(1);
  });

  it("leaves the recorder's own blocks and the tracemalloc-init ones untraced; #R between the markers does nothing", () => {
    const t = track([
      "#S 1",
      "m obj 10 0x1000",
      "m obj 20 0x1100",
      "# recorder-own-begin",
      "#S 3",
      "m obj 72 0x5000",
      "#R 0x1000",
      "r obj 0x1100 30 0x1200",
      "# recorder-own-end",
      "# tracemalloc-init-begin",
      "m raw 40 0x6000",
      "# tracemalloc-init-end",
      "m obj 8 0x7000",
    ]);
    // 0x1100's realloc ended its trace; the new block at 0x1200 is the recorder's
    expect(live(t)).toEqual({ 1000: [10, 1], 7000: [8, 3] });
  });

  it("restarts at # x-tracemalloc-start (not with since 'start') or after call event N, telling onStart", () => {
    const lines = ["#S 1", "m obj 10 0x1000", "m obj 11 0x1100", "# x-tracemalloc-start", "#S 2", "m obj 12 0x1200", "m obj 13 0x1300"];
    let starts = 0;
    expect(live(track(lines, { onStart: () => starts++ }))).toEqual({ 1200: [12, 2], 1300: [13, 2] });
    expect(starts).toBe(1);
    expect(Object.keys(live(track(lines, { since: "start" })))).toEqual(["1000", "1100", "1200", "1300"]);
    expect(live(track(lines, { since: 3 }))).toEqual({ 1300: [13, 2] });
  });

  it("keeps libc lines apart: they count in a trace without CPython lines only", () => {
    const c = track(["#S 1", "m libc 100 0x1000"]);
    expect(c.sawPython).toBe(false);
    expect(live(c)).toEqual({ 1000: [100, 1] });
    const mixed = track(["#S 1", "m libc 100 0x1000", "m obj 5 0x2000", "#S 2", "#R 0x1000"]);
    expect(live(mixed)).toEqual({ 2000: [5, 1] });
    expect(mixed.libc.get(0x1000)?.tb).toBe(2);
  });

  it("property: each kind's total is the sum of its live sizes, and nothing made between the markers is ever live", () => {
    const event = fc.oneof(
      fc.record({ k: fc.constantFrom("m", "c", "r", "f"), d: fc.constantFrom("obj", "raw", "libc"), p: fc.integer({ min: 0, max: 6 }), q: fc.integer({ min: 0, max: 6 }), n: fc.integer({ min: 0, max: 300 }) }),
      fc.constantFrom("# recorder-own-begin", "# recorder-own-end", "# x-tracemalloc-start", "#S 1", "#S 2", "#R 0x3000"),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        const lines: string[] = ["#S 1"];
        for (const e of events) {
          if (typeof e === "string") lines.push(e);
          else {
            const ptr = (i: number) => `0x${(0x1000 * i).toString(16)}`;
            if (e.k === "m") lines.push(`m ${e.d} ${e.n} ${ptr(e.p)}`);
            else if (e.k === "c") lines.push(`c ${e.d} 2 ${e.n} ${ptr(e.p)}`);
            else if (e.k === "r") lines.push(`r ${e.d} ${ptr(e.q)} ${e.n} ${ptr(e.p)}`);
            else lines.push(`f ${e.d} ${ptr(e.p)}`);
          }
        }
        const t = track(lines);
        // the pointers (of the CPython domains, or libc) last handed out inside the markers
        const own = new Set<string>();
        let inside = false;
        for (const l of lines) {
          if (l === "# recorder-own-begin") inside = true;
          else if (l === "# recorder-own-end") inside = false;
          else if (/^[mcr] /.test(l)) {
            const kind = l.split(" ")[1] === "libc" ? "libc" : "python";
            const result = `${kind} ${l.split(" ").at(-1)!}`;
            if (inside) own.add(result);
            else own.delete(result);
          }
        }
        for (const [kind, blocks] of [["python", t.python], ["libc", t.libc]] as const) {
          expect(blocks.total).toBe([...blocks.values()].reduce((n, b) => n + b.size, 0));
          for (const ptr of blocks.keys()) expect(own.has(`${kind} 0x${ptr.toString(16)}`)).toBe(false);
        }
      }),
    );
  });
});

describe("every view of the --by family leaves the recorder's own blocks out", () => {
  // a.py:3's 200 blocks fill part of an arena; the recorder's own atexit blocks (<unknown>:0,
  // one temporary) sit among them; b.py:9 one 5000-byte block; the libc line is not Python's
  const BLOCKS = Array.from({ length: 200 }, (_, i) => `m obj 64 0x${(0x100000 + i * 64).toString(16)}`);
  const T = trace("own.memtrace", [
    "#S 1",
    ...BLOCKS,
    "# recorder-own-begin",
    "#S 3",
    "m obj 72 0x200000",
    "m mem 24 0x200100",
    "m obj 57 0x200200",
    "f obj 0x200200",
    "#R 0x100000",
    "# recorder-own-end",
    "#S 2",
    "m raw 5000 0x300000",
    "m libc 64 0x400000",
  ]);
  const stack = () => createStack({ ramSize: 64 * 1024 * 1024 });

  it("statistics and the peak", async () => {
    expect(await explainBySource(T, { by: "lineno" })).toEqual(["a.py:3: size=12.5 KiB, count=200, average=64 B", "b.py:9: size=5000 B, count=1, average=5000 B"]);
    expect(await tracedPeak(T)).toMatchObject({ peak: 200 * 64 + 5000, current: 200 * 64 + 5000 });
  });

  it("--resident: the requested bytes and counts are the statistics'", async () => {
    const r = await residentBySource(stack(), T, { by: "lineno" });
    expect(r.shares.map((s) => [s.source, s.requested, s.count])).toEqual(
      expect.arrayContaining([
        ["a.py:3", 200 * 64, 200],
        ["b.py:9", 5000, 1],
      ]),
    );
    expect(r.shares.find((s) => s.source === "<unknown>:0")).toBeUndefined();
    expect(r.shares.reduce((n, s) => n + s.resident, 0)).toBe(r.rssAnon);
  });

  it("--pins: the arena holding the recorder's blocks is pinned by <untraced> too, not by <unknown>:0", async () => {
    const r = await pinsAndFaultsBySource(stack(), T, { by: "lineno" });
    expect(r.sources.find((s) => s.source === "<unknown>:0")).toBeUndefined();
    expect(r.sources.find((s) => s.source === "<untraced>")).toMatchObject({ arenas: 1, arenasAlone: 0 });
    expect(r.sources.find((s) => s.source === "a.py:3")).toMatchObject({ arenas: 1, arenasAlone: 0 });
  });

  it("--temporary: the recorder's own temporary block is not counted", async () => {
    expect(await temporaryBySource(T, { by: "lineno", within: 10 })).toEqual([]);
  });

  it("blocks allocated before # x-tracemalloc-start are no one's (--since start counts them)", async () => {
    const t = trace("start.memtrace", ["#S 1", ...BLOCKS, "# x-tracemalloc-start", "#S 2", "m raw 5000 0x300000", "f obj 0x100000"]);
    const r = await residentBySource(stack(), t, { by: "lineno" });
    expect(r.shares.filter((s) => s.count > 0).map((s) => [s.source, s.requested, s.count])).toEqual([["b.py:9", 5000, 1]]);
    const all = await residentBySource(stack(), t, { by: "lineno", since: "start" });
    expect(all.shares.find((s) => s.source === "a.py:3")).toMatchObject({ requested: 199 * 64, count: 199 });
    const pins = await pinsAndFaultsBySource(stack(), t, { by: "lineno" });
    // a.py:3's faults (the arena's first pages) were made before tracing started
    expect(pins.sources.find((s) => s.source === "a.py:3")).toBeUndefined();
    expect(pins.sources.find((s) => s.source === "<untraced>")!.faults).toBeGreaterThan(0);
    expect(await temporaryBySource(t, { by: "lineno", within: 1000 })).toEqual([]);
    expect(await temporaryBySource(t, { by: "lineno", within: 1000, since: "start" })).toEqual(["a.py:3: size=64 B, count=1, average=64 B"]);
  });
});
