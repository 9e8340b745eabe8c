/**
 * Real programs recorded under glibc 2.43 (Debian unstable's, run with its own dynamic loader;
 * test/fixtures/glibc-2.43): the header names the release, the replay picks glibc 2.43's
 * malloc model and puts every heap block where the real glibc 2.43 did (thread arenas included),
 * and ends with the real malloc_stats() text; 2.41's model does not place them so.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Glibc243Malloc } from "@mem/libc-malloc";
import { describe, expect, it } from "vitest";
import { prepareReplay } from "../src/replay-command.js";
import { readTraceHeader, replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";
import { replaySettings } from "../src/trace-settings.js";

const dir = fileURLToPath(new URL("./fixtures/glibc-2.43/", import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".memtrace.gz"))
  .map((f) => f.slice(0, -".memtrace.gz".length))
  .sort();

/** Heap blocks of thread-waves whose address the recording names (most of them in thread heaps). */
const PLACEMENTS_THREAD_WAVES = 459;

describe("glibc 2.43 recordings replay with glibc 2.43's malloc", () => {
  it("has the recordings", () => expect(names.length).toBeGreaterThanOrEqual(4));
  for (const name of names) {
    it(`${name}: the header names 2.43, the replay picks its model, every heap block where glibc 2.43 put it`, { timeout: 120_000 }, async () => {
      const file = `${dir}${name}.memtrace.gz`;
      const header = await readTraceHeader(file);
      expect(header.glibc).toBe("2.43");
      const settings = replaySettings(header);
      expect(settings.glibcRelease).toBe("2.43");
      expect(settings.fromHeader).toContain("glibc 2.43");
      expect(settings.warnings).toEqual([]);
      const prepared = await prepareReplay(file, { seed: 1 }, {}, () => undefined);
      expect(prepared.stack.libc).toBeInstanceOf(Glibc243Malloc);
      const summary = await replayFile(prepared.stack, file);
      expect(summary.divergences).toBe(0);
      expect(summary.placements.compared).toBeGreaterThan(0);
      expect(summary.placements.moved).toBe(0);
      // thread arenas: 2.43's malloc_state is 0x840 bytes, so a thread heap's first chunk sits at heap+0x870
      if (name === "thread-waves") expect(summary.placements.compared).toBe(PLACEMENTS_THREAD_WAVES);
      prepared.stack.libc.checkHeap();
      // thread-waves prints malloc_stats() at its end (to stderr)
      const stats = `${dir}${name}.stats.txt`;
      if (existsSync(stats)) expect((prepared.stack.libc as Glibc243Malloc).mallocStats()).toBe(readFileSync(stats, "utf8"));
    });
  }

  it("2.41's model misplaces the blocks of the recordings (the tcache struct is no longer the heap's first chunk)", { timeout: 120_000 }, async () => {
    for (const name of ["sed", "find"]) {
      const stack = createStack({ glibcRelease: "2.41", seed: 1 });
      const summary = await replayFile(stack, `${dir}${name}.memtrace.gz`);
      expect(summary.placements.moved, name).toBeGreaterThan(summary.placements.compared / 2);
    }
  });

  it("a trace recorded under 2.42 picks the 2.42 model and warns that it is unchecked", () => {
    const s = replaySettings({ env: {}, heapStart: undefined, glibc: "2.42" });
    expect(s.glibcRelease).toBe("2.42");
    expect(s.warnings).toEqual(["glibc 2.42's malloc model is written from its sources and not checked against a real build"]);
  });
});
