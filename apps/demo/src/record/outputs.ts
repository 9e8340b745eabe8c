/**
 * The recorders' outputs, kept safe: the native recorder writes into a fresh temporary file
 * beside the output (or in the temporary folder for `-`), which is put in place only at
 * the end: compressed for `.gz`, copied to standard output for `-`, and, when the recording
 * is partial, ended with a `# partial: <why>` line and put in place only if nothing is
 * there (see ../output-file.ts).
 */
import { appendFileSync, createReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ChildProcess } from "node:child_process";
import { onInterrupt, type InterruptSignal } from "../interrupt.js";
import { createTemporary, install, OutputError, removeQuietly, type OutputOutcome } from "../output-file.js";
import { gzipFile, isGzip, readTail } from "./files.js";

/** A fresh, empty temporary file for the recorder to write the raw (uncompressed) output of `out` into. */
export function reserveRaw(out: string): string {
  return createTemporary(out === "-" ? join(tmpdir(), "mem-demo-record") : out);
}

/** Options of {@link finishOutput}. */
export interface FinishOptions {
  /** Replace an existing output (a complete one only). */
  readonly force: boolean;
  /** Why the output is partial; undefined when complete. */
  readonly partial?: string | undefined;
}

/**
 * Puts the raw file `raw` in place as `out` (gzip for `.gz`, standard output for `-`) and
 * removes it. A partial output gets its `# partial:` line and never replaces a file.
 */
export async function finishOutput(raw: string, out: string, options: FinishOptions): Promise<OutputOutcome> {
  try {
    if (options.partial !== undefined) {
      // on a line of its own, even after a line cut short
      const tail = readTail(raw, 1);
      appendFileSync(raw, `${tail === "" || tail === "\n" ? "" : "\n"}# partial: ${options.partial}\n`);
    }
    if (out === "-") {
      await pipeline(createReadStream(raw), process.stdout, { end: false });
      return options.partial === undefined ? "complete" : "partial";
    }
    let ready = raw;
    if (isGzip(out)) {
      ready = createTemporary(out);
      try {
        await gzipFile(raw, ready);
      } catch (error) {
        removeQuietly(ready);
        throw error;
      }
    }
    try {
      install(ready, out, options.partial === undefined && options.force);
    } catch (error) {
      if (options.partial !== undefined && error instanceof OutputError) return "kept-existing";
      throw error;
    }
    return options.partial === undefined ? "complete" : "partial";
  } finally {
    removeQuietly(raw);
  }
}

/**
 * While a recorded program runs: SIGINT, SIGTERM or SIGHUP received by mem-demo is passed
 * on to the program (after 200 ms, unless it has ended: Ctrl-C on a terminal reaches the
 * whole process group, the program included, and must not reach it twice). `signal()`
 * says which signal came, if any; `stop()` ends the forwarding.
 */
export function forwardInterrupts(): { attach(child: ChildProcess): void; signal(): InterruptSignal | undefined; stop(): void } {
  let child: ChildProcess | undefined;
  let received: InterruptSignal | undefined;
  const stop = onInterrupt((signal) => {
    received = signal;
    setTimeout(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    }, 200).unref();
  });
  return {
    attach: (c) => (child = c),
    signal: () => received,
    stop,
  };
}
