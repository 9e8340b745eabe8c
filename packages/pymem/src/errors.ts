import { reportBytes } from "./report-bytes.js";

/**
 * The typed errors of the PyMem tier. A fatal error of CPython (`Py_FatalError`, which prints
 * a report to stderr and calls `abort()`) becomes a {@link PyFatalError} carrying that exact
 * report; a crash of the real process inside the report (a wild read) becomes a
 * {@link PySegmentationFault}; a call the C API could not even express is a {@link PyMemUsageError}.
 */

/** `Py_FatalError`: CPython printed `report` to stderr and aborted (exit status 134). */
export class PyFatalError extends Error {
  override readonly name = "PyFatalError";
  /** The C function named in `Fatal Python error: <func>: <reason>`. */
  readonly func: string;
  /** The reason after the function name, e.g. `bad trailing pad byte`. */
  readonly reason: string;
  /** The data pointer of the debug block the report is about (0 when none, e.g. a GIL violation). */
  readonly address: number;
  /**
   * Everything CPython writes to stderr before aborting, byte for byte (also the `message`), as
   * a binary string: one character per byte (see {@link reportBytes}).
   */
  readonly report: string;

  /** Creates the error; `report` is the complete stderr text. */
  constructor(func: string, reason: string, address: number, report: string) {
    super(report);
    this.func = func;
    this.reason = reason;
    this.address = address;
    this.report = report;
  }

  /** The bytes CPython writes to stderr: {@link report} one byte per character (an API id of 0xe9 is the byte 0xe9). */
  get reportBytes(): Uint8Array {
    return reportBytes(this.report);
  }
}

/**
 * The real process would crash with SIGSEGV (exit status 139) here: CPython's diagnostic
 * dump or pad check read a wild address, typically after a double free made the size
 * field garbage. `report` is what had been written to stderr before the crash.
 */
export class PySegmentationFault extends Error {
  override readonly name = "PySegmentationFault";
  /** The wild address that was read. */
  readonly address: bigint;
  /** The stderr text written before the crash, a binary string (see {@link reportBytes}). */
  readonly report: string;

  /** Creates the error for a read at `address`, after `report` had been printed. */
  constructor(address: bigint, report: string, cause?: unknown) {
    super(`pymem: segmentation fault reading 0x${address.toString(16)} while checking a debug block\n${report}`, { cause });
    this.address = address;
    this.report = report;
  }

  /** The bytes written to stderr before the crash: {@link report} one byte per character. */
  get reportBytes(): Uint8Array {
    return reportBytes(this.report);
  }
}

/** A call with an argument no C `size_t`/pointer can hold (negative, fractional, NaN), or a bad configuration. */
export class PyMemUsageError extends RangeError {
  override readonly name = "PyMemUsageError";
}

/** A Python exception a tracemalloc function raises (`ValueError`, `RuntimeError`, `TypeError`), with Python's message. */
export class PyException extends Error {
  override readonly name = "PyException";
  /** The Python exception type. */
  readonly pyType: "ValueError" | "RuntimeError" | "TypeError";
  /** Creates the exception; `message` is exactly Python's. */
  constructor(pyType: "ValueError" | "RuntimeError" | "TypeError", message: string) {
    super(message);
    this.pyType = pyType;
  }
}
