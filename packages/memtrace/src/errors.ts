/**
 * Raised for a malformed trace line. The message names the line and what is wrong:
 * `memtrace: line 12: realloc needs 3 fields after the domain, got 2`.
 */
export class MemtraceSyntaxError extends Error {
  override readonly name: string = "MemtraceSyntaxError";
  /** The 1-based line number. */
  readonly line: number;
  /** What is wrong with the line, without the `memtrace: line N: ` prefix. */
  readonly reason: string;

  /** Creates the error for `reason` on line `line`. */
  constructor(line: number, reason: string) {
    super(`memtrace: line ${line}: ${reason}`);
    this.line = line;
    this.reason = reason;
  }
}

/**
 * Raised when a line grows past the reader's bound without ending (for instance when the
 * input is not a trace at all, such as `/dev/zero`): the message names the line and the
 * limit, `memtrace: line 1: line longer than 1048576 characters (...)`.
 */
export class MemtraceLineTooLongError extends MemtraceSyntaxError {
  override readonly name: string = "MemtraceLineTooLongError";
  /** The bound that was exceeded, in characters. */
  readonly limit: number;

  /** Creates the error for line `line`, which exceeded `limit` characters. */
  constructor(line: number, limit: number) {
    super(line, `line longer than ${limit} characters (the limit of a trace line; is this a memtrace file?)`);
    this.limit = limit;
  }
}
