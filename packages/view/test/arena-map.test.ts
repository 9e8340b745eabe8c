import { describe, expect, it } from "vitest";
import { arenaMapText, collectMaps, renderArenaMap, sizeClassColour } from "../src/index.js";
import { goldenArenas, makeStack } from "./support.js";
import { countByState, fillsOf, textAlternative, titles } from "./svg-support.js";

describe("arena map", () => {
  const maps = collectMaps(goldenArenas());
  const data = maps.arenas!;
  const svg = renderArenaMap(data, { id: "arenas" });

  it("reads both arenas' pools: classes, counts, empty pools, alignment loss, the pinned arena", () => {
    expect(data.arenas).toHaveLength(2);
    expect(data.arenaSize).toBe(1 << 20);
    expect(data.poolSize).toBe(16384);
    const all = data.arenas.flatMap((a) => a.pools);
    const used = all.filter((p) => p.state === "used");
    expect(used.map((p) => `${p.sizeClass}:${p.used}/${p.capacity}`).sort()).toEqual(["16:600/1021", "256:2/63", "512:31/31", "512:9/31", "64:255/255", "64:45/255"].sort());
    for (const a of data.arenas) {
      expect(a.firstPool - a.base).toBeGreaterThan(0); // mmap gives page alignment: pools start at the next 16 KiB
      expect(a.pools).toHaveLength(63);
    }
    expect(all.filter((p) => p.state === "empty").length).toBe(21 + 58);
    const pinned = data.arenas.filter((a) => a.pin !== undefined);
    expect(pinned.length).toBeGreaterThanOrEqual(1);
    const few = data.arenas.find((a) => a.pin?.liveBlocks === 2)!;
    expect(few.pin!.survivors.map((s) => s.size)).toEqual([256, 256]);
  });

  it("draws a rect a pool (used by class colour, empty dashed) and the loss of each arena", () => {
    expect(countByState(svg)).toEqual({ used: 6, empty: 79 });
    expect(fillsOf(svg, "used").sort()).toEqual([...new Set([16, 64, 256, 512].map((s) => sizeClassColour(s, 512)))].sort());
    expect((svg.match(/class="loss"/g) ?? []).length).toBe(4);
    expect((svg.match(/<g class="pin">/g) ?? []).length).toBe(data.arenas.filter((a) => a.pin).length);
    const t = titles(svg);
    expect(t.some((x) => /size class 16, 600 of 1021 blocks in use \(59%\)/.test(x))).toBe(true);
    expect(t.some((x) => /^pinned arena 0x[0-9a-f]+: .* kept by 2 live blocks \(512 B\): 0x[0-9a-f]+ \(256\), 0x[0-9a-f]+ \(256\)$/.test(x))).toBe(true);
  });

  it("has a text alternative and a legend of size classes and states", () => {
    const alt = textAlternative(svg);
    expect(alt.title).toBe("Arena map (pymalloc)");
    expect(alt.desc).toMatch(/^2 pymalloc arenas of 1\.0 MiB, pools of 16\.0 KiB: 6 pools in use, 79 empty/);
    expect(svg).toMatch(/class="legend"[^]*512 B[^]*empty pool[^]*alignment loss[^]*pinned by survivors/);
  });

  it("says so when there is no arena (PYTHONMALLOC=malloc)", () => {
    const s = makeStack("malloc");
    s.pymem.objectMalloc(32);
    const m = collectMaps(s);
    expect(m.arenas).toBeUndefined();
    const out = renderArenaMap({ arenaSize: 1 << 20, poolSize: 16384, maxSizeClass: 512, arenas: [] });
    expect(out).toContain("no pymalloc arena");
  });

  it("matches the committed golden SVG", async () => {
    await expect(svg).toMatchFileSnapshot("__snapshots__/arena-map.svg");
  });
});

describe("arena map as text", () => {
  const data = collectMaps(goldenArenas()).arenas!;

  it("draws one line an arena, one character a pool, in Unicode blocks", () => {
    const text = arenaMapText(data, { unicode: true });
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const pools = (line: string) => /▕(.*)▏/.exec(line)![1]!;
    const all = lines.slice(0, 2).map(pools).join("");
    expect([...all].length).toBe(126);
    expect([...all].filter((ch) => ch === "·").length).toBe(79);
    expect(lines.filter((l) => l.startsWith("◆")).length).toBe(data.arenas.filter((a) => a.pin).length);
    expect(text).toContain("█"); // the full 64- and 512-byte pools
  });

  it("is plain ASCII when the terminal does not allow Unicode", () => {
    const text = arenaMapText(data, { unicode: false });
    expect(/^[\x20-\x7e\n]*$/.test(text)).toBe(true);
    expect(text).toContain("|");
    expect(text).toContain("@");
  });
});
