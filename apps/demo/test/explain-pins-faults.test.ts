import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BySourceError, explainBySource, runBySource } from "../src/explain-by-source.js";
import { residentBySource } from "../src/explain-resident.js";
import { temporaryBySource } from "../src/explain-temporary.js";
import { pinsAndFaultsBySource, pinsFaultsLines } from "../src/explain-pins-faults.js";
import { replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";

const dir = mkdtempSync(join(tmpdir(), "pins-faults-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FRAMES = ["#F 1 3 a.py", "#F 2 9 b.py", "#F 3 5 c.py", "#F 4 7 d.py", "#T 1 1 1", "#T 2 1 2", "#T 3 1 3", "#T 4 1 4"];

/** A trace file; one that starts with "#S" gets the frames a.py:3, b.py:9, c.py:5, d.py:7 (tracebacks 1-4) first. */
function trace(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `# memtrace v1\n# frames 1\n${(lines[0]?.startsWith("#S") ? [...FRAMES, ...lines] : lines).join("\n")}\n`);
  return path;
}

const A_BLOCKS = Array.from({ length: 200 }, (_, i) => `m obj 64 0x${(0x100000 + i * 64).toString(16)}`);
const A_FREES = Array.from({ length: 150 }, (_, i) => `f obj 0x${(0x100000 + i * 64).toString(16)}`);

const stack = () => createStack({ ramSize: 64 * 1024 * 1024 });

describe("explain --by --faults: the page faults each source's allocations caused", () => {
  it("charges first touches to the allocation that made them; a reused block faults nothing", async () => {
    const t = trace("faults.memtrace", ["#S 1", ...A_BLOCKS, "#S 2", "m raw 300000 0x9000000", ...A_FREES, "#S 3", "m obj 64 0x100000"]);
    const r = await pinsAndFaultsBySource(stack(), t, { by: "lineno" });
    const of = (s: string) => r.sources.find((x) => x.source === s);
    // a.py:3 carved 200 blocks of 64 bytes: a new arena's pools, page by page
    expect(of("a.py:3")!.faults).toBeGreaterThanOrEqual(3);
    // an mmap'd chunk: glibc writes its header, one page
    expect(of("b.py:9")!.faults).toBe(1);
    // c.py:5 got a freed block back on a resident page
    expect(of("c.py:5")?.faults ?? 0).toBe(0);
    // the replay's faults are the plain replay's, and every one is counted somewhere
    const plain = stack();
    await replayFile(plain, t);
    expect(r.totalFaults).toBe(plain.process.faults.minor);
    const attributed = r.sources.reduce((n, s) => n + s.faults, 0);
    expect(attributed + r.freeFaults).toBeLessThanOrEqual(r.totalFaults);
    expect(attributed).toBe(of("a.py:3")!.faults + 1);
    const lines = pinsFaultsLines(r, { pins: false, faults: true });
    expect(lines[0]).toBe(`a.py:3: faults=${of("a.py:3")!.faults} (${of("a.py:3")!.faults * 4} KiB first touched)`);
    expect(lines.at(-1)).toMatch(/^total: faults=\d+ \(allocations \d+, frees \d+, other records \d+\)$/);
  });
});

describe("explain --by --pins: the arenas and heap top each source's survivors keep", () => {
  it("an arena pinned alone by one line, shared when another line's block lives in it; the heap top by its chunk's line", async () => {
    const alone = await pinsAndFaultsBySource(stack(), trace("alone.memtrace", ["#S 1", ...A_BLOCKS, ...A_FREES]), { by: "lineno" });
    const a = alone.sources.find((s) => s.source === "a.py:3")!;
    expect(alone.pinnedArenas).toBe(1);
    expect(a).toMatchObject({ arenas: 1, arenasAlone: 1 });
    expect(a.residentAlone).toBeGreaterThanOrEqual(3 * 4096);

    const shared = await pinsAndFaultsBySource(
      stack(),
      trace("shared.memtrace", ["#S 1", ...A_BLOCKS, "#S 3", "m obj 200 0x200000", "#S 4", "m raw 1000 0x300000", "#S 1", ...A_FREES]),
      { by: "lineno" },
    );
    const of = (s: string) => shared.sources.find((x) => x.source === s)!;
    expect(of("a.py:3")).toMatchObject({ arenas: 1, arenasAlone: 0, residentAlone: 0 });
    expect(of("c.py:5")).toMatchObject({ arenas: 1, arenasAlone: 0 });
    // d.py:7's 1000-byte chunk is the last one below glibc's top
    expect(of("d.py:7").heapTop).toBe(0); // the top stays under the trim threshold: freeing it trims nothing
    expect(of("a.py:3").heapTop).toBeUndefined();
    const lines = pinsFaultsLines(shared, { pins: true, faults: false });
    expect(lines).toContain("d.py:7: arenas=0 (alone=0, resident=0 B), heap top pinned (freeing it would trim 0 B)");
    expect(lines.at(-1)).toBe("total: pinned arenas=1");
  });

  it("on a committed recording with stacks (json records kept, three 200 kB buffers)", { timeout: 120_000 }, async () => {
    const rec = fileURLToPath(new URL("fixtures/report-stacks/sources.memtrace.gz", import.meta.url));
    const r = await pinsAndFaultsBySource(createStack({ ramSize: 256 * 1024 * 1024 }), rec, { by: "lineno" });
    const plain = createStack({ ramSize: 256 * 1024 * 1024 });
    await replayFile(plain, rec);
    expect(r.totalFaults).toBe(plain.process.faults.minor);
    const attributed = r.sources.reduce((n, s) => n + s.faults, 0);
    expect(attributed / r.totalFaults).toBeGreaterThan(0.9);
    // sources.py:7 builds the 300 records: pages of new pools, and arenas its survivors share
    const records = r.sources.find((s) => s.source.endsWith("sources.py:7"))!;
    expect(records.faults).toBeGreaterThan(10);
    expect(records.arenas).toBeGreaterThanOrEqual(1);
    // every pinned arena is pinned by at least one source
    expect(r.sources.some((s) => s.arenas === r.pinnedArenas)).toBe(true);
  });

  it("runBySource prints them with --pins / --faults, and asks for a stack and stacks", async () => {
    let out = "";
    const t = trace("cli.memtrace", ["#S 1", ...A_BLOCKS]);
    expect(await runBySource(t, { by: "lineno", faults: true, pins: true }, (s) => (out += s), () => Promise.resolve(stack()))).toBe(true);
    expect(out.split("\n")[0]).toMatch(/^a\.py:3: faults=\d+ \(.* first touched\), arenas=1 \(alone=1, resident=.*\)$/);
    await expect(runBySource(t, { faults: true }, () => undefined)).rejects.toThrow(/go with --by/);
    const bare = trace("bare.memtrace", ["m obj 64 0x1000"]);
    await expect(pinsAndFaultsBySource(stack(), bare, { by: "lineno" })).rejects.toThrow(BySourceError);
  });
});

describe("a C program's trace (libc lines only) by call site", () => {
  const c = () =>
    trace("c.memtrace", ["#S 1", "m libc 100 0x1000", "m libc 5000 0x2000", "#S 2", "m libc 64 0x3000", "f libc 0x3000", "#S 3", "c libc 4 25 0x4000"]);

  it("statistics, temporary allocations, resident bytes and faults count the libc lines", async () => {
    expect(await explainBySource(c(), { by: "lineno" })).toEqual([
      "a.py:3: size=5100 B, count=2, average=2550 B",
      "c.py:5: size=100 B, count=1, average=100 B",
    ]);
    expect(await temporaryBySource(c(), { by: "lineno", within: 1 })).toEqual(["b.py:9: size=64 B, count=1, average=64 B"]);
    const resident = await residentBySource(stack(), c(), { by: "lineno" });
    expect(resident.shares.reduce((n, s) => n + s.resident, 0)).toBe(resident.rssAnon);
    expect(resident.shares.find((s) => s.source === "a.py:3")).toMatchObject({ requested: 5100, count: 2 });
    const r = await pinsAndFaultsBySource(stack(), c(), { by: "lineno" });
    // the first malloc makes glibc's heap: its pages are first touched there
    expect(r.sources[0]).toMatchObject({ source: "a.py:3" });
    expect(r.sources[0]!.faults).toBeGreaterThan(0);
  });

  it("a CPython trace leaves its libc lines out, as tracemalloc never sees them", async () => {
    const mixed = trace("mixed.memtrace", ["#S 1", "m obj 100 0x1000", "#S 2", "m libc 64 0x3000"]);
    expect(await explainBySource(mixed, { by: "lineno" })).toEqual(["a.py:3: size=100 B, count=1, average=100 B"]);
  });
});
