import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { explainTrace } from "../src/explain-command.js";

const FIXTURES = fileURLToPath(new URL("../../../packages/insight/test/fixtures/", import.meta.url));

/** A value of `_debugmallocstats` in the section after `marker`. */
function stat(text: string, marker: string, label: string): number {
  const section = text.slice(text.indexOf(marker));
  const line = section.split("\n").find((l) => l.startsWith(label));
  if (line === undefined) throw new Error(`no "${label}" after "${marker}"`);
  return Number(line.split("=").at(-1)!.replace(/,/g, "").trim());
}

describe("arena pins against real CPython 3.11 (scattered-frees.py: 50,000 tuples, 90% freed in scattered order)", () => {
  it("real pymalloc keeps its arenas, and the account's pins say every arena is kept by survivors", async () => {
    const real = readFileSync(`${FIXTURES}scattered-frees.stats.txt`, "utf8");
    const before = stat(real, "### before", "# arenas allocated current");
    const after = stat(real, "### after", "# arenas allocated current");
    expect(after).toBeGreaterThanOrEqual(before); // real CPython released none: 8 before, 9 after
    // the event where the script called _debugmallocstats the second time: the free of `order`
    const outcome = await explainTrace(`${FIXTURES}scattered-frees.memtrace.gz`, {}, { at: 855133, every: 100000 });
    const at = outcome.json.at!;
    expect(at.pymallocArenas).toBe(after);
    expect(at.pins.keptEmptyArenas).toBe(0);
    expect(at.pins.arenas).toHaveLength(after); // every arena is pinned by live blocks
    for (const a of at.pins.arenas) expect(a.liveBlocks).toBeGreaterThan(0);
    // the live bytes agree with the real run's "bytes in allocated blocks" to 0.1%
    const realLive = stat(real, "### after", "# bytes in allocated blocks");
    expect(Math.abs(at.causes["pymalloc.live-blocks"]! - realLive) / realLive).toBeLessThan(0.001);
    // and malloc_trim(0) could not reach the free space inside the arenas
    expect(at.pins.trim!.unreachablePymalloc).toBeGreaterThan(3_000_000);
  }, 300_000);
});
