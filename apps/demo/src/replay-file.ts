/**
 * `mem-demo replay`: streams a trace file (plain, gzip, or standard input) through the
 * replay engine in constant memory, with a progress bar on a terminal.
 */
import { createReadStream, createWriteStream, statSync, type WriteStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { MemtraceSyntaxError, TraceStream } from "@mem/memtrace";
import { SingleBar } from "cli-progress";
import { ReplayError, Replayer, type ReplayerOptions, type ReplaySummary } from "./replay.js";
import type { CPythonStack } from "./stack.js";
import { parseTraceHeader, type TraceHeader } from "./trace-header.js";

export type { TraceHeader } from "./trace-header.js";

/** Options of {@link replayFile}. */
export interface ReplayFileOptions {
  /** Write the replayed trace (simulated pointers) to this file. */
  out?: string;
  /** Show a progress bar (only sensible on a terminal). */
  progress?: boolean;
  /** Receives the replay's warnings (see {@link ReplayerOptions.warn}). */
  warn?: (message: string) => void;
  /** Called after each replayed line (see {@link ReplayerOptions.onEvent}). */
  onEvent?: ReplayerOptions["onEvent"];
  /** Receives the replayer before the first line, for read-only lookups while it runs. */
  replayer?: (replayer: Replayer) => void;
}

/** Replays the trace at `path` (`-` for standard input; `.gz` is decompressed) through `stack`. */
export async function replayFile(stack: CPythonStack, path: string, options: ReplayFileOptions = {}): Promise<ReplaySummary> {
  const input = path === "-" ? process.stdin : createReadStream(path);
  const total = path === "-" ? 0 : statSync(path).size;
  const gz = path.endsWith(".gz");
  const source = gz ? input.pipe(createGunzip()) : input;
  source.setEncoding("utf8");

  let writer: WriteStream | undefined;
  let pending: string[] = [];
  const flush = () => {
    if (writer && pending.length) {
      writer.write(pending.join("\n") + "\n");
      pending = [];
    }
  };
  if (options.out) writer = createWriteStream(options.out);
  const replayer = new Replayer(stack, writer ? (line) => pending.push(line) : undefined, { warn: options.warn, onEvent: options.onEvent });
  options.replayer?.(replayer);
  const stream = new TraceStream((record, line) => replayer.handle(record, line));

  const bar = options.progress && total > 0 ? new SingleBar({ format: "replay [{bar}] {percentage}% | {value}/{total} bytes | {events} lines", hideCursor: true }) : undefined;
  bar?.start(total, 0, { events: 0 });
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      pushChecked(stream, chunk);
      if (pending.length > 4096) flush();
      if (bar && "bytesRead" in input) bar.update(input.bytesRead, { events: stream.lines });
    }
    pushChecked(stream, undefined);
  } finally {
    bar?.stop();
    flush();
    if (writer) await new Promise<void>((resolve, reject) => writer.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  return replayer.finish();
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
  const source = path.endsWith(".gz") ? input.pipe(createGunzip()) : input;
  source.setEncoding("utf8");
  let text = "";
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      text += chunk;
      // Enough once a line that is not a comment has started (or the header is absurdly long).
      if (/(^|\n)[^#\n]/.test(text) || text.length > 128 * 1024) break;
    }
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
