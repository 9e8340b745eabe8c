import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytes, flameTree, OKABE_ITO, renderFlameGraph, type FlamePath } from "../src/index.js";
import { shapeCount, textAlternative, titles } from "./svg-support.js";

const f = (file: string, line: number) => ({ file, line });
/** A program: main → load → json.loads holds most; a thousand tiny tracebacks; blocks of no traceback. */
function golden(): FlamePath[] {
  const paths: FlamePath[] = [
    { frames: [f("/app/main.py", 30), f("/app/load.py", 12), f("/usr/lib/python3.11/json/decoder.py", 353)], resident: 3 * 2 ** 20, requested: 2_900_000, count: 40_000 },
    { frames: [f("/app/main.py", 30), f("/app/load.py", 9)], resident: 2 ** 20, requested: 1_000_000, count: 3 },
    { frames: [f("/app/main.py", 41)], resident: 409_600, requested: 400_000, count: 1 },
    { frames: [f("<no live block>", 0)], resident: 262_144, requested: 0, count: 0 },
  ];
  for (let i = 0; i < 1000; i++) paths.push({ frames: [f("/app/main.py", 50), f("/app/util.py", 100 + i)], resident: 64 + (i % 7) * 16, requested: 48, count: 1 });
  return paths;
}

describe("flame graph", () => {
  const paths = golden();
  const tree = flameTree(paths);
  const svg = renderFlameGraph(tree, { id: "flame" });

  it("folds tracebacks into frames whose bytes are the sums of the tracebacks through them", () => {
    const total = paths.reduce((n, p) => n + p.resident, 0);
    expect(tree.resident).toBe(total);
    const main30 = tree.children.find((c) => c.name === "/app/main.py:30")!;
    expect(main30.resident).toBe(4 * 2 ** 20);
    expect(main30.children.map((c) => c.name)).toEqual(["/app/load.py:12", "/app/load.py:9"]);
    expect(main30.count).toBe(40_003);
  });

  it("draws each frame as wide as its bytes, callees under their caller", () => {
    const frames = [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"[^>]*class="frame" data-depth="(\d+)" data-bytes="(\d+)"/g)].map((m) => ({ x: Number(m[1]), w: Number(m[3]), depth: Number(m[4]), bytes: Number(m[5]) }));
    const root = frames.find((r) => r.depth === 0)!;
    expect(root.bytes).toBe(tree.resident);
    for (const r of frames) expect(Math.abs(r.w + 0.5 - (r.bytes / tree.resident) * 944)).toBeLessThan(0.02 + (r.w <= 0.5 ? 1 : 0));
    expect(titles(svg)).toContain(`/usr/lib/python3.11/json/decoder.py:353: ${bytes(3 * 2 ** 20)} resident, ${bytes(2_900_000)} requested in 40,000 live blocks`);
  });

  it("merges frames narrower than a pixel into one grey 'other' per caller", () => {
    const merged = [...svg.matchAll(/fill="([^"]+)"[^>]*class="frame"[^>]*data-merged="(\d+)"/g)];
    expect(merged.length).toBe(1);
    expect(Number(merged[0]![2])).toBe(1000);
    expect(merged[0]![1]).toBe("#BBBBBB");
    expect(svg).toContain("other (1000 frames)");
  });

  it("colours frames by file with Okabe–Ito colours, the biggest file first, and says so in its legend", () => {
    expect(svg).toMatch(new RegExp(`fill="${OKABE_ITO.blue}" class="frame"[^>]*><title>/app/main.py:30`));
    expect(svg).toMatch(/fill="#EEEEEE" class="frame"[^>]*><title>&lt;no live block&gt;/);
    expect(svg).toMatch(/class="legend"[^]*main\.py[^]*narrow frames merged/);
  });

  it("draws the live requested bytes with metric: requested", () => {
    const requested = renderFlameGraph(tree, { metric: "requested" });
    expect(requested).toContain(`data-depth="0" data-bytes="${tree.requested}"`);
    expect(textAlternative(requested).title).toBe("Live requested bytes by traceback");
  });

  it("has a text alternative naming the total and the largest frames", () => {
    const alt = textAlternative(svg);
    expect(alt.title).toBe("Resident bytes by traceback");
    expect(alt.desc).toMatch(/^Icicle graph of 4\.7 MiB of resident bytes by traceback, outermost call on top, \d+ frames drawn in 4 rows\. Largest: \/usr\/lib\/python3\.11\/json\/decoder\.py:353 3\.0 MiB/);
  });

  it("matches the committed golden SVG", async () => {
    await expect(svg).toMatchFileSnapshot("__snapshots__/flame-graph.svg");
  });

  it("stays within the node budget for any tree", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ frames: fc.array(fc.record({ file: fc.constantFrom("a.py", "b.py", "c.py"), line: fc.integer({ min: 1, max: 40 }) }), { minLength: 1, maxLength: 6 }), resident: fc.integer({ min: 0, max: 1e6 }), requested: fc.integer({ min: 0, max: 1e6 }) }), { maxLength: 300 }),
        fc.integer({ min: 8, max: 200 }),
        (ps, maxNodes) => {
          const t = flameTree(ps);
          const out = renderFlameGraph(t, { maxNodes });
          const frames = (out.match(/class="frame"/g) ?? []).length;
          expect(frames).toBeLessThanOrEqual(maxNodes);
          expect(shapeCount(out)).toBeLessThan(frames + 60);
        },
      ),
      { numRuns: 60 },
    );
  });
});
