import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseTrace } from "@mem/memtrace";
import { describe, expect, it } from "vitest";
import { recordLibc, recordPython } from "../../src/record/index.js";
import { rssCheck, rssCommentOf } from "../../src/rss-check.js";
import { cacheDir, haveCompiler, havePython, scratch } from "./support.js";

type Sample = NonNullable<ReturnType<typeof rssCommentOf>>;

function samplesOf(path: string): { samples: Sample[]; calls: number; arenas: number } {
  const events = parseTrace(readFileSync(path, "utf8"));
  const samples = events.flatMap((e) => (e.kind === "comment" ? [rssCommentOf(e.text)].filter((s) => s !== undefined) : []));
  const calls = events.filter((e) => ["malloc", "calloc", "realloc", "free", "memalign"].includes(e.kind)).length;
  const arenas = events.filter((e) => e.kind === "arena-alloc").length - events.filter((e) => e.kind === "arena-free").length;
  return { samples, calls, arenas };
}

// a 1 MiB block (glibc mmaps it) of which the program writes the first half only
const HALF = [
  "python3", "-S", "-c",
  "import ctypes; l = ctypes.CDLL(None); l.malloc.restype = ctypes.c_void_p; p = l.malloc(1 << 20); ctypes.memset(p, 1, 1 << 19)",
];

