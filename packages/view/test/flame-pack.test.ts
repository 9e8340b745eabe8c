import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FlamePacker, flameIndexAt, flameTree, pruneFlameTree, renderFlameGraph, unpackFlame, type FlameNode, type FlamePath } from "../src/index.js";

const f = (file: string, line: number) => ({ file, line });

/** main → load → json holds most; a thousand tiny tracebacks under main:50; blocks of no traceback. */
function golden(scale = 1): FlamePath[] {
  const paths: FlamePath[] = [
    { frames: [f("/app/main.py", 30), f("/app/load.py", 12), f("/usr/lib/python3.11/json/decoder.py", 353)], resident: 3 * 2 ** 20 * scale, requested: 2_900_000 * scale, count: 40_000 },
    { frames: [f("/app/main.py", 30), f("/app/load.py", 9)], resident: 2 ** 20, requested: 1_000_000, count: 3 },
    { frames: [f("/app/main.py", 41)], resident: 409_600, requested: 400_000, count: 1 },
    { frames: [f("<no live block>", 0)], resident: 262_144, requested: 0, count: 0 },
  ];
  for (let i = 0; i < 1000; i++) paths.push({ frames: [f("/app/main.py", 50), f("/app/util.py", 100 + i)], resident: 64 + (i % 7) * 16, requested: 48, count: 1 });
  return paths;
}

const count = (n: FlameNode): number => 1 + n.children.reduce((s, c) => s + count(c), 0);

const paths = fc.array(
  fc.record({
    frames: fc.array(fc.record({ file: fc.constantFrom("a.py", "b.py", "<no live block>"), line: fc.integer({ min: 0, max: 30 }) }), { minLength: 1, maxLength: 5 }),
    resident: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1e6 })),
    requested: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1e6 })),
    count: fc.integer({ min: 0, max: 50 }),
  }),
  { maxLength: 200 },
);

describe("flame snapshots: pruned, packed, unpacked", () => {
  it("draws a pruned, packed and unpacked tree exactly as the whole tree, for both metrics, at any budget", () => {
    fc.assert(
      fc.property(paths, fc.integer({ min: 8, max: 80 }), fc.constantFrom(300, 960), (ps, maxNodes, width) => {
        const tree = flameTree(ps);
        const packer = new FlamePacker("all", { maxNodes, width });
        packer.add(7, tree);
        const packed = JSON.parse(JSON.stringify(packer.packed())) as ReturnType<FlamePacker["packed"]>;
        const back = unpackFlame(packed, 0);
        expect(back.event).toBe(7);
        for (const metric of ["resident", "requested"] as const) {
          expect(renderFlameGraph(back.tree, { metric, maxNodes, width, minFramePx: back.minFramePx[metric] })).toBe(renderFlameGraph(tree, { metric, maxNodes, width }));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keeps only the frames drawn on their own: a thousand narrow tracebacks become one rest", () => {
    const tree = flameTree(golden());
    const { tree: pruned, minFramePx } = pruneFlameTree(tree);
    expect(count(tree)).toBe(1 + 2 + 2 + 1 + 1 + 1 + 1000);
    expect(count(pruned)).toBe(1 + 4 + 2 + 1);
    const main50 = pruned.children.find((c) => c.name === "/app/main.py:50")!;
    expect(main50.children).toEqual([]);
    const sum = (k: "resident" | "requested" | "count") => tree.children.find((c) => c.name === "/app/main.py:50")!.children.reduce((s, c) => s + c[k], 0);
    expect(main50.rest).toEqual({
      pruned: 1000,
      resident: { frames: 1000, resident: sum("resident"), requested: sum("requested"), count: 1000 },
      requested: { frames: 1000, resident: sum("resident"), requested: sum("requested"), count: 1000 },
    });
    expect(minFramePx).toEqual({ resident: 1, requested: 1 });
    // the "other" frame and the text alternative's largest frames are those of the whole tree
    expect(renderFlameGraph(pruned)).toContain("other (1000 frames)");
    expect(renderFlameGraph(pruned)).toBe(renderFlameGraph(tree));
  });

  it("stores each file, frame and call path once for all moments, and each moment's numbers only", () => {
    const packer = new FlamePacker();
    packer.add(100, flameTree(golden(1)));
    packer.add(200, flameTree(golden(2)));
    const p = packer.packed();
    expect(p.files).toEqual(["/app/main.py", "/app/load.py", "/usr/lib/python3.11/json/decoder.py", "<no live block>"]);
    expect(p.nodes.length / 2).toBe(8);
    expect(p.frames.length / 2).toBe(7);
    expect(p.snapshots.map((s) => [s.event, s.values.length / 4, s.rest.length / 10])).toEqual([
      [100, 8, 1],
      [200, 8, 1],
    ]);
    expect(unpackFlame(p, 1).tree.resident).toBe(flameTree(golden(2)).resident);
    expect(unpackFlame(p, 0).tree).toEqual(pruneFlameTree(flameTree(golden(1))).tree);
  });

  it("names the moment a slider shows: the last at or before its event", () => {
    const packer = new FlamePacker();
    for (const e of [0, 500, 1000]) packer.add(e, flameTree(golden()));
    const p = packer.packed();
    expect([0, 499, 500, 999, 1000, 5000].map((e) => flameIndexAt(p, e))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(flameIndexAt(p, -1)).toBe(-1);
  });

  it("refuses a moment that does not exist, naming it", () => {
    const packer = new FlamePacker();
    packer.add(1, flameTree(golden()));
    expect(() => unpackFlame(packer.packed(), 3)).toThrow(/flame snapshot 3 does not exist \(1 snapshots\)/);
  });
});
