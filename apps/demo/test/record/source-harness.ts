/**
 * Shared by the tests that compare `explain --by` with real tracemalloc on real programs
 * (fixtures/source-programs): the script around a program, its recording and its real runs.
 *
 * The script is the program between a header and a MARK line followed by `report(key, mark, end)`;
 * a line `# --- old snapshot ---` in the program becomes a second mark (MARK0, `report0`), and
 * the lines after `# --- after the snapshot ---` go after the report. The script's first
 * argument says what a real run (`python3 -X tracemalloc=N`) prints at the mark: `stats`
 * (`snapshot.statistics(key)`), `peak` (`get_traced_memory()`), `dump` (writes the snapshot at
 * MARK0 to the second argument and exits) or `cmp` (`snapshot.compare_to(<that file>, key)`).
 * In the recording (no tracing) the report functions do nothing.
 *
 * What makes a recording and a real run comparable, line for line:
 * - each MARK line clears CPython's type attribute cache (`sys._clear_type_cache()`): its 4096
 *   entries keep the last attribute name looked up in each slot alive, the slot chosen by the
 *   name string's address, so which run-time-made names survive depends on the memory layout
 *   (a preloaded library moved 4-5 start-up lines of real tracemalloc's own output);
 * - PYTHONHASHSEED=0, and the script in a directory of its own (the import system lists it);
 *   address randomisation is off (`setarch -R`, recording and real runs) so that no rare layout
 *   makes a test flaky, though with the cache cleared runs with it on were measured equal too;
 * - the snapshot's own list: `take_snapshot()` calls `_get_traces()`, whose empty list is the
 *   top of the list free list, the one the MARK line freed (`_l = [0]; del _l`); the real run
 *   gives that trace back its MARK-line traceback, as if taking the snapshot allocated nothing;
 * - the moment in the recording: the report line's last allocation, its `bytearray(66)` argument
 *   (after every event of the MARK line, the frees of `del _l` and of a resized globals dict
 *   included; a real run takes the snapshot in the report's body, after it).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TraceStream } from "@mem/memtrace";
import { expect } from "vitest";
import { pythonBuild } from "../../src/record/index.js";
import { pythonRecorder } from "../../src/record/helpers.js";
import { cacheDir } from "./support.js";

/** Whether `setarch -R` runs here (address randomisation can be turned off). */
export const haveSetarch = spawnSync("setarch", ["-R", "true"]).status === 0;

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/source-programs/${name}.py`, import.meta.url));
const MARK = "MARK = bytearray(64); sys._clear_type_cache(); _l = [0]; del _l";
const MARK0 = "MARK0 = bytearray(64); sys._clear_type_cache(); _l = [0]; del _l";

const HEAD = `import sys, tracemalloc
def _without_own_list(snap, mark):
    import inspect
    lines, first = inspect.getsourcelines(tracemalloc.take_snapshot)
    own = (tracemalloc.__file__, first + next(i for i, l in enumerate(lines) if "_get_traces()" in l))
    raw = snap.traces._traces
    hits = [i for i, t in enumerate(raw) if t[2][0] == own]
    assert len(hits) == 1 and raw[hits[0]][1] == 56, hits
    raw[hits[0]] = raw[hits[0]][:2] + (((__file__, mark),), 1)
    return tracemalloc.Snapshot(raw, snap.traceback_limit)
def report0(mark, end):
    if tracemalloc.is_tracing() and sys.argv[1] == "dump":
        snap = tracemalloc.take_snapshot()
        _without_own_list(snap, mark).dump(sys.argv[2])
        import os
        os._exit(0)
def report(key, mark, end):
    if tracemalloc.is_tracing():
        if sys.argv[1] == "peak":
            print(*tracemalloc.get_traced_memory())
            return
        snap = tracemalloc.take_snapshot()
        snap = _without_own_list(snap, mark)
        if sys.argv[1] == "cmp":
            for diff in snap.compare_to(tracemalloc.Snapshot.load(sys.argv[2]), key):
                print(diff)
        else:
            for stat in snap.statistics(key):
                print(stat)
`;

/** A program's script, written into a directory of its own. */
export interface SourceScript {
  readonly dir: string;
  readonly path: string;
  /** The MARK line (the snapshot's moment). */
  readonly mark: number;
  /** The MARK0 line, if the program has one. */
  readonly mark0?: number;
}

/** Writes the script for program `name` and statistics key `key` into `<dir>/program/`. */
export function writeScript(dir: string, name: string, key: string): SourceScript {
  const [body, tail = ""] = readFileSync(fixture(name), "utf8").split("# --- after the snapshot ---\n");
  let text = `${HEAD}${body}${MARK}\nreport(${JSON.stringify(key)}, MARK_LINE, bytearray(66))\n${tail}`;
  text = text.replace("# --- old snapshot ---\n", `${MARK0}\nreport0(MARK0_LINE, bytearray(66))\n`);
  const lines = text.split("\n");
  const mark = lines.indexOf(MARK) + 1;
  const mark0 = lines.indexOf(MARK0) + 1;
  const progDir = join(dir, "program");
  mkdirSync(progDir);
  const path = join(progDir, `${name}.py`);
  writeFileSync(path, text.replace("MARK_LINE", String(mark)).replace("MARK0_LINE", String(mark0)));
  return { dir: progDir, path, mark, ...(mark0 > 0 ? { mark0 } : {}) };
}

const ENV = { ...process.env, PYTHONHASHSEED: "0" };

/** Records the script with `frames` frames, without address randomisation; returns the trace's path. */
export async function recordScript(s: SourceScript, out: string, frames: number): Promise<string> {
  const build = await pythonBuild("python3");
  const recorder = await pythonRecorder(build, cacheDir);
  const rec = spawnSync("setarch", ["-R", recorder, out, `${out}.stats.txt`, build.executable, s.path, "stats", "-"], {
    cwd: s.dir,
    env: { ...ENV, MEMTRACE_FRAMES: String(frames) },
    encoding: "utf8",
  });
  expect(rec.status, rec.stderr).toBe(0);
  expect(rec.stdout).toBe(""); // no tracing in the recording: the reports print nothing
  return out;
}

/** Runs the script under real tracemalloc (no address randomisation; `preload`: LD_PRELOAD, another layout); its output lines. */
export async function realRun(s: SourceScript, frames: number, mode: "stats" | "peak" | "dump" | "cmp", file = "-", preload?: string): Promise<string[]> {
  const build = await pythonBuild("python3");
  const r = spawnSync("setarch", ["-R", build.executable, `-Xtracemalloc=${frames}`, s.path, mode, file], {
    cwd: s.dir,
    env: preload ? { ...ENV, LD_PRELOAD: preload } : ENV,
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter((l) => l !== "");
}

/**
 * The call event of the snapshot taken by the report after the MARK line `line` in a recording
 * of `file`: the report line's last allocation (its `bytearray(66)` argument, allocated after
 * every event of the MARK line, frees included, and before the report's body).
 */
export function momentAfterMark(tracePath: string, file: string, line: number): number {
  let calls = 0;
  let found = 0;
  const stream: TraceStream = new TraceStream((r) => {
    if (r.kind === "malloc" || r.kind === "calloc" || r.kind === "realloc" || r.kind === "memalign" || r.kind === "free") {
      calls++;
      if (r.kind === "free") return;
      const top = stream.stacks.resolve(stream.stacks.current)?.[0];
      if (top?.filename === file && top.lineno === line + 1) found = calls;
    }
  });
  stream.push(readFileSync(tracePath, "utf8"));
  stream.end();
  expect(found).toBeGreaterThan(0);
  return found;
}
