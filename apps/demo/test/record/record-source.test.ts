/**
 * Source locations against real tracemalloc: each program of fixtures/source-programs is
 * recorded with `--frames N` and also run under `python3 -X tracemalloc=N`, which prints
 * `snapshot.statistics(key)` at the end of the script; `explain --by key` at the same moment
 * of the recording must print the same lines for the program's own file.
 *
 * The moment: the script ends with a MARK line and `report()`; the snapshot of the real run
 * is taken right after the MARK line, so the recording is explained at its last allocation
 * made on that line.
 *
 * Only the program's own lines are compared, without the MARK and report lines:
 * - the lines of the import machinery and of start-up (`<frozen importlib._bootstrap>`,
 *   `<unknown>`) differ by a few blocks between two runs of real tracemalloc itself
 *   (measured: 12 differing lines between two identical `python3 -X tracemalloc` runs with
 *   PYTHONHASHSEED=0 and no ASLR);
 * - the snapshot allocates: `_get_traces()` makes an empty list, which takes the list on top
 *   of CPython's list free list and retraces it (to tracemalloc.py, or to the report() line
 *   as the oldest frame of its traceback); the MARK line puts a list of its own there
 *   (`_l = [0]; del _l`), so that this affects the MARK and report lines only.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TraceStream } from "@mem/memtrace";
import { describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { explainBySource } from "../../src/explain-by-source.js";
import { recordPython } from "../../src/record/index.js";
import { cacheDir, havePython, scratch } from "./support.js";

const skip = havePython ? hostSkip({ python3: "3.11" }) : "no python3 with headers, or no C compiler";
const PROGRAMS = ["nodes", "jsonmemo", "closures", "threads", "slots", "textproc"];
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/source-programs/${name}.py`, import.meta.url));

const HEAD = `import sys, tracemalloc
def report(key):
    if tracemalloc.is_tracing():
        for stat in tracemalloc.take_snapshot().statistics(key):
            print(stat)
`;

/** The script: the header, the program, the mark and the report. Returns its path and the MARK line number. */
function script(dir: string, name: string, key: string): { path: string; markLine: number } {
  const body = readFileSync(fixture(name), "utf8");
  const text = `${HEAD}${body}MARK = bytearray(64); _l = [0]; del _l\nreport(${JSON.stringify(key)})\n`;
  const path = join(dir, `${name}.py`);
  writeFileSync(path, text);
  return { path, markLine: text.split("\n").length - 2 };
}

/** The call event of the last allocation made on `file:line` (top frame). */
function lastAllocationAt(tracePath: string, file: string, line: number): number {
  let calls = 0;
  let found = 0;
  const stream: TraceStream = new TraceStream((r) => {
    if (r.kind === "malloc" || r.kind === "calloc" || r.kind === "realloc" || r.kind === "memalign" || r.kind === "free") {
      calls++;
      if (r.kind !== "free") {
        const top = stream.stacks.resolve(stream.stacks.current)?.[0];
        if (top?.filename === file && top.lineno === line) found = calls;
      }
    }
  });
  stream.push(readFileSync(tracePath, "utf8"));
  stream.end();
  return found;
}

/** The program's own lines: its file, not the MARK and report lines. */
const own = (file: string, mark: number) => (l: string) => l.startsWith(`${file}:`) && !l.startsWith(`${file}:${mark}:`) && !l.startsWith(`${file}:${mark + 1}:`);

describe.skipIf(skip !== null)(skipTitle("explain --by equals real tracemalloc on the program's own lines", skip), () => {
  for (const [key, frames] of [
    ["lineno", 1],
    ["traceback", 5],
  ] as const) {
    // threads with --frames 5: t.start() allocates the new thread's PyThreadState (raw calloc),
    // which the thread frees after the GIL is released, so t.join() may return before it is
    // freed: whether the last one is live at the MARK line differs from run to run (its oldest
    // frame is the script's t.start() line; with one frame it is threading.py's, not compared)
    it.each(key === "traceback" ? PROGRAMS.filter((p) => p !== "threads") : PROGRAMS)(`%s: --by ${key} with --frames ${frames}`, { timeout: 120_000 }, async (name) => {
      const dir = scratch();
      const { path, markLine } = script(dir, name, key);
      const out = join(dir, `${name}.memtrace`);
      const rec = await recordPython(["python3", path], { out, stdio: "pipe", cacheDir, frames });
      expect(rec.exitCode, rec.stderr).toBe(0);
      expect(rec.stdout).toBe(""); // no tracing in the recording: report() prints nothing
      const at = lastAllocationAt(out, path, markLine);
      expect(at).toBeGreaterThan(0);
      const ours = (await explainBySource(out, { by: key, at })).filter(own(path, markLine));

      const real = spawnSync("python3", [`-Xtracemalloc=${frames}`, path], { encoding: "utf8", env: { ...process.env, PYTHONHASHSEED: "0" } });
      expect(real.status, real.stderr).toBe(0);
      const theirs = real.stdout.split("\n").filter(own(path, markLine));
      expect(theirs.length).toBeGreaterThan(2);
      expect(ours).toEqual(theirs);
    });
  }
});
