/**
 * Source locations against real tracemalloc, every line: each program of
 * fixtures/source-programs is recorded with `--frames N` and also run under
 * `python3 -X tracemalloc=N`, which prints `snapshot.statistics(key)` at the end of the script;
 * `explain --by key` at the same moment of the recording must print the same lines, all of
 * them (start-up and import machinery included), in the same order.
 *
 * What makes the two runs comparable (each measured, see the README's tracemalloc section):
 * - the type attribute cache is cleared on the MARK line (`sys._clear_type_cache()`): CPython's
 *   4096-entry method cache holds a reference to the last attribute name looked up in each slot,
 *   and the slot is chosen by the name string's address, so which run-time-made names survive
 *   depended on the memory layout (preloading a library changed 4-5 lines of real tracemalloc's
 *   own output); with the cache cleared, real runs under different layouts print the same;
 * - no address randomisation (`setarch -R`, for the recording and the real runs) and
 *   PYTHONHASHSEED=0; the script lives in a directory of its own (the import system lists it);
 * - the snapshot's own list: `take_snapshot()` calls `_get_traces()`, whose empty list is the
 *   top of the list free list, the one the MARK line freed (`_l = [0]; del _l`); the real run
 *   gives that trace back its MARK-line traceback before printing, as if taking the snapshot
 *   allocated nothing;
 * - the moment: after the MARK line's last event (its allocations and the frees that follow)
 *   and the report line's allocations before the call runs.
 * And the recorder marks what a run under tracemalloc does not allocate while tracing: its own
 * atexit registration (`# recorder-own-begin/end`) and the `_tracemalloc` module's initialisation
 * (`# tracemalloc-init-begin/end`, its lock: done at start-up under `-X tracemalloc`).
 *
 * The threaded program keeps its workers alive until the snapshot is taken (see the program),
 * so that whether a worker's thread state is still allocated does not depend on scheduling.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TraceStream } from "@mem/memtrace";
import { afterAll, describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { explainBySource } from "../../src/explain-by-source.js";
import { pythonBuild } from "../../src/record/index.js";
import { pythonRecorder } from "../../src/record/helpers.js";
import { cacheDir, havePython, scratch } from "./support.js";

const haveSetarch = spawnSync("setarch", ["-R", "true"]).status === 0;
const skip = !havePython ? "no python3 with headers, or no C compiler" : !haveSetarch ? "no setarch -R (address randomisation cannot be turned off)" : hostSkip({ python3: "3.11" });
const PROGRAMS = ["nodes", "jsonmemo", "closures", "threads", "slots", "textproc"];
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/source-programs/${name}.py`, import.meta.url));
const MARK = "MARK = bytearray(64); sys._clear_type_cache(); _l = [0]; del _l";
const AFTER = "# --- after the snapshot ---\n";

const HEAD = `import sys, tracemalloc
def report(key):
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        import inspect
        lines, first = inspect.getsourcelines(tracemalloc.take_snapshot)
        own = (tracemalloc.__file__, first + next(i for i, l in enumerate(lines) if "_get_traces()" in l))
        raw = snap.traces._traces
        hits = [i for i, t in enumerate(raw) if t[2][0] == own]
        assert len(hits) == 1 and raw[hits[0]][1] == 56, hits
        raw[hits[0]] = raw[hits[0]][:2] + (((__file__, MARK_LINE),), 1)
        for stat in tracemalloc.Snapshot(raw, snap.traceback_limit).statistics(key):
            print(stat)
`;

/** The script: the header, the program, the mark, the report and the program's tail. */
function script(dir: string, name: string, key: string): { path: string; markLine: number } {
  const [body, tail = ""] = readFileSync(fixture(name), "utf8").split(AFTER);
  const text = `${HEAD}${body}${MARK}\nreport(${JSON.stringify(key)})\n${tail}`;
  const markLine = text.split("\n").indexOf(MARK) + 1;
  const path = join(dir, `${name}.py`);
  writeFileSync(path, text.replace("MARK_LINE", String(markLine)));
  return { path, markLine };
}

/** The call event after the MARK line: its last allocation and the frees right after, then the report line's allocations. */
function momentAfterMark(tracePath: string, file: string, line: number): number {
  let calls = 0;
  let found = 0;
  let trailing = false;
  const stream: TraceStream = new TraceStream((r) => {
    if (r.kind === "malloc" || r.kind === "calloc" || r.kind === "realloc" || r.kind === "memalign" || r.kind === "free") {
      calls++;
      if (r.kind === "free") {
        if (trailing && calls === found + 1) found = calls;
        return;
      }
      const top = stream.stacks.resolve(stream.stacks.current)?.[0];
      const here = top?.filename === file && (top.lineno === line || top.lineno === line + 1);
      if (here) found = calls;
      trailing = here && top.lineno === line;
    }
  });
  stream.push(readFileSync(tracePath, "utf8"));
  stream.end();
  return found;
}

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
      const progDir = join(dir, "program");
      mkdirSync(progDir);
      const { path, markLine } = script(progDir, name, key);
      const out = join(dir, `${name}.memtrace`);
      const env = { ...process.env, PYTHONHASHSEED: "0" };
      const build = await pythonBuild("python3");
      const recorder = await pythonRecorder(build, cacheDir);
      const rec = spawnSync("setarch", ["-R", recorder, out, join(dir, "stats.txt"), build.executable, path], { cwd: progDir, env: { ...env, MEMTRACE_FRAMES: String(frames) }, encoding: "utf8" });
      expect(rec.status, rec.stderr).toBe(0);
      expect(rec.stdout).toBe(""); // no tracing in the recording: report() prints nothing
      const at = momentAfterMark(out, path, markLine);
      expect(at).toBeGreaterThan(0);
      const ours = await explainBySource(out, { by: key, at });

      // two layouts (a preloaded library moves every later mapping, pymalloc's arenas too):
      // real tracemalloc must print the same under both
      const real = (preload?: string) => {
        const r = spawnSync("setarch", ["-R", build.executable, `-Xtracemalloc=${frames}`, path], { cwd: progDir, env: preload ? { ...env, LD_PRELOAD: preload } : env, encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        return r.stdout.split("\n").filter((l) => l !== "");
      };
      const theirs = real();
      expect(real("libz.so.1")).toEqual(theirs);
      expect(theirs.length).toBeGreaterThan(1000);

      // every line equal, in the same order
      expect(ours).toEqual(theirs);
    });
  }
});
