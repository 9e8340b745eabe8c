/**
 * Comparing versions on one workload: a recording of a real CPython 3.11 run replayed
 * with each version's parameters (arena alignment left to the simulated mmap).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { PYMALLOC_VERSIONS, type PymallocVersion } from "../src/index.js";
import { makeHost } from "./helpers/host.js";
import { hostTarget, replayOn } from "./helpers/replay.js";

const trace = gunzipSync(readFileSync(new URL("./fixtures/recordings/startup.memtrace.gz", import.meta.url))).toString("utf8");

function run(version: PymallocVersion) {
  const target = hostTarget(makeHost(), { version });
  replayOn(trace, target, { ignoreArenas: true });
  target.pm.check();
  return target.pm;
}

describe("the same workload under each version's parameters", () => {
  it("presets carry the geometry of each release line", () => {
    expect(Object.keys(PYMALLOC_VERSIONS)).toEqual(["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]);
    expect(PYMALLOC_VERSIONS["3.9"]).toMatchObject({ poolSize: 4096, arenaSize: 262144, radixTree: false, keepLastEmptyArena: true });
    expect(PYMALLOC_VERSIONS["3.10"]).toMatchObject({ poolSize: 16384, arenaSize: 1048576, radixTree: true, radixIgnoreBits: 16 });
    expect(PYMALLOC_VERSIONS["3.12"]).toMatchObject({ ...PYMALLOC_VERSIONS["3.11"], name: "3.12" });
    expect(PYMALLOC_VERSIONS["3.13"]).toMatchObject({ ...PYMALLOC_VERSIONS["3.11"], name: "3.13" });
  });

  it("the blocks in use do not depend on the version; pools, arenas and overheads do", () => {
    const stats = Object.fromEntries((["3.8", "3.10", "3.11"] as const).map((v) => [v, run(v)]));
    const line = (v: string, label: string) => stats[v]!.debugMallocStats().split("\n").find((l) => l.startsWith(label))!;
    const inUse = (v: string) => line(v, "# bytes in allocated blocks");
    expect(inUse("3.8")).toBe(inUse("3.11"));
    expect(inUse("3.10")).toBe(inUse("3.11"));
    expect(stats["3.11"]!.allocatedBlocks()).toBe(stats["3.8"]!.allocatedBlocks());
    // 3.8: 4 KiB pools in 256 KiB arenas: several arenas where 3.11 needs one
    expect(stats["3.8"]!.narenasCurrentlyAllocated).toBeGreaterThan(stats["3.11"]!.narenasCurrentlyAllocated);
    expect(line("3.8", "# bytes lost to pool headers")).not.toBe(line("3.11", "# bytes lost to pool headers"));
    expect(stats["3.8"]!.debugMallocStats()).not.toContain("arena map");
    expect(stats["3.10"]!.debugMallocStats()).toContain("# bytes lost to arena map root     =                8,192");
  });
});
