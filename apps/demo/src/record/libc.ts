/**
 * Recording a real C program's malloc calls: `recordLibc(["sort", "file"], { out })` runs the
 * command with the LD_PRELOAD shim (apps/demo/native/memtrace_libc.c, compiled on first use)
 * and leaves a memtrace v1 trace of `libc` lines with the addresses glibc returned and the
 * `# heap-start` line (the initial program break).
 *
 * Nothing is touched before the program is known to exist and the output may be written;
 * the shim writes into a temporary file put in place at the end (../output-file.ts). The
 * shim ends every trace with an end marker (`# exit: N events`, `# end SIGABRT: N events`,
 * `# end _exit(3): N events`, `# exec <path>: N events`); a trace without one is
 * incomplete (SIGKILL): it is kept, ending `# partial: ...`, and a RecordError says so.
 */
import { statSync } from "node:fs";
import { PointerMap, forEachRecord } from "@mem/memtrace";
import { addNote } from "../cli-errors.js";
import { Interrupted } from "../interrupt.js";
import { checkOutput, removeQuietly, type InputFile } from "../output-file.js";
import { RecordError } from "./errors.js";
import { traceChunks } from "./files.js";
import { libcShim } from "./helpers.js";
import { findProgram } from "./mode.js";
import { finishOutput, forwardInterrupts, reserveRaw } from "./outputs.js";
import { run } from "./run.js";
import { symbolizeTrace } from "./symbolize.js";

/** Options of {@link recordLibc}. */
export interface RecordLibcOptions {
  /** Where the trace goes (`.gz`: compressed; `-`: standard output). */
  readonly out: string;
  /** Replace an existing `out` (with a complete recording only). @defaultValue false */
  readonly force?: boolean;
  /** Files the command reads, which `out` may not be (the program itself is always one). */
  readonly inputs?: readonly InputFile[];
  /** Pass SIGINT/SIGTERM/SIGHUP on to the program and stop with {@link Interrupted} (command-line use). @defaultValue false */
  readonly interruptible?: boolean;
  /** Working directory of the program. */
  readonly cwd?: string;
  /** Environment of the program (MEMTRACE_OUT and LD_PRELOAD are added). @defaultValue process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** `inherit` shows the program's output; `pipe` captures it. @defaultValue "inherit" */
  readonly stdio?: "inherit" | "pipe";
  /** Where compiled helpers are cached. @defaultValue {@link defaultCacheDir} */
  readonly cacheDir?: string;
  /**
   * Return addresses of each allocation's call site to record, most recent first (0: none);
   * symbolised after the run to `file:line` or `function+0xoff (object)` (./symbolize.ts).
   * @defaultValue 0
   */
  readonly frames?: number;
  /** A `# rss` sample every this many call events (`MEMTRACE_RSS_EVERY`; 0: none). @defaultValue the environment's, else 10000 */
  readonly rssEvery?: number;
}

/** The most return addresses the shim records a call (LS_MAX_FRAMES 64 in native/libc_stacks.h, less its own two frames). */
export const LIBC_MAX_FRAMES = 62;

/** What a recording of a C program produced. */
export interface LibcRecording {
  /** The trace file. */
  readonly out: string;
  /** The program's exit status. */
  readonly exitCode: number;
  /** Allocation calls in the trace. */
  readonly events: number;
  /** The initial program break of the recorded process. */
  readonly heapStart: number;
  /** Frees or reallocs of pointers no earlier event returned (0 in a complete recording). */
  readonly unknownPointers: number;
  /** How the recorded program ended, from the trace's end marker: "exit", "SIGABRT", "_exit(3)", "exec /bin/sh". */
  readonly ending: string;
  /** The program's output when `stdio` was "pipe". */
  readonly stdout: string;
  readonly stderr: string;
}

const EXIT = /^ exit: \d+ events/;
const END = /^ end (\S+): \d+ events$/;
const EXEC = /^ exec (.*): \d+ events$/;

/**
 * Records `command` (program and arguments, looked up on PATH). Only the process started is
 * recorded (programs it runs are not); every thread's calls are recorded, serialised, with `n`/`t`/`x` thread records and `# cpus`.
 * @throws {@link RecordError} when the program is not found, no compiler is found, the shim did
 *   not load, or the trace has no end marker; {@link OutputError} when `out` may not be written;
 *   {@link Interrupted} after a signal (the partial trace is kept)
 */
