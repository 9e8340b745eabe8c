/**
 * Recording a real C program's malloc calls: `recordLibc(["sort", "file"], { out })` runs the
 * command with the LD_PRELOAD shim (apps/demo/native/memtrace_libc.c, compiled on first use)
 * and leaves a memtrace v1 trace of `libc` lines with the addresses glibc returned and the
 * `# heap-start` line (the initial program break).
 */
import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { PointerMap, forEachRecord } from "@mem/memtrace";
import { RecordError } from "./errors.js";
import { checkWritable, gzipFile, isGzip, traceChunks } from "./files.js";
import { libcShim } from "./helpers.js";
import { run } from "./run.js";

/** Options of {@link recordLibc}. */
export interface RecordLibcOptions {
  /** Where the trace goes (`.gz`: compressed). */
  readonly out: string;
  /** Working directory of the program. */
  readonly cwd?: string;
  /** Environment of the program (MEMTRACE_OUT and LD_PRELOAD are added). @defaultValue process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** `inherit` shows the program's output; `pipe` captures it. @defaultValue "inherit" */
  readonly stdio?: "inherit" | "pipe";
  /** Where compiled helpers are cached. @defaultValue {@link defaultCacheDir} */
  readonly cacheDir?: string;
}

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
  /** The program's output when `stdio` was "pipe". */
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Records `command` (program and arguments, looked up on PATH). Only the process started is
 * recorded (programs it runs are not); threads other than the first are announced by comments.
 * @throws {@link RecordError} when no compiler is found or the shim did not load
 */
export async function recordLibc(command: readonly string[], options: RecordLibcOptions): Promise<LibcRecording> {
  const [program, ...args] = command;
  if (program === undefined) throw new RecordError("no command to record (usage: mem-demo record --libc -- <command> [args])");
  checkWritable(options.out, "trace", (m) => new RecordError(m));
  const shim = await libcShim(options.cacheDir);
  const raw = isGzip(options.out) ? `${options.out.slice(0, -3)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp` : options.out;
  rmSync(raw, { force: true }); // the shim creates it exclusively
  const base = options.env ?? process.env;
  const preload = base.LD_PRELOAD ? `${shim}:${base.LD_PRELOAD}` : shim;
  try {
    const result = await run(program, args, {
      cwd: options.cwd,
      env: { ...base, MEMTRACE_OUT: raw, LD_PRELOAD: preload },
      stdio: options.stdio ?? "inherit",
    }).catch((e: unknown) => {
      throw new RecordError(`cannot run ${program}: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!existsSync(raw)) {
      throw new RecordError(
        `${program} left no trace: the shim was not loaded (statically linked and set-user-ID programs ignore LD_PRELOAD)`,
      );
    }
    let events = 0;
    let heapStart = 0;
    let unknownPointers = 0;
    const live = new PointerMap(1 << 12);
    await forEachRecord(traceChunks(raw), (r) => {
      switch (r.kind) {
        case "heap-start":
          heapStart = r.address;
          return;
        case "comment":
        case "arena-alloc":
        case "arena-free":
        case "write":
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
    if (raw !== options.out) await gzipFile(raw, options.out);
    return { out: options.out, exitCode: result.exitCode, events, heapStart, unknownPointers, stdout: result.stdout, stderr: result.stderr };
  } finally {
    if (raw !== options.out) rmSync(raw, { force: true });
  }
}
