/**
 * Raised for a malformed trace line. The message names the line and what is wrong:
 * `memtrace: line 12: realloc needs 3 fields after the domain, got 2`.
 */
export class MemtraceSyntaxError extends Error {
  override readonly name = "MemtraceSyntaxError";
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
