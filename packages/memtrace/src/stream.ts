import { MAX_LINE_LENGTH, MEMTRACE_HEADER, type MemtraceEvent, type ReadOptions } from "./api.js";
import { MemtraceLineTooLongError, MemtraceSyntaxError } from "./errors.js";
import { parseLineInto } from "./parse-line.js";
import { TraceRecord } from "./record.js";
import { isStackLine } from "./stack-line.js";
import { StackTable } from "./stacks.js";

const HASH = 35;
const CR = 13;

/** Called for every line of a trace with the (reused) record it was parsed into and its line number. */
export type RecordHandler = (record: TraceRecord, line: number) => void;

/**
 * A streaming reader: feed it a trace as string chunks of any size (split anywhere,
 * even inside a line) and it calls the handler once per line, in constant memory
 * (only a partial last line is kept between chunks, and no line may grow past
 * `maxLineLength`: an input without newlines fails fast). The record passed to the
 * handler is reused for the next line: copy what you keep, or call `toEvent()`.
 *
 * ```
 * chunk 1: "# memtrace v1\nm obj 16 0x7f00"      -> line 1; "m obj 16 0x7f00" kept
 * chunk 2: "10\nf obj 0x7f0010\n"                -> line 2 "m obj 16 0x7f0010", line 3
 * end()                                          -> nothing left
 * ```
 *
 * Decompression and decoding belong to the caller (e.g. Node's zlib and a
 * TextDecoder, or a browser's DecompressionStream and TextDecoderStream).
 */
export class TraceStream {
  private carry = "";
  private lineNo = 0;
  private readonly record = new TraceRecord();
  /** The frames and tracebacks read so far and the traceback in force (source locations, `#F`/`#T`/`#S`). */
  readonly stacks = new StackTable();
  private readonly requireHeader: boolean;
  private readonly maxLineLength: number;
  private readonly onRecord: RecordHandler;

  /** Creates a reader that calls `onRecord` for every line. */
  constructor(onRecord: RecordHandler, options: ReadOptions = {}) {
    this.onRecord = onRecord;
    this.requireHeader = options.requireHeader ?? true;
    this.maxLineLength = options.maxLineLength ?? MAX_LINE_LENGTH;
  }

  /** The number of lines read so far. */
  get lines(): number {
    return this.lineNo;
  }

  /**
   * Reads the complete lines of `chunk` (with what was left of the previous chunk).
   * @throws {@link MemtraceSyntaxError} for a malformed line, {@link MemtraceLineTooLongError}
   *   as soon as a line is longer than `maxLineLength`
   */
  push(chunk: string): void {
    let pos = 0;
    if (this.carry.length > 0) {
      const nl = chunk.indexOf("\n");
      if (nl < 0) {
        this.checkLength(this.carry.length + chunk.length);
        this.carry += chunk;
        return;
      }
      const first = this.carry + chunk.slice(0, nl);
      this.carry = "";
      this.line(first, 0, first.length);
      pos = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf("\n", pos);
      if (nl < 0) break;
      this.line(chunk, pos, nl);
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      this.checkLength(chunk.length - pos);
      this.carry = chunk.slice(pos);
    }
  }

  /** Throws when the line being read (the next one) would be `length` characters long or more than allowed. */
  private checkLength(length: number): void {
    if (length > this.maxLineLength) throw new MemtraceLineTooLongError(this.lineNo + 1, this.maxLineLength);
  }

  /** Reads the last line if it had no newline; checks that the trace was not empty. */
  end(): void {
    if (this.carry.length > 0) {
      const last = this.carry;
      this.carry = "";
      this.line(last, 0, last.length);
    }
    if (this.lineNo === 0 && this.requireHeader) {
      throw new MemtraceSyntaxError(1, `empty trace (expected the header ${JSON.stringify(MEMTRACE_HEADER)})`);
    }
  }

  private line(src: string, start: number, end: number): void {
    if (end - start > this.maxLineLength) this.checkLength(end - start);
    const line = ++this.lineNo;
    if (line === 1 && this.requireHeader) checkHeader(src, start, end);
    const rec = this.record;
    if (src.charCodeAt(start) === HASH && isStackLine(src, start, end)) {
      // a stack record (#F #T #S #R): read straight into the table, file names interned
      if (src.charCodeAt(end - 1) === CR) end--;
      this.stacks.read(src, start, end, line, rec);
    } else parseLineInto(src, start, end, line, rec);
    this.onRecord(rec, line);
  }
}

function checkHeader(src: string, start: number, end: number): void {
  if (end > start && src.charCodeAt(end - 1) === 13) end--;
  if (end - start !== MEMTRACE_HEADER.length || !src.startsWith(MEMTRACE_HEADER, start)) {
    const got = src.slice(start, Math.min(end, start + 60));
    throw new MemtraceSyntaxError(1, `expected the header ${JSON.stringify(MEMTRACE_HEADER)}, got ${JSON.stringify(got)}`);
  }
}

/** Parses a whole trace held in one string into events. */
export function parseTrace(text: string, options: ReadOptions = {}): MemtraceEvent[] {
  const events: MemtraceEvent[] = [];
  const stream = new TraceStream((r) => events.push(r.toEvent()), options);
  stream.push(text);
  stream.end();
  return events;
}

/**
 * Reads a trace from string chunks (sync or async iterable), calling `onRecord` for every
 * line with a reused record: the fast way to replay a large trace. Resolves to the number
 * of lines read.
 */
export async function forEachRecord(
  chunks: AsyncIterable<string> | Iterable<string>,
  onRecord: RecordHandler,
  options: ReadOptions = {},
): Promise<number> {
  const stream = new TraceStream(onRecord, options);
  for await (const chunk of chunks) stream.push(chunk);
  stream.end();
  return stream.lines;
}

/** Reads a trace from string chunks as a stream of events (one fresh object per line). */
export async function* readEvents(
  chunks: AsyncIterable<string> | Iterable<string>,
  options: ReadOptions = {},
): AsyncGenerator<MemtraceEvent, void, undefined> {
  let batch: MemtraceEvent[] = [];
  const stream = new TraceStream((r) => batch.push(r.toEvent()), options);
  for await (const chunk of chunks) {
    stream.push(chunk);
    const ready = batch;
    batch = [];
    yield* ready;
  }
  stream.end();
  yield* batch;
}
