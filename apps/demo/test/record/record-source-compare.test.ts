/**
 * `explain --by --compare-to` and `--at peak` against real tracemalloc on real programs
 * (./source-harness.ts): the old snapshot is taken at the program's MARK0 line by one real run
 * (`Snapshot.dump`, then the run exits), and a second real run prints
 * `snapshot.compare_to(<that snapshot>, key)` at the MARK line; the recording is explained at
 * the same two moments. `tracemalloc.get_traced_memory()` at the MARK line (a third real run)
 * gives the traced bytes and their peak, which explain's peak must equal.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { explainBySource } from "../../src/explain-by-source.js";
import { tracedPeak } from "../../src/explain-peak.js";
import { haveSetarch, momentAfterMark, realRun, recordScript, writeScript } from "./source-harness.js";
import { havePython, scratch } from "./support.js";

const skip = !havePython ? "no python3 with headers, or no C compiler" : !haveSetarch ? "no setarch -R (address randomisation cannot be turned off)" : hostSkip({ python3: "3.11" });

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skip !== null)(skipTitle("explain --by --compare-to and --at peak equal real tracemalloc", skip), () => {
  it.each([
    ["nodes", "lineno", 1],
    ["jsonmemo", "traceback", 5],
  ] as const)("%s: --compare-to with --by %s (--frames %d), and the peak", { timeout: 120_000 }, async (name, key, frames) => {
    const dir = scratch();
    dirs.push(dir);
    const s = writeScript(dir, name, key);
    expect(s.mark0).toBeGreaterThan(0);
    const out = await recordScript(s, join(dir, `${name}.memtrace`), frames);
    const at = momentAfterMark(out, s.path, s.mark);
    const old = momentAfterMark(out, s.path, s.mark0!);
    const ours = await explainBySource(out, { by: key, at, compareTo: old });

    const dump = join(dir, "old.snapshot");
    expect(await realRun(s, frames, "dump", dump)).toEqual([]);
    const theirs = await realRun(s, frames, "cmp", dump);
    expect(theirs.length).toBeGreaterThan(1000);
    expect(theirs.some((l) => / \(\+\d/.test(l))).toBe(true);
    expect(ours).toEqual(theirs);

    const [current, peak] = (await realRun(s, frames, "peak"))[0]!.split(" ").map(Number);
    expect(await tracedPeak(out, { until: at })).toMatchObject({ current, peak });
  });
});
