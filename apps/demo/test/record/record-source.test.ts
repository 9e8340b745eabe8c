/**
 * Source locations against real tracemalloc, every line: each program of
 * fixtures/source-programs is recorded with `--frames N` and also run under
 * `python3 -X tracemalloc=N`, which prints `snapshot.statistics(key)` at the MARK line;
 * `explain --by key` at the same moment of the recording must print the same lines, all of
 * them (start-up and import machinery included), in the same order. What makes the two runs
 * comparable is in ./source-harness.ts; the recorder marks what a run under tracemalloc does not
 * allocate while tracing: its own atexit registration (`# recorder-own-begin/end`) and the
 * `_tracemalloc` module's initialisation (`# tracemalloc-init-begin/end`: done at start-up
 * under `-X tracemalloc`).
 *
 * The threaded program keeps its workers alive until the snapshot is taken (see the program),
 * so that whether a worker's thread state is still allocated does not depend on scheduling.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { explainBySource } from "../../src/explain-by-source.js";
import { haveSetarch, momentAfterMark, realRun, recordScript, writeScript } from "./source-harness.js";
import { havePython, scratch } from "./support.js";

const skip = !havePython ? "no python3 with headers, or no C compiler" : !haveSetarch ? "no setarch -R (address randomisation cannot be turned off)" : hostSkip({ python3: "3.11" });
const PROGRAMS = ["nodes", "jsonmemo", "closures", "threads", "slots", "textproc"];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skip !== null)(skipTitle("explain --by equals real tracemalloc, every line", skip), () => {
  for (const [key, frames] of [
    ["lineno", 1],
    ["traceback", 5],
  ] as const) {
    it.each(PROGRAMS)(`%s: --by ${key} with --frames ${frames}`, { timeout: 120_000 }, async (name) => {
      const dir = scratch();
      dirs.push(dir);
      const s = writeScript(dir, name, key);
      const out = await recordScript(s, join(dir, `${name}.memtrace`), frames);
      const ours = await explainBySource(out, { by: key, at: momentAfterMark(out, s.path, s.mark) });

      // real tracemalloc prints the same under two memory layouts (a preloaded library moves
      // every later mapping, pymalloc's arenas too)
      const theirs = await realRun(s, frames, "stats");
      expect(await realRun(s, frames, "stats", "-", "libz.so.1")).toEqual(theirs);
      expect(theirs.length).toBeGreaterThan(1000);
      expect(ours).toEqual(theirs);
    });
  }
});
