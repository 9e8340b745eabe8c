/**
 * The failures a mem-demo command reports in one line (no stack trace), and their exit
 * statuses: 1 for a failure (a bad or corrupt trace, a missing or unreadable input, a
 * simulated fault, a file that may not or cannot be written, a command not found), 128 + N
 * after signal N; usage errors
 * (unknown command or option, bad option value) exit with 2 (see cli.ts).
 */
import { PyFatalError, reportBytes } from "@mem/pymem";
import { Interrupted } from "./interrupt.js";
import { OutputError } from "./output-file.js";

/** A trace that could not be read to its end (corrupt gzip data, a read error): names how far it got. */
export class TraceReadError extends Error {
  override readonly name = "TraceReadError";
}

/** `ENOENT (no such file or directory)`: a Node file-system error's code and what it means. */
export function describeErrno(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const text = (e.message ?? "").replace(/^\w+: /, "").replace(/, \w+ '.*'$/, "");
  return `${e.code ?? "EIO"} (${text})`;
}

/** Whether `error` is a Node file-system error about a path (a missing or unreadable input). */
function isFileError(error: unknown): error is NodeJS.ErrnoException & { path: string } {
  const e = error as NodeJS.ErrnoException | undefined;
  return e instanceof Error && typeof e.code === "string" && e.code.startsWith("E") && typeof e.path === "string";
}

const notes = new WeakMap<object, string>();

/** Attaches a second line to `error` (what happened to a partial output), shown after its message. */
export function addNote(error: unknown, note: string): void {
  if (typeof error === "object" && error !== null) notes.set(error, note);
}

/** The note attached by {@link addNote}, if any. */
export function noteOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? notes.get(error) : undefined;
}

/**
 * Writes `error` as `<prefix>: <message>` (and its note) to standard error and returns the
 * exit status, for the failures above; returns undefined for any other error.
 */
export function reportFailure(prefix: string, subject: string | undefined, error: unknown, known: (e: unknown) => boolean = () => false): number | undefined {
  const note = noteOf(error);
  let status: number;
  let line: string;
  if (error instanceof Interrupted) {
    status = error.exitStatus;
    line = `${prefix}: ${error.message}${note ? `; ${note}` : ""}`;
  } else if (isFileError(error)) {
    status = 1;
    line = `${prefix}: ${error.path}: ${describeErrno(error)}`;
  } else if (error instanceof OutputError) {
    status = 1;
    line = `${prefix}: ${error.message}`;
  } else if (error instanceof TraceReadError || known(error)) {
    status = 1;
    const head = `${prefix}: ${subject ? `${subject}: ` : ""}`;
    const tail = note ? `\n${prefix}: ${note}` : "";
    if (carriesFatalReport(error)) {
      // CPython's report is bytes (a corrupted API id goes out raw through %c): write them as they are.
      process.stderr.write(Buffer.concat([Buffer.from(head), reportBytes((error as Error).message), Buffer.from(`${tail}\n`)]));
      return status;
    }
    line = `${head}${(error as Error).message}${tail}`;
  } else return undefined;
  process.stderr.write(`${line}\n`);
  return status;
}

/** Whether `error` is, or wraps, a CPython fatal error whose message holds its stderr report as a binary string. */
function carriesFatalReport(error: unknown): boolean {
  return error instanceof PyFatalError || (error instanceof Error && error.cause instanceof PyFatalError);
}
