/**
 * Shared pieces of the model-driven fuzzers (each tier's `test/fuzz.test.ts`).
 *
 * A fuzzer drives one tier with random call sequences (valid calls, invalid arguments and
 * misuse, and corruptions written into simulated memory) and asserts:
 * - every error that escapes is typed: an instance of a class of its own (`MallocAbort`,
 *   `SegmentationFault`, `InvalidArgumentError` ...), never a bare `Error`, `TypeError` or
 *   `RangeError` from the simulator's internals;
 * - every checker either passes or reports corruption with its typed checker error;
 * - after a typed error caused by misuse (no corruption written), the state is consistent:
 *   the checker passes. A failure of that rule is counted as a "corruption", and must be 0.
 *
 * Sizes: the test suite runs a CI-sized sample (seconds); `npm run fuzz` (FUZZ_SCALE=full)
 * runs the full size. Each fuzzer prints its figures: calls, errors by type, corruptions.
 */

/** Whether the full-size run was asked for (`npm run fuzz` sets FUZZ_SCALE=full). */
export const FUZZ_FULL = process.env.FUZZ_SCALE === "full";

/** The number of fast-check runs: `ci` in the test suite, `full` under `npm run fuzz`. */
export function fuzzRuns(ci: number, full: number): number {
  const override = Number(process.env.FUZZ_RUNS);
  if (Number.isSafeInteger(override) && override > 0) return override;
  return FUZZ_FULL ? full : ci;
}

/** The fast-check seed: FUZZ_SEED when given (to replay a failure), else fast-check's own. */
export function fuzzSeed(): number | undefined {
  const seed = Number(process.env.FUZZ_SEED);
  return Number.isSafeInteger(seed) ? seed : undefined;
}

const UNTYPED = new Set<unknown>([Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]);

/** Whether `error` is a typed error: an Error whose class is its own, not a built-in one. */
export function isTyped(error: unknown): error is Error {
  return error instanceof Error && !UNTYPED.has(error.constructor) && error.name !== "Error";
}

/** The figures of one fuzzer: calls made, errors by type, checker runs, corruptions. */
export class FuzzTally {
  /** Calls made into the tier. */
  calls = 0;
  /** Checker runs. */
  checks = 0;
  /** Sequences run. */
  sequences = 0;
  /** Typed errors by class name (`name`). */
  readonly errors = new Map<string, number>();
  /** States found inconsistent after a typed error without any corruption written: must stay 0. */
  corruptions = 0;

  /** Creates the tally of the fuzzer named `name`. */
  constructor(readonly name: string) {}

  /** Counts a typed error; throws (failing the property) for an untyped one. */
  error(error: unknown, during: string): void {
    if (!isTyped(error)) {
      const what = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
      throw new Error(`${this.name}: untyped error escaped from ${during}: ${what}`, { cause: error });
    }
    this.errors.set(error.name, (this.errors.get(error.name) ?? 0) + 1);
  }

  /** One line of figures: `fuzz <name>: N calls, M checks, K sequences; errors: A 3, B 1; 0 corruptions`. */
  summary(): string {
    const errors = [...this.errors].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`);
    return (
      `fuzz ${this.name} (${FUZZ_FULL ? "full" : "ci"} size): ${this.calls.toLocaleString("en-US")} calls, ` +
      `${this.checks.toLocaleString("en-US")} checks, ${this.sequences.toLocaleString("en-US")} sequences; ` +
      `errors by type: ${errors.length === 0 ? "none" : errors.join(", ")}; ${this.corruptions} corruptions`
    );
  }
}
