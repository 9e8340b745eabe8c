import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BySourceError, explainBySource, runBySource } from "../src/explain-by-source.js";
import { tracedPeak } from "../src/explain-peak.js";
import { temporaryBySource } from "../src/explain-temporary.js";
import { residentBySource, residentLines } from "../src/explain-resident.js";
import { replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";

const dir = mkdtempSync(join(tmpdir(), "by-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function trace(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `# memtrace v1\n# frames 2\n${lines.join("\n")}\n`);
  return path;
}

// a.py:3 called from a.py:10 allocates twice; a.py:5 once; an object reused from a free
// list (#R) moves from a.py:5 to a.py:3; a realloc takes the current traceback; frees end traces
const T = trace("t.memtrace", [
  "#F 1 3 a.py",
  "#F 2 10 a.py",
  "#F 3 5 a.py",
  "#F 4 0 <unknown>",
  "#T 1 2 1 2",
  "#T 2 2 3 2",
  "#T 3 1 4",
  "#S 1",
  "m obj 100 0x1000",
  "c mem 2 50 0x2000",
  "#S 2",
  "m obj 30 0x3000",
  "m obj 24 0x4000",
  "#S 1",
  "#R 0x4000",
  "#S 3",
  "r raw 0x0 1000 0x5000",
  "r mem 0x2000 300 0x2100",
  "f obj 0x1000",
  "m libc 64 0x9000",
]);

describe("explain --by: tracemalloc's statistics from a trace with source locations", () => {
  it("groups by line as snapshot.statistics('lineno') prints", async () => {
    expect(await explainBySource(T, { by: "lineno" })).toEqual([
      "<unknown>:0: size=1300 B, count=2, average=650 B",
      "a.py:5: size=30 B, count=1, average=30 B",
      "a.py:3: size=24 B, count=1, average=24 B",
    ]);
  });

  it("stops at --at (a call event) and compares snapshots", async () => {
    expect(await explainBySource(T, { by: "lineno", at: 4 })).toEqual([
      "a.py:3: size=200 B, count=2, average=100 B",
      "a.py:5: size=54 B, count=2, average=27 B",
    ]);
    expect(await explainBySource(T, { by: "lineno", compareTo: 4 })).toEqual([
      "<unknown>:0: size=1300 B (+1300 B), count=2 (+2), average=650 B",
      "a.py:3: size=24 B (-176 B), count=1 (-1), average=24 B",
      "a.py:5: size=30 B (-24 B), count=1 (-1), average=30 B",
    ]);
  });

  it("by filename, traceback, cumulative and --top", async () => {
    expect(await explainBySource(T, { by: "filename", at: 4 })).toEqual(["a.py:0: size=254 B, count=4, average=64 B"]);
    // str(traceback) is its oldest frame
    expect(await explainBySource(T, { by: "traceback", at: 4 })).toEqual([
      "a.py:10: size=200 B, count=2, average=100 B",
      "a.py:10: size=54 B, count=2, average=27 B",
    ]);
    expect(await explainBySource(T, { by: "lineno", at: 4, cumulative: true, top: 1 })).toEqual(["a.py:10: size=254 B, count=4, average=64 B"]);
  });

  it("--at peak: the first event at tracemalloc's peak of traced bytes (a realloc frees the old size first)", async () => {
    // 100, 200, 230, 254, 1254 (raw realloc of NULL), 1454 (100 -> 300 in mem), 1354 (free); libc not counted
    expect(await tracedPeak(T)).toEqual({ at: 6, peak: 1454, current: 1354 });
    expect(await tracedPeak(T, { until: 4 })).toEqual({ at: 4, peak: 254, current: 254 });
    expect(await tracedPeak(T, { since: 5 })).toEqual({ at: 6, peak: 300, current: 300 }); // the realloc of an untraced block traces the new one
    let out = "";
    expect(await runBySource(T, { by: "lineno", at: "peak" }, (t) => (out += t))).toBe(true);
    expect(out.split("\n").filter(Boolean)).toEqual(await explainBySource(T, { by: "lineno", at: 6 }));
    out = "";
    await runBySource(T, { by: "lineno", compareTo: "peak" }, (t) => (out += t));
    expect(out.split("\n").filter(Boolean)).toEqual(await explainBySource(T, { by: "lineno", compareTo: 6 }));
    // a C program's trace (libc lines only) counts its libc blocks
    expect(await tracedPeak(trace("c.memtrace", ["m libc 64 0x10", "m libc 32 0x20", "f libc 0x10"]))).toEqual({ at: 2, peak: 96, current: 32 });
  });

  it("leaves untraced what the recorder marks as not the program's (its own calls, tracemalloc's initialisation)", async () => {
    const t = trace("own.memtrace", [
      "#F 1 3 a.py",
      "#T 1 1 1",
      "#S 1",
      "m obj 10 0x100",
      "# recorder-own-begin",
      "m obj 72 0x200",
      "#R 0x100",
      "# recorder-own-end",
      "# tracemalloc-init-begin",
      "m raw 32 0x300",
      "# tracemalloc-init-end",
      "m obj 20 0x400",
    ]);
    expect(await explainBySource(t, { by: "lineno" })).toEqual(["a.py:3: size=30 B, count=2, average=15 B"]);
    expect(await tracedPeak(t)).toEqual({ at: 4, peak: 30, current: 30 });
  });

  it("--temporary: blocks freed within N call events, by where they were allocated", async () => {
    // 0x2000 (a.py:3) lives from call 2 to call 6 (realloc'd away), 0x1000 (a.py:3) from 1 to 7
    expect(await temporaryBySource(T, { by: "lineno", within: 3 })).toEqual([]);
    expect(await temporaryBySource(T, { by: "lineno", within: 4 })).toEqual(["a.py:3: size=100 B, count=1, average=100 B"]);
    expect(await temporaryBySource(T, { by: "traceback", within: 6 })).toEqual(["a.py:10: size=200 B, count=2, average=100 B"]);
  });

  it("replay --out keeps the records: the replayed trace (simulated pointers) gives the same statistics", async () => {
    const out = join(dir, "replayed.memtrace");
    await replayFile(createStack({ ramSize: 64 * 1024 * 1024 }), T, { out });
    for (const by of ["lineno", "traceback"] as const) {
      expect(await explainBySource(out, { by })).toEqual(await explainBySource(T, { by }));
      expect(await explainBySource(out, { by, at: 4 })).toEqual(await explainBySource(T, { by, at: 4 }));
    }
  });

  it("--resident: the resident pages split by source sum to the account's RssAnon", async () => {
    const big = trace("resident.memtrace", [
      "#F 1 3 a.py",
      "#F 2 9 b.py",
      "#T 1 1 1",
      "#T 2 1 2",
      "#S 1",
      ...Array.from({ length: 200 }, (_, i) => `m obj 64 0x${(0x100000 + i * 64).toString(16)}`),
      "#S 2",
      "m raw 300000 0x9000000",
      ...Array.from({ length: 150 }, (_, i) => `f obj 0x${(0x100000 + i * 64).toString(16)}`),
    ]);
    const result = await residentBySource(createStack({ ramSize: 64 * 1024 * 1024 }), big, { by: "lineno" });
    const sum = result.shares.reduce((n, s) => n + s.resident, 0);
    expect(result.rssAnon).toBeGreaterThan(0);
    expect(sum).toBe(result.rssAnon);
    const a = result.shares.find((s) => s.source === "a.py:3")!;
    expect(a).toMatchObject({ requested: 50 * 64, count: 50 });
    expect(a.resident).toBeGreaterThanOrEqual(4096); // its pool's page at least, though 150 of its 200 blocks were freed
    expect(result.shares.find((s) => s.source === "b.py:9")).toMatchObject({ requested: 300000, count: 1 });
    expect(result.shares.some((s) => s.source === "<no live block>")).toBe(true);
    const lines = residentLines(result);
    expect(lines.at(-1)).toBe(`total: resident=${lines.at(-1)!.split("resident=")[1]!.split(" (")[0]} (RssAnon ${result.rssAnon} bytes)`);
  });

  it("says in one line that a trace without stacks cannot answer, and refuses a moment beyond the end", async () => {
    const plain = trace("plain.memtrace", ["m obj 16 0x10"]);
    await expect(explainBySource(plain, { by: "lineno" })).rejects.toThrow(BySourceError);
    await expect(explainBySource(plain, { by: "lineno" })).rejects.toThrow(/no source locations .*record it with them/);
    await expect(explainBySource(T, { by: "lineno", at: 99 })).rejects.toThrow("--at 99 is beyond the end of the trace (8 call events)");
  });

  it("rejects a stack record that refers to an unknown id, with its line number", async () => {
    const bad = trace("bad.memtrace", ["#F 1 1 a.py", "#S 2", "m obj 1 0x10"]);
    await expect(explainBySource(bad, { by: "lineno" })).rejects.toThrow("memtrace: line 4: stack (#S) refers to traceback 2");
  });
});
