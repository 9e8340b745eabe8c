/**
 * `mem-demo replay`: streams a trace file (plain, gzip, or standard input) through the
 * replay engine in constant memory, with a progress bar on a terminal.
 */
import { createReadStream, statSync } from "node:fs";
import { createGunzip, type Gunzip } from "node:zlib";
import { MemtraceSyntaxError, TraceStream } from "@mem/memtrace";
import { SingleBar } from "cli-progress";
import { addNote, describeErrno, TraceReadError } from "./cli-errors.js";
import { Interrupted, onInterrupt } from "./interrupt.js";
import { OutputError, OutputFile } from "./output-file.js";
import { ReplayError, Replayer, type ReplayerOptions, type ReplaySummary } from "./replay.js";
import type { CPythonStack } from "./stack.js";
import { parseTraceHeader, type TraceHeader } from "./trace-header.js";

export type { TraceHeader } from "./trace-header.js";

/** Options of {@link replayFile}. */
export interface ReplayFileOptions {
  /**
   * Write the replayed trace (simulated pointers) to this file: `.gz` compresses, `-` is
   * standard output. It may not be the trace being read; an existing file is replaced only
   * with `force`; it is written to a temporary file and put in place when complete (see
   * {@link OutputFile}).
   */
  out?: string;
  /** Replace an existing `out` (with a complete replay only). @defaultValue false */
  force?: boolean;
  /** Show a progress bar (only sensible on a terminal). */
  progress?: boolean;
  /**
   * Stop at SIGINT, SIGTERM or SIGHUP with {@link Interrupted}, after finishing `out` as
   * partial (a command-line use; a library caller keeps its own signal handling). @defaultValue false
   */
  interruptible?: boolean;
  /** Receives the replay's warnings (see {@link ReplayerOptions.warn}). */
  warn?: (message: string) => void;
  /** Called after each replayed line (see {@link ReplayerOptions.onEvent}). */
  onEvent?: ReplayerOptions["onEvent"];
  /** Receives the replayer before the first line, for read-only lookups while it runs. */
  replayer?: (replayer: Replayer) => void;
}

/**
 * Replays the trace at `path` (`-` for standard input; `.gz` is decompressed) through `stack`.
 * When the replay stops early (a fault of the simulated program, a malformed line, corrupt
 * gzip data, a signal) the output ends with a `# partial: <why> after N events` line and the
 * error carries a note saying where it is ({@link noteOf}).
 * @throws {@link ReplayError}, {@link TraceReadError}, {@link Interrupted}, {@link OutputError}
 */
export async function replayFile(stack: CPythonStack, path: string, options: ReplayFileOptions = {}): Promise<ReplaySummary> {
  const output = options.out ? OutputFile.open(options.out, { force: options.force, inputs: [{ path, what: "the trace being read" }] }) : undefined;
  const input = path === "-" ? process.stdin : createReadStream(path);
  const total = path === "-" ? 0 : statSync(path).size;
  const gunzip = path.endsWith(".gz") ? createGunzip() : undefined;
  const source = gunzip ? input.pipe(gunzip) : input;
  input.on("error", (error: Error) => gunzip?.destroy(error));
  source.setEncoding("utf8");

  let pending: string[] = [];
  let written = 0;
  const flush = async () => {
    if (output && pending.length) {
      const text = pending.join("\n") + "\n";
      pending = [];
      await output.write(text);
    }
  };
  const replayer = new Replayer(
    stack,
    output
      ? (line) => {
          pending.push(line);
          if (line.charCodeAt(0) !== 35) written++; // not a "#" comment: an event
        }
      : undefined,
    { warn: options.warn, onEvent: options.onEvent },
  );
  options.replayer?.(replayer);
  const stream = new TraceStream((record, line) => replayer.handle(record, line));
  const stopListening = options.interruptible ? onInterrupt((signal) => source.destroy(new Interrupted(signal))) : undefined;

  const bar = options.progress && total > 0 ? new SingleBar({ format: "replay [{bar}] {percentage}% | {value}/{total} bytes | {events} lines", hideCursor: true }) : undefined;
  bar?.start(total, 0, { events: 0 });
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      pushChecked(stream, chunk);
      if (pending.length > 4096) await flush();
      if (bar && "bytesRead" in input) bar.update(input.bytesRead, { events: stream.lines });
    }
    pushChecked(stream, undefined);
    bar?.stop();
    await flush();
    await output?.complete();
  } catch (caught) {
    bar?.stop();
    const error = readFailure(caught, path, gunzip, total, stream.lines);
    if (output) {
      await flush().catch(() => undefined);
      const reason =
        error instanceof ReplayError
          ? `stopped at line ${error.line} (${error.message.replace(/^(memtrace: )?line \d+: /, "")})`
          : error instanceof OutputError
            ? error.message
            : error instanceof Error
              ? error.message
              : String(error);
      const outcome = error instanceof OutputError ? await output.discard().then(() => "failed" as const) : await output.partial(`${reason} after ${written} events`);
      const where = output.path === "-" ? "standard output" : output.path;
      if (outcome === "partial") addNote(error, `the partial replayed trace is in ${where}`);
      else if (outcome === "kept-existing") addNote(error, `${where} is left as it was (a partial replay never replaces a file)`);
    }
    throw error;
  } finally {
    stopListening?.();
    if (path === "-") process.stdin.destroy();
  }
  return replayer.finish();
}

