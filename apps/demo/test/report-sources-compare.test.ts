/**
 * `mem-demo report`'s sources picture (a trace with stacks: flame snapshots at the map
 * snapshots' events) and `--compare` (the what-if table and the RSS lines): the figures in the
 * page are explain's and compare's for the same trace.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { flameTree, renderFlameGraph, unpackFlame, type PackedFlames } from "@mem/view";
import { residentBySource } from "../src/explain-resident.js";
import { prepareReplay } from "../src/replay-command.js";
import { FLAME_NODE_BUDGET, flameMoments, flamePaths, MAX_FLAME_SNAPSHOTS } from "../src/report-sources.js";
import { built, cleanTempDirs, mem, tempDir } from "./cli-support.js";

cleanTempDirs();
/** Recorded with `mem-demo record --frames 5 -- python3 -S -I sources.py` (CPython 3.11.7). */
const STACKS = fileURLToPath(new URL("./fixtures/report-stacks/sources.memtrace.gz", import.meta.url));
const NO_STACKS = fileURLToPath(new URL("../../../packages/small-object/test/fixtures/recordings/startup.memtrace.gz", import.meta.url));

/** The page's data: the map snapshots' events, the peak and the flame snapshots. */
function reportData(html: string): { snapshots: { event: number }[]; timeline: { peak: { event: number } }; flames: PackedFlames; flameBudget: number } {
  return JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as ReturnType<typeof reportData>;
}

/** The report of the stacks fixture, written once. */
let stacksHtml: string | undefined;
function stacksReport(): string {
  if (stacksHtml === undefined) {
    const dir = tempDir();
    const r = mem(["report", STACKS, "-o", "r.html"], { cwd: dir });
    expect(r.status).toBe(0);
    stacksHtml = readFileSync(join(dir, "r.html"), "utf8");
  }
  return stacksHtml;
}

/** `explain --by traceback --resident`'s attribution, in this process. */
async function resident(at: number | "end") {
  const { stack } = await prepareReplay(STACKS, {}, {}, () => undefined);
  return residentBySource(stack, STACKS, { by: "traceback", at });
}

describe("flameMoments", () => {
  it("takes every map snapshot when there are few, else at most 64 evenly spread with the first, the end and the peak's nearest", () => {
    expect(flameMoments([10, 20, 30], 25)).toEqual([10, 20, 30]);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 1, maxLength: 400 }), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 3, max: 80 }), (raw, peak, max) => {
        const events = [...raw].sort((a, b) => a - b);
        const got = flameMoments(events, peak, max);
        const n = events.length;
        if (n <= max) {
          expect(got).toEqual(events);
          return;
        }
        expect(got.length).toBeLessThanOrEqual(max);
        expect(got.length).toBeGreaterThanOrEqual(max - 1);
        expect([...got].sort((a, b) => a - b)).toEqual(got);
        expect(new Set(got).size).toBe(got.length);
        for (const e of got) expect(events).toContain(e);
        expect(got[0]).toBe(events[0]);
        expect(got.at(-1)).toBe(events.at(-1));
        const nearest = Math.min(...events.map((e) => Math.abs(e - peak)));
        expect(got.some((e) => Math.abs(e - peak) === nearest)).toBe(true);
        // evenly: no two neighbours further apart (in snapshots) than one even step, rounded up
        const at = got.map((e) => events.indexOf(e));
        const step = Math.ceil((n - 1) / (max - 2));
        for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeLessThanOrEqual(step);
      }),
    );
  });
});