describe.skipIf(!haveCompiler)("# rss samples of the libc shim (real glibc)", () => {
  it("samples every K events and at exit; an mmapped block half written is half resident; none and all bracket it, measured matches", { timeout: 120_000 }, async () => {
    const out = join(scratch(), "half.memtrace");
    const rec = await recordLibc(HALF, { out, stdio: "pipe", cacheDir, rssEvery: 50 });
    expect(rec.exitCode).toBe(0);
    const { samples, calls } = samplesOf(out);
    expect(samples.length).toBe(Math.floor(calls / 50) + 1);
    samples.slice(0, -1).forEach((s, i) => expect(s.event).toBe((i + 1) * 50));
    const end = samples.at(-1)!;
    expect(end.event).toBe(calls);
    expect(end.arenas).toBe(0);
    // the half written (512 KiB) and the chunk header's page, give or take python's own mmapped blocks
    expect(end.mmapped).toBeGreaterThanOrEqual(512 * 1024);
    expect(end.mmapped).toBeLessThan(768 * 1024);
    expect(end.heap + end.mmapped).toBeLessThanOrEqual(end.rssAnon);
    const none = (await rssCheck(out, {}, "none")).at(-1)!;
    const all = (await rssCheck(out, {}, "all")).at(-1)!;
    expect(none.predicted.mmapped).toBeLessThan(end.mmapped);
    expect(all.predicted.mmapped).toBeGreaterThan(end.mmapped);
    // the shim wrote the block's resident pages (# touched) before the sample: the replay touches the same
    const measured = (await rssCheck(out, {}, "measured")).at(-1)!;
    expect(Math.abs(measured.predicted.mmapped - end.mmapped)).toBeLessThanOrEqual(8192);
  });

  it("a 32 KiB block with one page written: # touched from 8 KiB (# touched-min), measured exact where written-whole is too high", { timeout: 120_000 }, async () => {
    const out = join(scratch(), "page.memtrace");
    const program = "import ctypes; l = ctypes.CDLL(None); l.malloc.restype = ctypes.c_void_p; p = l.malloc(32768); ctypes.memset(p, 1, 4096); print(hex(p))";
    const rec = await recordLibc(["python3", "-S", "-c", program], { out, stdio: "pipe", cacheDir, rssEvery: 1000 });
    expect(rec.exitCode).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(/^# touched-min 8192$/m);
    expect(text).toContain(`# touched ${rec.stdout.trim()} 0-`);
    const measured = await rssCheck(out, {}, "measured");
    for (const s of measured) expect(s.predicted.heap).toBe(s.recorded.heap);
    const all = (await rssCheck(out, {}, "all")).at(-1)!;
    // 28 KiB unwritten, less what of them the heap had resident already (20 KiB measured)
    expect(all.predicted.heap - all.recorded.heap).toBeGreaterThanOrEqual(12 * 1024);
  });

  it("MEMTRACE_RSS_PAGES=1 (debugging) lists the resident pages of each range before each sample, as many as the sample counts", { timeout: 120_000 }, async () => {
    const out = join(scratch(), "pages.memtrace");
    await recordLibc(HALF, { out, stdio: "pipe", cacheDir, rssEvery: 500, env: { ...process.env, MEMTRACE_RSS_PAGES: "1" } });
    const pages = (ranges: string[]): number => ranges.reduce((n, r) => n + Number(r.split("-")[1]) - Number(r.split("-")[0]) + 1, 0) * 4096;
    let heap = 0, mmapped = 0, checked = 0;
    for (const line of readFileSync(out, "utf8").split("\n")) {
      const [hash, what, range, , ...ranges] = line.split(" ");
      if (hash === "#" && what === "rss-pages") {
        if (range === "heap") heap += pages(ranges);
        if (range === "mmapped") mmapped += pages(ranges);
      }
      const s = rssCommentOf(line.slice(1));
      if (s === undefined) continue;
      expect([heap, mmapped]).toEqual([s.heap, s.mmapped]);
      heap = mmapped = 0;
      checked++;
    }
    expect(checked).toBeGreaterThan(1);
  });

  it("MEMTRACE_RSS_EVERY=0 writes none", { timeout: 120_000 }, async () => {
    const out = join(scratch(), "none.memtrace");
    await recordLibc(HALF, { out, stdio: "pipe", cacheDir, rssEvery: 0 });
    expect(samplesOf(out).samples).toHaveLength(0);
  });
});

describe.skipIf(!havePython)("# rss samples of the CPython recorder", () => {
  it("measures the live arenas, within their size, and the brk heap within RssAnon", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const out = join(dir, "dicts.memtrace");
    const rec = await recordPython(["python3", "-S", "-c", "d = {str(i): [i] * 3 for i in range(20000)}"], {
      out, stdio: "pipe", cacheDir, frames: 0, rssEvery: 5000,
    });
    expect(rec.exitCode).toBe(0);
    const { samples, calls, arenas } = samplesOf(out);
    expect(samples.at(-1)!.event).toBe(calls);
    expect(samples.length).toBe(Math.floor(calls / 5000) + 1);
    const end = samples.at(-1)!;
    expect(end.arenas).toBeGreaterThan(0);
    expect(end.arenas).toBeLessThanOrEqual(arenas * 1048576);
    for (const s of samples) expect(s.heap + s.arenas + s.mmapped).toBeLessThanOrEqual(s.rssAnon);
    // the direct malloc calls are recorded by default (--no-libc-calls: not)
    expect(readFileSync(out, "utf8")).toMatch(/^# libc-calls: [1-9]\d* written/m);
  });

  it("a live block resident whole gets one # touched line, not one a sample (300 lists of 8.8 KiB over 40 samples), and the prediction stays exact", { timeout: 120_000 }, async () => {
    const out = join(scratch(), "lists.memtrace");
    const program = "keep = [[0] * 1100 for _ in range(300)]\nfor r in range(20):\n    tmp = [[i] for i in range(2000)]\n    del tmp\n";
    expect((await recordPython(["python3", "-S", "-c", program], { out, stdio: "pipe", cacheDir, frames: 0, rssEvery: 1000 })).exitCode).toBe(0);
    const text = readFileSync(out, "utf8");
    const touched = text.split("\n").filter((l) => l.startsWith("# touched ")).length;
    const samples = await rssCheck(out, {}, "measured");
    expect(samples.length).toBeGreaterThan(40);
    expect(touched).toBeGreaterThanOrEqual(300);
    expect(touched).toBeLessThan(600); // one a block and a sample: more than 12,000
    for (const s of samples) expect(s.predicted).toEqual({ heap: s.recorded.heap, arenas: s.recorded.arenas, mmapped: s.recorded.mmapped });
  });

  // CPython's start-up (site imports) calls malloc directly (the C library, extension modules):
  // without those calls the replayed brk heap is laid out differently from the real one
  it("with the direct malloc calls as libc lines every sample is predicted exactly; without (--no-libc-calls), the start-up heap is off", { timeout: 240_000 }, async () => {
    const dir = scratch();
    const program = ["python3", "-c", "d = {str(i): [i] * 3 for i in range(3000)}"];
    const withCalls = join(dir, "with.memtrace");
    expect((await recordPython(program, { out: withCalls, stdio: "pipe", cacheDir, frames: 0, rssEvery: 2000, libcCalls: true })).exitCode).toBe(0);
    const text = readFileSync(withCalls, "utf8");
    expect(text).toMatch(/^m libc \d+ 0x[0-9a-f]+$/m);
    expect(text).toMatch(/^# libc-calls: [1-9]\d* written/m);
    const exact = await rssCheck(withCalls, {}, "measured");
    expect(exact.length).toBeGreaterThan(10);
    for (const s of exact) expect(s.predicted).toEqual({ heap: s.recorded.heap, arenas: s.recorded.arenas, mmapped: s.recorded.mmapped });
    const without = join(dir, "without.memtrace");
    expect((await recordPython(program, { out: without, stdio: "pipe", cacheDir, frames: 0, rssEvery: 2000, libcCalls: false })).exitCode).toBe(0);
    expect(readFileSync(without, "utf8")).not.toMatch(/^m libc /m);
    const first = (await rssCheck(without, {}, "measured"))[0]!;
    expect(Math.abs(first.predicted.heap - first.recorded.heap)).toBeGreaterThanOrEqual(4096);
  });
});
