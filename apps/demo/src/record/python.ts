/**
 * Recording a real CPython program: `recordPython(["python3", "script.py", "arg"], { out, statsOut })`
 * runs the script under the native recorder (apps/demo/native/memtrace_python.c, compiled on
 * first use against the installed Python) and leaves
 * - `out`: the memtrace v1 trace (gzip when the name ends in `.gz`), and
 * - `statsOut`: the pymalloc section of `sys._debugmallocstats()` printed at the moment the
 *   recording stopped (a Python atexit callback registered before the script runs), so
 *   that a faithful replay of the trace must print exactly the same statistics.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { basename } from "node:path";
import { RecordError } from "./errors.js";
import { checkWritable, gzipFile, isGzip, readTail } from "./files.js";
import { pythonBuild, pythonRecorder } from "./helpers.js";
import { run } from "./run.js";

/** Options of {@link recordPython}. */
export interface RecordPythonOptions {
  /** Where the trace goes (`.gz`: compressed). */
  readonly out: string;
  /** Where the pymalloc statistics go. @defaultValue `out` with `.memtrace[.gz]` (or `.gz`) replaced by `.stats.txt` */
  readonly statsOut?: string;
  /** Working directory of the program. */
  readonly cwd?: string;
  /** Environment of the program. @defaultValue process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** `inherit` shows the program's output; `pipe` captures it. @defaultValue "inherit" */
  readonly stdio?: "inherit" | "pipe";
  /** Where compiled helpers are cached. @defaultValue {@link defaultCacheDir} */
  readonly cacheDir?: string;
}

/** What a recording of a Python program produced. */
export interface PythonRecording {
  /** The trace file. */
  readonly out: string;
  /** The statistics file. */
  readonly statsOut: string;
  /** The Python that ran (its `sys.executable`) and its version. */
  readonly python: string;
  readonly version: string;
  /** The program's exit status. */
  readonly exitCode: number;
  /** Events in the trace (allocation calls; A/D lines and comments not counted). */
  readonly events: number;
  /** pymalloc arenas obtained (`A` lines) and released (`D` lines). */
  readonly arenasAllocated: number;
  readonly arenasReleased: number;
  /** Frees and reallocs of pointers the hooks never handed out (written as comments); 0 in a clean recording. */
  readonly untracked: number;
  /** The program's output when `stdio` was "pipe". */
  readonly stdout: string;
  readonly stderr: string;
}

const PYTHON_NAME = /(^|\/)python[0-9.]*$/;

/** Splits a command into the interpreter and its arguments: `["python3", ...]` or just the arguments. */
export function splitPythonCommand(command: readonly string[]): { python: string; args: string[] } {
  const first = command[0];
  if (first !== undefined && PYTHON_NAME.test(first)) return { python: first, args: command.slice(1) };
  return { python: "python3", args: [...command] };
}

/** `trace.memtrace.gz` -> `trace.stats.txt` (also for `.memtrace`, `.gz` or any other name). */
export function defaultStatsPath(out: string): string {
  const base = out.replace(/\.gz$/, "").replace(/\.memtrace$/, "");
  return `${base}.stats.txt`;
}

const END = /^# end (\S+): (\d+) events, (\d+) arenas allocated, (\d+) arenas released, \d+ data-stack chunks, (\d+) untracked frees, (\d+) untracked reallocs$/m;

/**
 * Records `command` (`["python3", "script.py", ...args]`; the interpreter may be omitted, or
 * be another Python such as `/usr/bin/python3.11`).
 * @throws {@link RecordError} when no compiler or Python headers are found, or the program
 *   ended without reaching the end of the recording (os._exit, a signal)
 */
export async function recordPython(command: readonly string[], options: RecordPythonOptions): Promise<PythonRecording> {
  const { python, args } = splitPythonCommand(command);
  const statsOut = options.statsOut ?? defaultStatsPath(options.out);
  checkWritable(options.out, "trace", (m) => new RecordError(m));
  checkWritable(statsOut, "statistics", (m) => new RecordError(m));
  const build = await pythonBuild(python);
  const recorder = await pythonRecorder(build, options.cacheDir);
  const raw = isGzip(options.out) ? `${options.out.slice(0, -3)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp` : options.out;
  rmSync(statsOut, { force: true });
  try {
    const result = await run(recorder, [raw, statsOut, build.executable, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: options.stdio ?? "inherit",
    });
    if (!existsSync(raw)) throw new RecordError(`the recorder wrote no trace (exit status ${result.exitCode}): ${result.stderr.trim()}`);
    const end = END.exec(readTail(raw));
    if (!end) {
      throw new RecordError(
        `${basename(args[0] ?? python)} ended (exit status ${result.exitCode}${result.signal ? `, ${result.signal}` : ""}) before the recording ` +
          `reached its end (the atexit callbacks did not run: os._exit, a signal or a crash?); the trace is incomplete`,
      );
    }
    const stats = existsSync(statsOut) ? readFileSync(statsOut, "utf8") : "";
    if (!stats.startsWith("Small block threshold = ")) {
      throw new RecordError(`no pymalloc statistics were written to ${statsOut} (is pymalloc the object allocator? PYTHONMALLOC=malloc disables it)`);
    }
    if (raw !== options.out) await gzipFile(raw, options.out);
    return {
      out: options.out,
      statsOut,
      python: build.executable,
      version: build.version,
      exitCode: result.exitCode,
      events: Number(end[2]),
      arenasAllocated: Number(end[3]),
      arenasReleased: Number(end[4]),
      untracked: Number(end[5]) + Number(end[6]),
      stdout: result.stdout,
      stderr: result.stderr,
    };
  } finally {
    if (raw !== options.out) rmSync(raw, { force: true });
  }
}
