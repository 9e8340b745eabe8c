/**
 * Real programs recorded under glibc 2.41 (Debian 13's, run with its own dynamic loader;
 * test/fixtures/glibc-2.41): the header names the release, the replay picks glibc 2.41's
 * malloc model and puts every heap block where the real glibc 2.41 did (thread arenas included),
 * and ends with the real malloc_stats() text; 2.36's model does not place them so.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Glibc241Malloc, GlibcMalloc } from "@mem/libc-malloc";
import { describe, expect, it } from "vitest";
import { prepareReplay } from "../src/replay-command.js";
import { readTraceHeader, replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";
import { replaySettings } from "../src/trace-settings.js";

const dir = fileURLToPath(new URL("./fixtures/glibc-2.41/", import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".memtrace.gz"))
  .map((f) => f.slice(0, -".memtrace.gz".length))
  .sort();

async function placements(name: string, release: "2.36" | "2.41") {
  const stack = createStack({ glibcRelease: release, seed: 1 });
  const summary = await replayFile(stack, `${dir}${name}.memtrace.gz`);
  expect(summary.divergences).toBe(0);
  stack.libc.checkHeap();
  return summary.placements;
}

describe("glibc 2.41 recordings replay with glibc 2.41's malloc", () => {
  it("has the recordings", () => expect(names.length).toBeGreaterThanOrEqual(9));
  for (const name of names) {
    it(`${name}: the header names 2.41, the replay picks its model, every heap block where glibc 2.41 put it`, { timeout: 120_000 }, async () => {
      const header = await readTraceHeader(`${dir}${name}.memtrace.gz`);
      expect(header.glibc).toBe("2.41");
      const settings = replaySettings(header);
      expect(settings.glibcRelease).toBe("2.41");
      expect(settings.fromHeader).toContain("glibc 2.41");
      const file = `${dir}${name}.memtrace.gz`;
      const prepared = await prepareReplay(file, { seed: 1 }, {}, () => undefined);
      expect(prepared.stack.libc).toBeInstanceOf(Glibc241Malloc);
      const summary = await replayFile(prepared.stack, file);
      expect(summary.divergences).toBe(0);
      expect(summary.placements.compared).toBeGreaterThan(0);
      expect(summary.placements.moved).toBe(0);
      prepared.stack.libc.checkHeap();
      // the thread-waves programs print malloc_stats() at their end (to stderr)
      const stats = `${dir}${name}.stats.txt`;
      if (existsSync(stats)) expect((prepared.stack.libc as Glibc241Malloc).mallocStats()).toBe(readFileSync(stats, "utf8"));
    });
  }

  it("2.36's model misplaces blocks of the programs that free small chunks (sed, find, ls -lR)", { timeout: 120_000 }, async () => {
    for (const name of ["sed", "find", "ls-lR"]) {
      const p = await placements(name, "2.36");
      expect(p.moved, name).toBeGreaterThan(p.compared / 2);
    }
    expect(createStack().libc).toBeInstanceOf(GlibcMalloc);
    expect(createStack().libc).not.toBeInstanceOf(Glibc241Malloc);
  });

  it("a release without a model is replayed as 2.36 and says so", () => {
    const s = replaySettings({ env: {}, heapStart: undefined, glibc: "2.40" });
    expect(s.glibcRelease).toBe("2.36");
    expect(s.warnings).toEqual(["the trace was recorded under glibc 2.40, which has no malloc model here (2.36, 2.41, 2.42, 2.43): replayed with glibc 2.36's"]);
    expect(replaySettings({ env: {}, heapStart: undefined, glibc: "2.36" }).fromHeader).toEqual([]);
  });
});