export async function recordLibc(command: readonly string[], options: RecordLibcOptions): Promise<LibcRecording> {
  const [program, ...args] = command;
  if (program === undefined) throw new RecordError("no command to record (usage: mem-demo record --libc -- <command> [args])");
  if ((options.frames ?? 0) > LIBC_MAX_FRAMES) {
    throw new RecordError(`--frames ${options.frames} with --libc: the shim records at most ${LIBC_MAX_FRAMES} return addresses (its backtrace buffer of 64 less its own two frames)`);
  }
  const found = findProgram(program, options.env?.PATH ?? process.env.PATH);
  if (found === undefined) throw new RecordError(`command not found: ${program}`);
  const force = options.force ?? false;
  checkOutput(options.out, [{ path: found, what: "the program" }, ...(options.inputs ?? [])], force);
  const shim = await libcShim(options.cacheDir);
  const raw = reserveRaw(options.out);
  const base = options.env ?? process.env;
  const preload = base.LD_PRELOAD ? `${shim}:${base.LD_PRELOAD}` : shim;
  const signals = options.interruptible ? forwardInterrupts() : undefined;
  let finished = false;
  try {
    const result = await run(program, args, {
      cwd: options.cwd,
      env: { ...base, MEMTRACE_OUT: raw, LD_PRELOAD: preload, MEMTRACE_LIBC_FRAMES: String(options.frames ?? 0), ...(options.rssEvery !== undefined ? { MEMTRACE_RSS_EVERY: String(options.rssEvery) } : {}) },
      stdio: options.stdio ?? "inherit",
      stdoutToStderr: options.out === "-",
      onSpawn: (child) => signals?.attach(child),
    }).catch((e: unknown) => {
      throw new RecordError(`cannot run ${program}: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (statSync(raw).size === 0) {
      throw new RecordError(
        `${program} left no trace: the shim was not loaded (statically linked and set-user-ID programs ignore LD_PRELOAD)`,
      );
    }
    let events = 0;
    let heapStart = 0;
    let unknownPointers = 0;
    let ending: string | undefined;
    const live = new PointerMap(1 << 12);
    await forEachRecord(traceChunks(raw), (r) => {
      switch (r.kind) {
        case "heap-start":
          heapStart = r.address;
          return;
        case "comment": {
          const text = r.text;
          if (EXIT.test(text)) ending = "exit";
          else if (END.test(text)) ending = END.exec(text)![1];
          else if (EXEC.test(text)) ending = `exec ${EXEC.exec(text)![1]}`;
          else if (text === " exec failed") ending = undefined;
          return;
        }
        case "arena-alloc":
        case "arena-free":
        case "write":
        case "cpus":
        case "thread":
        case "thread-start":
        case "thread-exit":
        case "frame":
        case "traceback":
        case "stack":
        case "retrace":
          return;
        case "free":
          events++;
          if (r.ptr !== 0 && live.delete(r.ptr) === -1) unknownPointers++;
          return;
        case "realloc":
          events++;
          if (r.result === 0 && r.size !== 0) return;
          if (r.ptr !== 0 && live.delete(r.ptr) === -1) unknownPointers++;
          if (r.result !== 0) live.set(r.result, 1);
          return;
        default:
          events++;
          if (r.result !== 0) live.set(r.result, 1);
      }
    });
    const interrupted = signals?.signal();
    const status = `exit status ${result.exitCode}${result.signal ? `, ${result.signal}` : ""}`;
    const partial = interrupted
      ? `interrupted by ${interrupted} after ${events} events`
      : ending === undefined
        ? `${program} ended (${status}) without the recorder's end marker: calls after the last flush are missing; ${events} events`
        : undefined;
    if ((options.frames ?? 0) > 0) await symbolizeTrace(raw);
    finished = true;
    const outcome = await finishOutput(raw, options.out, { force, partial });
    if (partial !== undefined) {
      const error = interrupted ? new Interrupted(interrupted) : new RecordError(`the trace of ${program} is incomplete: ${partial}`);
      const where = options.out === "-" ? "standard output" : options.out;
      addNote(error, outcome === "kept-existing" ? `${where} is left as it was (a partial recording never replaces a file)` : `the partial trace is in ${where}`);
      throw error;
    }
    return {
      out: options.out,
      exitCode: result.exitCode,
      events,
      heapStart,
      unknownPointers,
      ending: ending ?? "exit",
      stdout: result.stdout,
      stderr: result.stderr,
    };
  } finally {
    signals?.stop();
    if (!finished) removeQuietly(raw);
  }
}
