/**
 * `mem-demo record`: records a real program as memtrace v1 with the helpers of ./record.
 * The recorder is chosen from the command (./record/mode.ts); the outputs default to
 * `<program>.memtrace.gz` and `<program>.stats.txt` and are never overwritten without
 * --force, nor ever a file the command reads.
 */
import { readFileSync } from "node:fs";
import { reportFailure } from "./cli-errors.js";
import { checkOutput, OutputError } from "./output-file.js";
import { chooseMode, defaultStatsPath, recordLibc, recordPython, RecordError } from "./record/index.js";

/** Options of the record command. */
export interface RecordFlags {
  /** Record a C program's malloc calls instead of a CPython program. */
  libc?: boolean;
  /** The trace to write (`.gz` compresses, `-` is standard output). @defaultValue `<program>.memtrace.gz` */
  out?: string;
  /** Where the real pymalloc statistics go (CPython). @defaultValue `<program>.stats.txt`, or the trace's name with `.stats.txt` */
  statsOut?: string;
  /** Replace existing outputs. */
  force?: boolean;
  /** Python frames of each allocation's traceback (0: none); with `libc`, return addresses of its C call site. @defaultValue 1 where the recorder supports it (CPython 3.11); 0 with `libc` */
  frames?: number;
  /** A `# rss` sample every K call events (0: none). @defaultValue 10000 */
  rssEvery?: number;
  /** CPython: false (`--no-libc-calls`) leaves out the program's direct malloc-family calls (`libc` lines, recorded by default; the `--libc` shim records them all anyway). */
  libcCalls?: boolean;
}

/** Runs the recording and reports it on standard error; returns the exit status. */
export async function record(command: string[], flags: RecordFlags): Promise<number> {
  try {
    const mode = chooseMode(command, flags.libc ?? false);
    const out = flags.out ?? `${mode.name}.memtrace.gz`;
    const force = flags.force ?? false;
    // the default names are checked here, to say how to choose another one
    if (flags.out === undefined) checkDefault(out, mode.inputs, force, "--out");
    if (mode.kind === "libc") {
      const r = await recordLibc(mode.command, { out, force, inputs: mode.inputs, interruptible: true, ...(flags.frames !== undefined ? { frames: flags.frames } : {}), ...(flags.rssEvery !== undefined ? { rssEvery: flags.rssEvery } : {}) });
      const how = r.ending === "exit" ? "" : `; it ended by ${r.ending}`;
      process.stderr.write(
        `mem-demo record: ${r.events} calls of ${command[0] ?? "?"} written to ${where(r.out)} (heap start 0x${r.heapStart.toString(16)}, exit status ${r.exitCode}${how})\n`,
      );
      return r.exitCode;
    }
    const statsOut = flags.statsOut ?? (flags.out === undefined || flags.out === "-" ? `${mode.name}.stats.txt` : defaultStatsPath(flags.out));
    if (flags.statsOut === undefined) checkDefault(statsOut, mode.inputs, force, "--stats-out");
    const r = await recordPython(mode.command, {
      out, statsOut, force, inputs: mode.inputs, interruptible: true,
      ...(flags.frames !== undefined ? { frames: flags.frames } : {}),
      ...(flags.rssEvery !== undefined ? { rssEvery: flags.rssEvery } : {}),
      ...(flags.libcCalls === false ? { libcCalls: false } : {}),
    });
    process.stderr.write(
      `mem-demo record: ${r.events} calls (${r.arenasAllocated} arenas obtained, ${r.arenasReleased} released) of ${r.python} ${r.version} written to ${where(r.out)}; ` +
        (r.ending === "atexit" || r.ending === "Py_AtExit" ? "" : `it ended by ${r.ending} (exit status ${r.exitCode}); `) +
        // CPython 3.13's PYTHONMALLOC=mimalloc: _PyObject_DebugMallocStats prints mimalloc's figures
        (/^Medium block threshold/m.test(readFileSync(r.statsOut, "utf8").slice(0, 300))
          ? `mimalloc statistics in ${r.statsOut} (no mimalloc tier exists yet: a replay refuses the trace unless --pythonmalloc is given)\n`
          : `pymalloc statistics in ${r.statsOut}\n`),
    );
    return r.exitCode;
  } catch (error) {
    if (error instanceof RecordError) {
      // its message already starts with "mem-demo record: "
      const status = reportFailure("mem-demo record", undefined, Object.assign(error, { message: error.message.replace(/^mem-demo record: /, "") }), () => true);
      return status ?? 1;
    }
    const status = reportFailure("mem-demo record", undefined, error);
    if (status === undefined) throw error;
    return status;
  }
}

function where(out: string): string {
  return out === "-" ? "standard output" : out;
}

/** {@link checkOutput} for a default name: the message also says how to choose another. */
function checkDefault(path: string, inputs: Parameters<typeof checkOutput>[1], force: boolean, option: string): void {
  try {
    checkOutput(path, inputs, force);
  } catch (error) {
    if (error instanceof OutputError) throw new OutputError(`${error.message}, or ${option} <file> to choose another name`);
    throw error;
  }
}
