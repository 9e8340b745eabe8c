/**
 * Replays of one trace as `mem-demo replay <trace>` does them (the stack from the trace's
 * header, then {@link replayFile}: read, gunzip, parse, replay), in a fresh process: the first
 * with the JIT cold, as for the command, then `warm` more in the same process. Prints one JSON
 * line: the user CPU seconds of the first replay and the median of the warm ones (replay alone,
 * the stack's construction excluded), and the calls replayed. (The kernel accounts CPU time
 * in ticks of a few milliseconds, and the garbage of the previous replay's stack is collected
 * during the next: the median of several replays is steadier than the fastest or the mean.)
 * Run by replay-stacks.ts: node --import tsx bench/replay-stacks-child.ts <trace> <warm>
 */
import { prepareReplay } from "../src/replay-command.js";
import { replayFile } from "../src/replay-file.js";

const trace = process.argv[2];
const warmRounds = Number(process.argv[3] ?? 0);
if (trace === undefined) throw new Error("usage: replay-stacks-child.ts <trace> <warm replays>");

async function once(): Promise<{ user: number; calls: number }> {
  const prepared = await prepareReplay(trace!, {}, { ramSize: 2 * 1024 ** 3 }, () => undefined);
  const before = process.cpuUsage();
  const summary = await replayFile(prepared.stack, trace!);
  return { user: process.cpuUsage(before).user / 1e6, calls: summary.calls };
}

const cold = await once();
const warm: number[] = [];
for (let i = 0; i < warmRounds; i++) warm.push((await once()).user);
warm.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ cold: cold.user, warm: warm[warm.length >> 1] ?? null, calls: cold.calls }) + "\n");