/** A read error (corrupt gzip data above all) as a {@link TraceReadError} naming how far the reading got. */
function readFailure(error: unknown, path: string, gunzip: Gunzip | undefined, total: number, lines: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (gunzip && typeof code === "string" && code.startsWith("Z_")) {
    const at = gunzip.bytesWritten;
    const of = total > 0 ? ` of ${total.toLocaleString("en-US")}` : "";
    return new TraceReadError(
      `corrupt gzip data (${(error as Error).message}) after ${at.toLocaleString("en-US")}${of} compressed bytes (${lines.toLocaleString("en-US")} lines read)`,
    );
  }
  if (typeof code === "string" && code.startsWith("E")) return new TraceReadError(`${describeErrno(error)} after ${lines.toLocaleString("en-US")} lines read`);
  return error;
}

/** Feeds a chunk (or, for `undefined`, the end) to the stream; a malformed line becomes a ReplayError. */
function pushChecked(stream: TraceStream, chunk: string | undefined): void {
  try {
    if (chunk === undefined) stream.end();
    else stream.push(chunk);
  } catch (error) {
    if (error instanceof MemtraceSyntaxError) throw new ReplayError(error.line, error);
    throw error;
  }
}

/** Reads the comment lines at the start of a trace file (plain or `.gz`); see {@link parseTraceHeader}. */
export async function readTraceHeader(path: string): Promise<TraceHeader> {
  if (path === "-") return parseTraceHeader((await peekStdinHeader()).split("\n"));
  const input = createReadStream(path, { end: 256 * 1024 });
  const gunzip = path.endsWith(".gz") ? createGunzip() : undefined;
  const source = gunzip ? input.pipe(gunzip) : input;
  input.on("error", (error: Error) => gunzip?.destroy(error));
  source.setEncoding("utf8");
  let text = "";
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      text += chunk;
      // Enough once a line that is not a comment has started (or the header is absurdly long).
      if (/(^|\n)[^#\n]/.test(text) || text.length > 128 * 1024) break;
    }
  } catch (error) {
    // corrupt gzip data or a read error, named with how far the reading got
    throw readFailure(error, path, gunzip, statSync(path).size, text.split("\n").length - 1);
  } finally {
    input.destroy();
  }
  return parseTraceHeader(text.split("\n"));
}

/** Whether `text` holds the start of a line that is not a comment (the header is over). */
const headerDone = (text: string) => /(^|\n)[^#\n]/.test(text) || text.length > 128 * 1024;

/**
 * Reads standard input up to the end of the trace's header and puts what it read back
 * (`unshift`), so that {@link replayFile} reads the whole trace from the start.
 */
async function peekStdinHeader(): Promise<string> {
  const stdin = process.stdin;
  const chunks: Buffer[] = [];
  let text = "";
  while (!headerDone(text)) {
    const chunk = stdin.read() as Buffer | string | null;
    if (chunk !== null) {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      chunks.push(buffer);
      text += buffer.toString("utf8");
      continue;
    }
    if (stdin.readableEnded) break;
    const more = await new Promise<boolean>((resolve) => {
      const readable = () => done(true);
      const end = () => done(false);
      const done = (value: boolean) => {
        stdin.off("readable", readable);
        stdin.off("end", end);
        stdin.off("error", end);
        resolve(value);
      };
      stdin.once("readable", readable);
      stdin.once("end", end);
      stdin.once("error", end);
    });
    if (!more) break;
  }
  // A header-only input has ended: only comments were read, nothing to give back.
  if (chunks.length > 0 && !stdin.readableEnded) stdin.unshift(Buffer.concat(chunks));
  return text;
}
