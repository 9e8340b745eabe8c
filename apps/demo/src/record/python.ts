/**
 * Recording a real CPython program: `recordPython(["python3", "script.py", "arg"], { out, statsOut })`
 * runs the script under the native recorder (apps/demo/native/memtrace_python.c, compiled on
 * first use against the installed Python) and leaves
 * - `out`: the memtrace v1 trace (gzip when the name ends in `.gz`), and
 * - `statsOut`: the pymalloc section of `sys._debugmallocstats()` printed at the moment the
 *   recording stopped (a Python atexit callback registered before the script runs), so
 *   that a faithful replay of the trace must print exactly the same statistics.
 */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { addNote } from "../cli-errors.js";
import { Interrupted } from "../interrupt.js";
import { checkOutput, createTemporary, install, OutputError, removeQuietly, type InputFile } from "../output-file.js";
import { RecordError } from "./errors.js";
import { readTail } from "./files.js";
import { pythonBuild, pythonRecorder } from "./helpers.js";
import { finishOutput, forwardInterrupts, reserveRaw } from "./outputs.js";
import { run } from "./run.js";
import { framesEnv } from "./frames.js";

/** Options of {@link recordPython}. */
export interface RecordPythonOptions {
  /** Where the trace goes (`.gz`: compressed; `-`: standard output). */
  readonly out: string;
  /** Where the pymalloc statistics go. @defaultValue `out` with `.memtrace[.gz]` (or `.gz`) replaced by `.stats.txt` */
  readonly statsOut?: string;
  /** Replace existing outputs (with a complete recording only). @defaultValue false */
  readonly force?: boolean;
  /** Files the command reads (the script, its arguments), which no output may be. */
  readonly inputs?: readonly InputFile[];
  /** Pass SIGINT/SIGTERM/SIGHUP on to the program and stop with {@link Interrupted} (command-line use). @defaultValue false */
  readonly interruptible?: boolean;
  /** Working directory of the program. */
  readonly cwd?: string;
  /** Environment of the program. @defaultValue process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** `inherit` shows the program's output; `pipe` captures it. @defaultValue "inherit" */
  readonly stdio?: "inherit" | "pipe";
  /** Where compiled helpers are cached. @defaultValue {@link defaultCacheDir} */
  readonly cacheDir?: string;
  /**
   * The Python traceback of every allocation, at most this many frames (`#F`/`#T`/`#S`/`#R`
   * lines, as tracemalloc.start(frames) sees them); 0 records none. Given explicitly, a Python
   * other than 3.11 is refused. @defaultValue 1 on CPython 3.11, 0 on the others
   */
  readonly frames?: number;
  /** A `# rss` sample every this many call events (`MEMTRACE_RSS_EVERY`; 0: none). @defaultValue the environment's, else 10000 */
  readonly rssEvery?: number;
  /**
   * Also the program's direct malloc-family calls (the C library's, extension modules',
   * CPython's own outside PyMem) as `libc` lines (`MEMTRACE_LIBC_CALLS=1`): the brk heap is then
   * laid out as in the real run, which the RSS prediction needs (apps/demo/README.md, "Predicted
   * RSS"); false records the PyMem domains only (`MEMTRACE_LIBC_CALLS=0`). @defaultValue the environment's, else on
   */
  readonly libcCalls?: boolean;
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
  /** The program's exit status (128 + the signal's number when a signal ended it). */
  readonly exitCode: number;
  /**
   * How the recording ended, from the trace's end line: "atexit" (the recorder's atexit
   * callback), "Py_AtExit", "_exit(3)" / "_Exit(3)" (os._exit: the recorder flushes the trace
   * and passes the status on), the fatal signal's name ("SIGABRT" from os.abort(), "SIGSEGV"), or
   * "exec" (os.execv: the trace ends before the new program replaces the recorder).
   */
  readonly ending: string;
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

// the last one counts: an exec that failed left "# end exec: ..." and the recording went on
const END = /^# end (\S+): (\d+) events, (\d+) arenas allocated, (\d+) arenas released, \d+ data-stack chunks, (\d+) untracked frees, (\d+) untracked reallocs$/gm;

/**
 * Records `command` (`["python3", "script.py", ...args]`; the interpreter may be omitted, or
 * be another Python such as `/usr/bin/python3.11`).
 * Nothing is touched before the interpreter is known to run and the outputs may be written;
 * the recorder writes into temporary files put in place at the end (../output-file.ts).
 * @throws {@link RecordError} when no compiler or Python headers are found, or the program
 *   ended without reaching the end of the recording (SIGKILL, a crash of the recorder: the partial
 *   trace is kept, ending `# partial: ...`; os._exit and fatal signals end it whole); {@link OutputError} when an output may not be written;
 *   {@link Interrupted} after a signal
 */
export async function recordPython(command: readonly string[], options: RecordPythonOptions): Promise<PythonRecording> {
  const { python, args } = splitPythonCommand(command);
  const statsOut = options.statsOut ?? defaultStatsPath(options.out);
  const force = options.force ?? false;
  const inputs = options.inputs ?? [];
  if (statsOut === "-") throw new OutputError("the statistics cannot go to standard output (--stats-out -): name a file");
  if (options.out !== "-" && resolve(statsOut) === resolve(options.out)) throw new OutputError(`will not write the trace and the statistics to the same file ${statsOut}`);
  checkOutput(options.out, inputs, force);
  checkOutput(statsOut, inputs, force);
  const build = await pythonBuild(python);
  const recorder = await pythonRecorder(build, options.cacheDir);
  const raw = reserveRaw(options.out);
  let statsRaw: string | undefined;
  const signals = options.interruptible ? forwardInterrupts() : undefined;
  let finished = false;
  try {
    statsRaw = createTemporary(statsOut);
    const result = await run(recorder, [raw, statsRaw, build.executable, ...args], {
      cwd: options.cwd,
      env: {
        ...framesEnv(options.env ?? process.env, options.frames),
        ...(options.rssEvery !== undefined ? { MEMTRACE_RSS_EVERY: String(options.rssEvery) } : {}),
        ...(options.libcCalls !== undefined ? { MEMTRACE_LIBC_CALLS: options.libcCalls ? "1" : "0" } : {}),
      },
      stdio: options.stdio ?? "inherit",
      stdoutToStderr: options.out === "-",
      onSpawn: (child) => signals?.attach(child),
    });
    const end = [...readTail(raw).matchAll(END)].at(-1);
    const interrupted = signals?.signal();
    const status = `exit status ${result.exitCode}${result.signal ? `, ${result.signal}` : ""}`;
    const partial = interrupted
      ? `interrupted by ${interrupted} after ${end ? end[2] : "the last flushed"} events`
      : end
        ? undefined
        : `${basename(args[0] !== undefined && !args[0].startsWith("-") ? args[0] : python)} ended (${status}) before the recording reached its end (killed by SIGKILL, or a crash of the recorder?)`;
    const stats = readFileSync(statsRaw, "utf8");
    finished = true;
    const outcome = await finishOutput(raw, options.out, { force, partial });
    if (stats.startsWith("Small block threshold = ")) {
      try {
        install(statsRaw, statsOut, partial === undefined && force);
      } catch (error) {
        if (partial === undefined) throw error;
      }
    }
    if (partial !== undefined) {
      const where = options.out === "-" ? "standard output" : options.out;
      const error = interrupted ? new Interrupted(interrupted) : new RecordError(`the trace is incomplete: ${partial}`);
      addNote(error, outcome === "kept-existing" ? `${where} is left as it was (a partial recording never replaces a file)` : `the partial trace is in ${where}`);
      throw error;
    }
    if (!stats.startsWith("Small block threshold = ")) {
      throw new RecordError(`no pymalloc statistics were written to ${statsOut} (is pymalloc the object allocator? PYTHONMALLOC=malloc disables it)`);
    }
    return {
      out: options.out,
      statsOut,
      python: build.executable,
      version: build.version,
      exitCode: result.exitCode,
      ending: end![1]!,
      events: Number(end![2]),
      arenasAllocated: Number(end![3]),
      arenasReleased: Number(end![4]),
      untracked: Number(end![5]) + Number(end![6]),
      stdout: result.stdout,
      stderr: result.stderr,
    };
  } finally {
    signals?.stop();
    if (!finished) removeQuietly(raw);
    if (statsRaw !== undefined) removeQuietly(statsRaw);
  }
}
