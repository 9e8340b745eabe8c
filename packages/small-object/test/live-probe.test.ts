/**
 * The live experiment (`npm run test:live`): builds pymalloc_probe.c against every installed
 * CPython 3.8 .. 3.11 (each version skipped, named, when it is not installed with its headers),
 * runs a freshly seeded random call sequence through the real pymalloc, and replays the
 * resulting trace here.
 */
import { describe, expect, it } from "vitest";
import { liveSkip, liveTitle } from "../../../scripts/host-facts.js";
import type { PymallocVersion } from "../src/index.js";
import { makeHost } from "./helpers/host.js";
import { replay } from "./helpers/replay.js";
import { runWorkload } from "../bench/workload.js";
import { buildProbe, probeSizes, runProbe } from "./native/probe.js";
import { PROBE_VERSIONS, churn } from "./native/scenarios.js";

const skip = liveSkip({ tools: ["gcc"] });
const seed = (Date.now() % 0x7fffffff) + 1;

describe.skipIf(skip !== null)(liveTitle(`real pymalloc vs the simulation on a fresh random sequence (seed ${seed})`, skip), () => {
  for (const version of PROBE_VERSIONS) {
    it(`CPython ${version}`, { timeout: 30_000 }, (ctx) => {
      const built = buildProbe(version);
      if ("skip" in built) {
        ctx.skip(built.skip);
        return;
      }
      const { trace, stats, dumps } = runProbe(built.exe, churn(seed, 3000, 1500));
      const result = replay(trace, makeHost(), { version: version as PymallocVersion });
      expect(result.pm.debugMallocStats(), `seed ${seed}`).toBe(stats);
      expect(result.pm.allocatedBlocks(), `seed ${seed}`).toBe(Number(/^# allocated-blocks (\d+)$/m.exec(trace)![1]));
      expect(result.dumps, `seed ${seed}`).toBe(dumps);
    });
  }
});

describe.skipIf(skip !== null)(liveTitle("the benchmark workload", skip), () => {
  it("bench/workload.ts requests the same sizes as the native probe", (ctx) => {
    const built = buildProbe("3.11");
    if ("skip" in built) {
      ctx.skip(built.skip);
      return;
    }
    const sizes: number[] = [];
    runWorkload({ malloc: (n) => (sizes.push(n), sizes.length), free: () => {} }, 20_000, 0);
    expect(sizes).toEqual(probeSizes(built.exe, 20_000));
    expect(sizes.filter((n) => n > 512).length / sizes.length).toBeCloseTo(0.02, 2);
  });
});
