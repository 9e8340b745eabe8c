/**
 * How a replay ends when memory runs out, as the real program would end:
 * - under `vm.overcommit_memory=2` (or a request the heuristic refuses) the kernel says ENOMEM,
 *   malloc and PyObject_Malloc return NULL, and CPython raises `MemoryError`;
 * - when a page fault finds no frame, the kernel's OOM killer sends SIGKILL: the process dies
 *   with status 137 and the kernel logs `Out of memory: Killed process …`.
 */
import type { Domain } from "@mem/memtrace";
import { ProcessKilledError } from "@mem/os-vm";

/** The C function behind each Python domain's call, as CPython names them. */
const API: Record<Exclude<Domain, "libc">, string> = { obj: "PyObject", mem: "PyMem", raw: "PyMem_Raw" };

/**
 * CPython's `MemoryError`: a PyMem/PyObject allocation returned NULL where the recorded program
 * got memory. Message: `MemoryError (PyObject_Malloc(1048576) returned NULL)`.
 */
export class PythonMemoryError extends Error {
  override readonly name = "MemoryError";
  /** The call that returned NULL, e.g. `PyObject_Malloc(1048576)`. */
  readonly call: string;

  /** Creates the error for `call` (written as CPython's C API names it). */
  constructor(call: string) {
    super(`MemoryError (${call} returned NULL)`);
    this.call = call;
  }
}

/**
 * The `MemoryError` CPython raises when `domain`'s `kind` call with `args` returned NULL while
 * the recording got a pointer; undefined for a C program's malloc (a C program sees NULL and
 * goes on: the replay counts a divergence).
 */
export function memoryErrorFor(domain: Domain, kind: "Malloc" | "Calloc" | "Realloc", args: readonly (number | string)[]): PythonMemoryError | undefined {
  if (domain === "libc") return undefined;
  return new PythonMemoryError(`${API[domain]}_${kind}(${args.join(", ")})`);
}

/** The one-line text of a replay stopped by the OOM killer or a MemoryError; undefined for any other error. */
export function outOfMemoryText(error: unknown): string | undefined {
  if (error instanceof PythonMemoryError) return error.message;
  if (isKilled(error)) return `Killed (${error.signalName}): ${error.kernelMessage}`;
  return undefined;
}

/** Whether `error` is the SIGKILL of a process (by class, or by shape across package copies). */
export function isKilled(error: unknown): error is ProcessKilledError {
  return error instanceof ProcessKilledError || (error instanceof Error && error.name === "ProcessKilledError" && typeof (error as Partial<ProcessKilledError>).signal === "number");
}

/** The exit status of a replay that ended with `error`'s cause: 128 + the signal for a killed process, else undefined. */
export function killedExitStatus(error: unknown): number | undefined {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return isKilled(cause) ? 128 + cause.signal : undefined;
}

/** Parses `--swap <MiB>`: a non-negative integer (0: no swap). */
export function parseSwapMiB(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new Error(`expected a non-negative integer of MiB, got "${value}"`);
  return n;
}
