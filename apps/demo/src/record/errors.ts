/**
 * Raised when a recording cannot be made: no C compiler, no Python headers or library,
 * a failed compilation, a program the shim could not enter. The message says what is
 * missing and how to get it.
 */
export class RecordError extends Error {
  override readonly name = "RecordError";

  /** Creates the error; `message` follows the `mem-demo record: ` prefix. */
  constructor(message: string) {
    super(`mem-demo record: ${message}`);
  }
}
