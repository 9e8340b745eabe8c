/**
 * `mem-demo report`'s sources picture (a trace with stacks) and `--compare` (the what-if table
 * and the RSS lines): the figures in the page are explain's and compare's for the same trace.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { built, cleanTempDirs, mem, tempDir } from "./cli-support.js";

cleanTempDirs();
/** Recorded with `mem-demo record --frames 5 -- python3 -S -I sources.py` (CPython 3.11.7). */
const STACKS = fileURLToPath(new URL("./fixtures/report-stacks/sources.memtrace.gz", import.meta.url));
const NO_STACKS = fileURLToPath(new URL("../../../packages/small-object/test/fixtures/recordings/startup.memtrace.gz", import.meta.url));

/** The `data-bytes` of the root frame of an icicle graph in the page. */
function rootBytes(html: string, id: string): number {
  const svg = new RegExp(`<svg [^>]*id="${id}"[^]*?</svg>`).exec(html)![0];
  return Number(/class="frame" data-depth="0" data-bytes="(\d+)"/.exec(svg)![1]);
}

describe.skipIf(!built)("mem-demo report: sources", () => {
  it("draws resident and live requested bytes by traceback when the trace has stacks; the totals are explain --resident's", () => {
    const dir = tempDir();
    const r = mem(["report", STACKS, "-o", "r.html"], { cwd: dir });
    expect(r.status).toBe(0);
    const html = readFileSync(join(dir, "r.html"), "utf8");
    expect(html).not.toContain('id="sources-note"');
    const explain = mem(["explain", STACKS, "--by", "traceback", "--resident"], { cwd: dir });
    expect(explain.status).toBe(0);
    // "total: resident=… (RssAnon N bytes)": the shares sum to RssAnon
    const rss = Number(/RssAnon (\d+) bytes\)$/m.exec(explain.stdout)![1]);
    expect(rootBytes(html, "flame-resident-svg")).toBe(rss);
    const json = JSON.parse(mem(["explain", STACKS, "--json"], { cwd: dir }).stdout) as { end: { rssAnon: number; liveRequested: number } };
    expect(rss).toBe(json.end.rssAnon);
    // the requested picture: the live blocks' requested bytes (the trace's, no block before tracing)
    expect(rootBytes(html, "flame-requested-svg")).toBeGreaterThan(0);
    expect(rootBytes(html, "flame-requested-svg")).toBeLessThanOrEqual(json.end.liveRequested);
    expect(html).toMatch(/<title>[^<]*\/sources\.py:\d+: [^<]*resident/);
  });

  it("says why there is no sources picture for a trace without stacks", () => {
    const dir = tempDir();
    expect(mem(["report", NO_STACKS, "-o", "r.html"], { cwd: dir }).status).toBe(0);
    const html = readFileSync(join(dir, "r.html"), "utf8");
    expect(html).not.toContain("flame-resident-svg");
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
