/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP while mem-demo writes a file: instead of dying with
 * a half-written output, the command is told, finishes its output as partial, and exits
 * with the shell's convention for a signal, 128 + its number (130 for SIGINT, 143 for SIGTERM).
 */
import { constants } from "node:os";

/** The signals that interrupt a command (their default action would end the process). */
export const INTERRUPT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** One of {@link INTERRUPT_SIGNALS}. */
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** The run was interrupted by a signal; the message is `interrupted by SIGINT`. */
export class Interrupted extends Error {
  override readonly name = "Interrupted";
  /** The signal received. */
  readonly signal: InterruptSignal;
  /** 128 + the signal's number, the exit status the shell expects. */
  readonly exitStatus: number;

  /** Creates the error for `signal`. */
  constructor(signal: InterruptSignal) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
    this.exitStatus = 128 + constants.signals[signal];
  }
}

/**
 * Calls `handler` for each interrupting signal until the returned function is called
 * (which restores the default: a second Ctrl-C after that ends the process as usual).
 */
export function onInterrupt(handler: (signal: InterruptSignal) => void): () => void {
  const listeners = INTERRUPT_SIGNALS.map((signal) => {
    const listener = () => handler(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}
