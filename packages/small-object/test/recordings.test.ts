/**
 * Replays every recording of a real CPython 3.11.7 run in test/fixtures/recordings
 * (made by the recorder in apps/demo/native; see the README there) and requires the
 * simulated `_debugmallocstats` text to equal the real one exactly, and every pymalloc
 * block to sit at the same offset inside its arena as in the real process.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { makeHost } from "./helpers/host.js";
import type { PythonMallocPreset } from "@mem/pymem";
import { replay, replayOn } from "./helpers/replay.js";
import { makeStack, pymemTarget } from "./helpers/stack.js";

const dir = new URL("./fixtures/recordings/", import.meta.url);
const names = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith(".memtrace.gz"))
      .map((f) => f.slice(0, -".memtrace.gz".length))
      .sort()
  : [];

describe("replaying recordings of real CPython 3.11 programs", () => {
  it.skipIf(names.length > 0)("no recordings present (nothing to replay)", () => {});
  for (const name of names) {
    it(`${name}: the real _debugmallocstats text, line for line`, { timeout: 60_000 }, () => {
      const trace = gunzipSync(readFileSync(new URL(`${name}.memtrace.gz`, dir))).toString("utf8");
      const stats = readFileSync(new URL(`${name}.stats.txt`, dir), "utf8");
      // A recording made under PYTHONMALLOC=<preset> is replayed above the same hooks, through
      // @mem/pymem and an @mem/os-vm process; the others straight into a Pymalloc (faster).
      const preset = /^# env PYTHONMALLOC=(\S+)$/m.exec(trace.slice(0, 2000))?.[1];
      let result;
      if (preset === undefined) {
        result = replay(trace, makeHost(), { version: "3.11" });
      } else {
        const { py, pm } = makeStack(preset as PythonMallocPreset);
        if (pm === undefined) {
          // PYTHONMALLOC=malloc / malloc_debug: CPython prints no pymalloc section
          expect(stats).toBe("");
          return;
        }
        result = replayOn(trace, pymemTarget(py, pm), { trim: true });
      }
      expect(result.pm.debugMallocStats()).toBe(stats);
      result.pm.check();
      expect(result.blocksCompared).toBeGreaterThan(1000);
    });
  }
});
