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
  it("draws each moment, pruned, packed and unpacked, exactly as its whole tree, for both metrics, at any budget", () => {
    // moments that share tracebacks (some unchanged from the moment before), as a replay's do
    const moments = fc.array(fc.oneof(paths.map((ps) => ({ ps, again: false })), fc.constant({ ps: [] as FlamePath[], again: true })), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(moments, fc.integer({ min: 8, max: 80 }), fc.constantFrom(300, 960), (ms, maxNodes, width) => {
        const packer = new FlamePacker("all", { maxNodes, width });
        const trees: FlameNode[] = [];
        ms.forEach((m, i) => {
          const tree = m.again && i > 0 ? trees[i - 1]! : flameTree(m.ps);
          trees.push(tree);
          packer.add(10 * i, tree);
        });
        const packed = JSON.parse(JSON.stringify(packer.packed())) as ReturnType<FlamePacker["packed"]>;
        trees.forEach((tree, i) => {
          const back = unpackFlame(packed, i);
          expect(back.event).toBe(10 * i);
          expect(back.tree).toEqual(pruneFlameTree(tree, { maxNodes, width }).tree);
          for (const metric of ["resident", "requested"] as const) {
            expect(renderFlameGraph(back.tree, { metric, maxNodes, width, minFramePx: back.minFramePx[metric] })).toBe(renderFlameGraph(tree, { metric, maxNodes, width }));
          }
        });
      }),
      { numRuns: 200 },
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
    // eight nodes kept; at 200 the four on the scaled path (the root, main.py:30, load.py:12,
    // decoder.py:353) have new numbers, the other four are "as before" (one number each);
    // the thousand narrow callees of main.py:50: one rest of six numbers (the same sums for both metrics)
    expect(p.snapshots.map((s) => [s.event, s.values.length, s.values.filter((v) => v < 0).length, s.rest.length])).toEqual([
      [100, 8 * 4, 0, 6],
      [200, 4 * 4 + 4, 4, 6],
    ]);
    expect(unpackFlame(p, 1).tree.resident).toBe(flameTree(golden(2)).resident);
    expect(unpackFlame(p, 0).tree).toEqual(pruneFlameTree(flameTree(golden(1))).tree);
  });

  it("stores both metrics' sums of what was left out when they differ", () => {
    // a thousand narrow callees, half of them with no requested bytes (blocks of size 0)
    const ps = golden().map((x, i) => (i >= 4 && i % 2 === 0 ? { ...x, requested: 0 } : x));
    const packer = new FlamePacker();
    packer.add(1, flameTree(ps));
    const p = packer.packed();
    expect(p.snapshots[0]!.rest.length).toBe(10);
    expect(p.snapshots[0]!.rest[1]).toBe(-1 - 1000);
    const { rest } = unpackFlame(p, 0).tree.children.find((c) => c.name === "/app/main.py:50")!;
    expect(rest?.pruned).toBe(1000);
    expect(rest?.resident.frames).toBe(1000);
    expect(rest?.requested.frames).toBe(500);
    expect(rest?.requested.requested).toBe(500 * 48);
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
