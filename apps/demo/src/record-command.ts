/**
 * `mem-demo record`: records a real program as memtrace v1 with the helpers of ./record.
 */
import { recordLibc, recordPython, RecordError } from "./record/index.js";

/** Options of the record command. */
export interface RecordFlags {
  /** Record a C program's malloc calls instead of a CPython program. */
  libc?: boolean;
  /** The trace to write (`.gz` compresses). */
  out: string;
  /** Where the real pymalloc statistics go (CPython; default: the trace name with `.stats.txt`). */
  statsOut?: string;
}

/** Runs the recording and reports it on standard error; returns the exit status. */
export async function record(command: string[], flags: RecordFlags): Promise<number> {
  try {
    if (flags.libc) {
      const r = await recordLibc(command, { out: flags.out });
      process.stderr.write(
        `mem-demo record: ${r.events} calls of ${command[0] ?? "?"} written to ${r.out} (heap start 0x${r.heapStart.toString(16)}, exit status ${r.exitCode})\n`,
      );
      return r.exitCode;
    }
    const statsOut = flags.statsOut ?? flags.out.replace(/(\.memtrace)?(\.gz)?$/, "") + ".stats.txt";
    const r = await recordPython(command, { out: flags.out, statsOut });
    process.stderr.write(
      `mem-demo record: ${r.events} calls (${r.arenasAllocated} arenas obtained, ${r.arenasReleased} released) of ${r.python} ${r.version} written to ${r.out}; pymalloc statistics in ${r.statsOut}\n`,
    );
    return r.exitCode;
  } catch (error) {
    if (error instanceof RecordError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
