/**
 * Replays the probe recordings (real pymalloc of CPython 3.8, 3.9, 3.10 and 3.11 driven by
 * pymalloc_probe.c, committed under test/fixtures/probe) and compares the statistics text
 * and every block's offset inside its arena with what the real allocator did.
 */
import { readdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { PymallocVersion } from "../src/index.js";
import { makeHost } from "./helpers/host.js";
import { replay } from "./helpers/replay.js";

const dir = new URL("./fixtures/probe/", import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".memtrace.gz"))
  .map((f) => f.slice(0, -".memtrace.gz".length))
  .sort();

describe("replaying real pymalloc (probe recordings)", () => {
  it("has recordings for every version", () => {
    for (const v of ["3.8", "3.9", "3.10", "3.11"]) expect(names.filter((n) => n.endsWith(`-${v}`)).length).toBeGreaterThanOrEqual(6);
  });
  for (const name of names) {
    const version = name.slice(name.lastIndexOf("-") + 1) as PymallocVersion;
    it(`${name}: same block offsets, _debugmallocstats text and PYTHONMALLOCSTATS dumps`, () => {
      const trace = gunzipSync(readFileSync(new URL(`${name}.memtrace.gz`, dir))).toString("utf8");
      const stats = readFileSync(new URL(`${name}.stats.txt`, dir), "utf8");
      const result = replay(trace, makeHost(), { version }, name.startsWith("churn-small") ? 97 : 0);
      expect(result.pm.debugMallocStats()).toBe(stats);
      expect(result.pm.allocatedBlocks(), "sys.getallocatedblocks()").toBe(Number(/^# allocated-blocks (\d+)$/m.exec(trace)![1]));
      expect(result.dumps).toBe(readFileSync(new URL(`${name}.pythonmallocstats.txt`, dir), "utf8"));
      result.pm.check();
      expect(result.blocksCompared).toBeGreaterThan(0);
    });
  }
});