describe.skipIf(!built)("mem-demo report: sources", () => {
  it("draws resident and live requested bytes by traceback when the trace has stacks; the end is explain --resident's, drawn as before", async () => {
    const html = stacksReport();
    const dir = tempDir();
    expect(html).not.toContain('id="sources-note"');
    const data = reportData(html);
    const end = unpackFlame(data.flames, data.flames.snapshots.length - 1);
    const explain = mem(["explain", STACKS, "--by", "traceback", "--resident"], { cwd: dir });
    expect(explain.status).toBe(0);
    // "total: resident=… (RssAnon N bytes)": the shares sum to RssAnon
    const rss = Number(/RssAnon (\d+) bytes\)$/m.exec(explain.stdout)![1]);
    expect(end.tree.resident).toBe(rss);
    const json = JSON.parse(mem(["explain", STACKS, "--json"], { cwd: dir }).stdout) as { end: { event: number; rssAnon: number; liveRequested: number } };
    expect(rss).toBe(json.end.rssAnon);
    expect(end.event).toBe(json.end.event);
    // the requested picture: the live blocks' requested bytes (the trace's, no block before tracing)
    expect(end.tree.requested).toBeGreaterThan(0);
    expect(end.tree.requested).toBeLessThanOrEqual(json.end.liveRequested);
    // the pictures the page draws at the end are those of the whole tree at the end (today's)
    const whole = flameTree(flamePaths(await resident("end")), "all");
    for (const metric of ["resident", "requested"] as const) {
      const options = { id: `flame-${metric}-svg`, maxNodes: data.flameBudget, metric };
      const drawn = renderFlameGraph(end.tree, { ...options, minFramePx: end.minFramePx[metric] });
      expect(drawn).toBe(renderFlameGraph(whole, options));
      expect(drawn).toMatch(/<title>[^<]*\/sources\.py:\d+: [^<]*resident/);
    }
    expect(data.flameBudget).toBe(FLAME_NODE_BUDGET);
  });

  it("draws the sources at up to 64 of the map snapshots' events: the first, the peak's nearest and the end among them", () => {
    const data = reportData(stacksReport());
    const events = data.snapshots.map((s) => s.event);
    const flames = data.flames.snapshots.map((s) => s.event);
    expect(events.length).toBeGreaterThan(MAX_FLAME_SNAPSHOTS);
    expect(flames).toEqual(flameMoments(events, data.timeline.peak.event));
    expect(flames.length).toBeLessThanOrEqual(MAX_FLAME_SNAPSHOTS);
    const peak = data.timeline.peak.event;
    const nearest = events.reduce((b, e) => (Math.abs(e - peak) < Math.abs(b - peak) ? e : b));
    expect(flames).toContain(nearest);
    expect(flames[0]).toBe(events[0]);
    expect(flames.at(-1)).toBe(events.at(-1));
    // each frame stored once for the whole report
    expect(new Set(data.flames.files).size).toBe(data.flames.files.length);
  });

  it("has at each flame snapshot the totals of explain --by traceback --resident --at that event", async () => {
    const data = reportData(stacksReport());
    const dir = tempDir();
    const n = data.flames.snapshots.length;
    const peak = data.timeline.peak.event;
    const nearPeak = data.flames.snapshots.reduce((b, s, i) => (Math.abs(s.event - peak) < Math.abs(data.flames.snapshots[b]!.event - peak) ? i : b), 0);
    for (const k of [...new Set([nearPeak, Math.floor(n / 3), n - 2])]) {
      const flame = unpackFlame(data.flames, k);
      const explain = mem(["explain", STACKS, "--by", "traceback", "--resident", "--at", String(flame.event)], { cwd: dir });
      expect(explain.status).toBe(0);
      expect(flame.tree.resident, `resident at event ${flame.event}`).toBe(Number(/RssAnon (\d+) bytes\)$/m.exec(explain.stdout)![1]));
      const shares = (await resident(flame.event)).shares;
      expect(flame.tree.requested, `requested at event ${flame.event}`).toBe(shares.reduce((s, x) => s + x.requested, 0));
      expect(flame.tree.count, `live blocks at event ${flame.event}`).toBe(shares.reduce((s, x) => s + x.count, 0));
      // the biggest traceback is drawn: its frames down from the root, its leaf with its bytes
      const biggest = shares.find((x) => x.frames !== undefined)!;
      let node = flame.tree;
      for (const [file, line] of [...biggest.frames!].reverse()) node = node.children.find((c) => c.name === (line > 0 ? `${file}:${line}` : file))!;
      expect(node.resident).toBeGreaterThanOrEqual(biggest.resident);
    }
    // the moments differ: the picture moves with the slider
    expect(new Set(data.flames.snapshots.map((_, i) => unpackFlame(data.flames, i).tree.resident)).size).toBeGreaterThan(10);
  }, 120_000);

  it("says why there is no sources picture for a trace without stacks", () => {
    const dir = tempDir();
    expect(mem(["report", NO_STACKS, "-o", "r.html"], { cwd: dir }).status).toBe(0);
    const html = readFileSync(join(dir, "r.html"), "utf8");
    expect(html).not.toContain('id="flame-resident"');
    expect(html).not.toContain('"flames":');
    expect(html).toContain('<p id="sources-note">This trace has no stacks (no #F/#T/#S records), so there is no flame graph of sources: record it with them, e.g. mem-demo record --frames 5 -- python3 script.py</p>');
  });
});

describe.skipIf(!built)("mem-demo report --compare", () => {
  const settings = ["PYTHONMALLOC=malloc", "pymalloc=3.8 MALLOC_TRIM_THRESHOLD_=0"];

  it("shows compare --json's figures for the same settings, and each configuration's RSS as a line", () => {
    const dir = tempDir();
    const r = mem(["report", NO_STACKS, "-o", "r.html", ...settings.flatMap((s) => ["--compare", s])], { cwd: dir });
    expect(r.status).toBe(0);
    const html = readFileSync(join(dir, "r.html"), "utf8");
    const compare = JSON.parse(mem(["compare", NO_STACKS, ...settings.flatMap((s) => ["--with", s]), "--json"], { cwd: dir }).stdout) as {
      columns: { label: string; settings: string; figures: Record<string, number | Record<string, number>> | null }[];
    };
    expect(compare.columns.map((c) => c.label)).toEqual(["baseline", ...settings]);
    const table = /<table id="compare">(.*?)<\/table>/s.exec(html)![1]!;
    const cells = [...table.matchAll(/data-column="(\d+)" data-key="(\w+)" data-value="(\d+)"/g)].map((m) => ({ column: Number(m[1]), key: m[2]!, value: Number(m[3]) }));
    expect(cells.length).toBe(13 * 3);
    for (const c of cells) {
      const f = compare.columns[c.column]!.figures!;
      const sys = f.syscalls as Record<string, number>;
      const expected = c.key in sys ? sys[c.key] : c.key === "syscalls" ? Object.values(sys).reduce((a, b) => a + b, 0) : f[c.key];
      expect(c.value, `${c.key} of column ${c.column}`).toBe(expected);
    }
    compare.columns.forEach((c, i) => expect(html).toContain(`<th data-column="${i}" title="${c.settings}">`));
    // the page's data carries one RSS line per configuration; its last point is compare's RssAnon at the end
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as { series: { label: string; points: { event: number; value: number }[] }[] };
    expect(data.series.map((s) => s.label)).toEqual(settings);
    data.series.forEach((s, i) => expect(s.points.at(-1)!.value).toBe(compare.columns[i + 1]!.figures!.endRssAnon));
  }, 120_000);

  it("refuses a --compare string compare would refuse, in one line, before replaying", () => {
    const dir = tempDir();
    const r = mem(["report", NO_STACKS, "-o", "r.html", "--compare", "PYTHONMALLOC=fast"], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^mem-demo report: --compare 'PYTHONMALLOC=fast': /);
  });
});
