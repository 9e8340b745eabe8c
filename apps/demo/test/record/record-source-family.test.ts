/**
 * The `--by` family agrees on a real recording: a program of fixtures/source-programs is
 * recorded with `--frames 5`, and at its MARK line and at the end `explain --by … --resident`
 * (and the report's flame graphs, which are its attribution by traceback) has, source for
 * source, the requested bytes and count of tracemalloc's statistics (`explain --by`), which
 * record-source.test.ts checks against a real run. The recorder's own atexit blocks
 * (`# recorder-own-begin/end`) survive to the end of the recording; no view counts them under
 * `<unknown>:0`.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TraceStream } from "@mem/memtrace";
import type { KeyType, Statistic } from "@mem/pymem";
import { Traceback } from "@mem/pymem";
import { afterAll, describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { tracedSnapshots } from "../../src/explain-by-source.js";
import { pinsAndFaultsBySource } from "../../src/explain-pins-faults.js";
import { residentAtMoments, type ResidentAttribution } from "../../src/explain-resident.js";
import { createStack } from "../../src/stack.js";
import { haveSetarch, momentAfterMark, recordScript, writeScript } from "./source-harness.js";
import { havePython, scratch } from "./support.js";

const skip = !havePython ? "no python3 with headers, or no C compiler" : !haveSetarch ? "no setarch -R (address randomisation cannot be turned off)" : hostSkip({ python3: "3.11" });

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const stack = () => createStack({ ramSize: 256 * 1024 * 1024 });

/** tracemalloc's statistics as source -> [size, count] (a traceback keyed by its frames). */
function statistics(stats: readonly Statistic[], by: KeyType): Map<string, [number, number]> {
  return new Map(stats.map((s) => [by === "traceback" ? s.traceback.key : String(s.traceback), [s.size, s.count]]));
}

/** The resident attribution's live blocks as source -> [requested, count] (`<no live block>` left out). */
function requested(r: ResidentAttribution): Map<string, [number, number]> {
  return new Map(r.shares.filter((s) => s.count > 0).map((s) => [s.frames !== undefined ? new Traceback(s.frames).key : s.source, [s.requested, s.count]]));
}

/** The blocks allocated between the recorder's own markers and never freed (read from the trace text). */
function ownSurvivors(trace: string): number {
  const live = new Set<number>();
  let own = false;
  const stream = new TraceStream((r) => {
    if (r.kind === "comment") {
      if (r.text === " recorder-own-begin") own = true;
      else if (r.text === " recorder-own-end") own = false;
    } else if (r.kind === "free" || (r.kind === "realloc" && r.result !== 0)) live.delete(r.ptr);
    if ((r.kind === "malloc" || r.kind === "calloc" || r.kind === "realloc") && r.domain !== "libc" && r.result !== 0) {
      if (own) live.add(r.result);
      else live.delete(r.result);
    }
  });
  stream.push(readFileSync(trace, "utf8"));
  stream.end();
  return live.size;
}

describe.skipIf(skip !== null)(skipTitle("the --by family agrees on a real recording", skip), () => {
  it("--resident's requested bytes and counts are --by's, source for source; <unknown>:0 has no recorder block", { timeout: 240_000 }, async () => {
    const dir = scratch();
    dirs.push(dir);
    const s = writeScript(dir, "nodes", "lineno");
    const out = await recordScript(s, join(dir, "nodes.memtrace"), 5);
    const mark = momentAfterMark(out, s.path, s.mark);
    expect(ownSurvivors(out)).toBeGreaterThanOrEqual(2);

    for (const by of ["lineno", "traceback"] as const) {
      const seen: { event: number; result: ResidentAttribution }[] = [];
      const end = await residentAtMoments(stack(), out, { by, moments: [mark] }, (event, result) => seen.push({ event, result }));
      expect(seen.map((m) => m.event)).toEqual([mark, end]);
      for (const { event, result } of seen) {
        const { now } = await tracedSnapshots(out, { at: event });
        const theirs = statistics(now.statistics(by), by);
        expect(theirs.size).toBeGreaterThan(500);
        expect(requested(result)).toEqual(theirs);
        expect(result.shares.reduce((n, x) => n + x.resident, 0)).toBe(result.rssAnon);
      }
    }

    // the whole trace traced (--since start): the recorder's own blocks are still no one's
    let all: ResidentAttribution | undefined;
    await residentAtMoments(stack(), out, { by: "lineno", moments: [], since: "start" }, (_e, r) => (all = r));
    const { now: allStats } = await tracedSnapshots(out, { since: "start" });
    const unknown = statistics(allStats.statistics("lineno"), "lineno").get("<unknown>:0")!;
    expect(requested(all!).get("<unknown>:0")).toEqual(unknown);
    // they pin the arena they sit in as <untraced>; their event's faults are no source's
    const pins = await pinsAndFaultsBySource(stack(), out, { by: "lineno", since: "start" });
    expect(pins.sources.find((x) => x.source === "<untraced>")?.arenas).toBeGreaterThanOrEqual(1);
  });
});
