/**
 * Replays of one trace as `mem-demo replay <trace>` does them, with the command's own code and
 * settings: the built CLI's modules (dist/, as bin/mem-demo.js runs them, not this package's
 * src/ compiled on the fly), the command's default stack (`--ram 1024`, the other defaults)
 * and replayFile's options. The stack from the trace's header ({@link prepareReplay}), then
 * {@link replayFile} (read, gunzip, parse, replay), in a fresh process: the first with the JIT
 * cold, as for the command, then `warm` more in the same process. Prints one JSON line: the
 * user CPU seconds of the first replay and the median of the warm ones (replay alone, the
 * stack's construction excluded), and the calls replayed. (The kernel accounts CPU time in ticks of a few
 * milliseconds, and the garbage of the previous replay's stack is collected during the next:
 * the median of several replays is steadier than the fastest or the mean.)
 * Run by replay-stacks.ts (after a build): node --import tsx bench/replay-stacks-child.ts <trace> <warm>
 */
import type * as Demo from "../src/index.js";

/** The built modules (a path in a variable: dist/ has no type declarations, src/ gives the types). */
const DIST = new URL("../dist/index.js", import.meta.url).href;
const { prepareReplay, replayFile } = (await import(DIST)) as typeof Demo;
/** `mem-demo replay`'s stack options when none is given (cli.ts's defaults). */
const CLI_DEFAULTS = { pythonMalloc: "default", libc: "glibc", pymallocVersion: "3.11", ramSize: 1024 * 1024 * 1024, overcommit: 0, swapSize: 0 } as const;

const trace = process.argv[2];
const warmRounds = Number(process.argv[3] ?? 0);
if (trace === undefined) throw new Error("usage: replay-stacks-child.ts <trace> <warm replays>");

async function once(): Promise<{ user: number; calls: number }> {
  const prepared = await prepareReplay(trace!, {}, CLI_DEFAULTS, () => undefined);
  const before = process.cpuUsage();
  // the command's options: no --out; signals handled; no progress bar off a terminal
  const summary = await replayFile(prepared.stack, trace!, { interruptible: true, progress: false, warn: () => undefined });
  return { user: process.cpuUsage(before).user / 1e6, calls: summary.calls };
}

const cold = await once();
const warm: number[] = [];
for (let i = 0; i < warmRounds; i++) warm.push((await once()).user);
warm.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ cold: cold.user, warm: warm[warm.length >> 1] ?? null, calls: cold.calls }) + "\n");
