/**
 * A worker thread of `mem-demo compare`: replays the trace under one configuration
 * ({@link runConfiguration}) and posts its notes, then its column, to the parent.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runConfiguration } from "./compare-run.js";
import type { CompareConfig } from "./compare-settings.js";
import type { StackOptions } from "./stack.js";

/** What the parent gives a worker. */
export interface CompareWorkerData {
  /** The trace. */
  readonly trace: string;
  /** Stack options (plain data only). */
  readonly base: StackOptions;
  /** The configuration, or undefined for the baseline. */
  readonly config: CompareConfig | undefined;
  /** Sampling interval. */
  readonly every: number;
}

const data = workerData as CompareWorkerData;
const port = parentPort!;
const column = await runConfiguration(data.trace, data.base, data.config, data.every, (line) => port.postMessage({ note: line }));
port.postMessage({ column });
