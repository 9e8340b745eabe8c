/**
 * `mem-demo explain <trace>`: where did the memory go. Replays the trace with the insight
 * layer watching: every K call events a sample of RssAnon by cause, the account at the peak
 * and at the end, the pins, and the policy events; printed as a report that leads with a
 * plain-language paragraph, or with `--json` as the contract of `@mem/insight`'s schema.
 */
import { explainJson, pinsOf, renderReport, type ExplainJson } from "@mem/insight";
import type { TraceRecord } from "@mem/memtrace";
import { arenaMapText, collectArenas } from "@mem/view";
import { Option, type Command } from "commander";
import { addBySourceOptions, runBySource } from "./explain-by-source.js";
import { ReplayError } from "./replay.js";
import { prepareReplay } from "./replay-command.js";
import { prepareTimelineReplay } from "./timeline-replay.js";
import { replayFile } from "./replay-file.js";
import { replayedWithLine } from "./trace-settings.js";
import { DEFAULT_PROGRAM_WRITES, PROGRAM_WRITES, rssCheck, rssCheckText, type ProgramWrites } from "./rss-check.js";
import type { StackOptions } from "./stack.js";

/** `--at`: a call event (1-based count of m/c/r/f/a lines), `peak` or `end`. */
export type ExplainAt = number | "peak" | "end";

/** Parses `--at`: a positive integer, `peak` or `end`. */
export function parseAt(value: string): ExplainAt {
  if (value === "peak" || value === "end") return value;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0 || value.trim() === "") throw new Error(`expected a call event number (1 or more), "peak" or "end", got "${value}"`);
  return n;
}

/** Parses `--every`: a positive integer. */
export function parseEvery(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0 || value.trim() === "") throw new Error(`expected a positive number of call events, got "${value}"`);
  return n;
}

/** Options of {@link explainTrace}. */
export interface ExplainOptions {
  /** Sample every this many call events. @defaultValue 10000 */
  every?: number;
  /** The focus of the report. @defaultValue "end" */
  at?: ExplainAt;
  /** The replay flags that decide the stack (as `mem-demo replay`). */
  pythonMalloc?: StackOptions["pythonMalloc"];
  /** `--pymalloc-version`. */
  pymallocVersion?: StackOptions["pymallocVersion"];
  /** Draw the arena map with Unicode blocks (a terminal), else plain ASCII (piped, NO_COLOR). @defaultValue false */
  unicode?: boolean;
}

/** What {@link explainTrace} produced. */
export interface ExplainOutcome {
  /** The report text. */
  readonly text: string;
  /** The JSON contract. */
  readonly json: ExplainJson;
  /** The replay's error when the trace failed (the account is up to the failing event). */
  readonly failure: ReplayError | undefined;
}

/**
 * Replays `trace` with the insight layer's `Timeline` watching and returns the report and the JSON.
 * A trace that fails with a simulated fault is accounted up to the failing event; any other
 * error (unreadable or truncated trace, bad settings) is thrown.
 * @throws RangeError when `--at` lies beyond the end of the trace
 */
export async function explainTrace(trace: string, base: StackOptions, options: ExplainOptions = {}, note: (line: string) => void = () => undefined): Promise<ExplainOutcome> {
  const at = options.at ?? "end";
  const { prepared, timeline, bind } = await prepareTimelineReplay(
    trace,
    { pythonMalloc: options.pythonMalloc, pymallocVersion: options.pymallocVersion },
    base,
    { every: options.every ?? 10000, at: typeof at === "number" ? at : undefined },
    note,
  );
  const onEvent = (r: TraceRecord): void => {
    if (!timeline.follow(r)) return; // not a call event: A, D, w lines and comments
    timeline.afterCall();
  };
  let failure: ReplayError | undefined;
  try {
    await replayFile(prepared.stack, trace, {
      onEvent,
      replayer: (replayer) => {
        bind(replayer);
        // the requested sizes beside the replay's own pointers: no second table per event
        replayer.keepRequestedSizes();
        timeline.requestedFrom(replayer);
      },
    });
  } catch (error) {
    if (!(error instanceof ReplayError)) throw error;
    failure = error;
  }
  const result = timeline.finish();
  if (typeof at === "number" && result.at === undefined) {
    throw new RangeError(`--at ${at} is beyond the ${failure ? "failing event" : "end"} of the trace (${timeline.callsSeen} call events${failure ? ` before line ${failure.line}` : ""})`);
  }
  const stopped = failure ? { event: timeline.callsSeen, line: failure.line, error: failure.message } : undefined;
  const stoppedText = failure ? `at line ${failure.line}, after ${timeline.callsSeen} call events: ${failure.message}` : undefined;
  let text = renderReport(result, { focus: typeof at === "number" ? "at" : at, stopped: stoppedText });
  text += `\n${replayedWithLine(prepared.header, prepared.stack.options, prepared.stack.pymalloc !== undefined)}`;
  // the arena map at the end (or where the replay stopped), one character a pool (@mem/view)
  // (from the end's own account: the arena map's cells need no second account)
  const py = prepared.stack.pymalloc;
  const endDetail = timeline.endDetail;
  const arenas =
    py === undefined || endDetail === undefined ? undefined : collectArenas(py, endDetail, pinsOf(prepared.stack, endDetail, { maxArenas: py.narenasCurrentlyAllocated, maxBlocks: 8 }));
  if (arenas !== undefined && arenas.arenas.length > 0) text += `\nArena map ${failure ? "where the replay stopped" : "at the end"}\n${arenaMapText(arenas, { unicode: options.unicode ?? false })}`;
  return { text, json: explainJson(result, stopped), failure };
}

/**
 * Declares `mem-demo explain` on `command` (already given the stack options by cli.ts);
 * `toStackOptions` turns the parsed flags into stack options.
 */
export function explainCommand<Flags extends object>(command: Command, toStackOptions: (flags: Flags) => StackOptions): Command {
  return addBySourceOptions(command)
    .description("where did my memory go: the account of every resident byte by cause over a replay, its pins and a timeline")
    .argument("<trace>", "a memtrace v1 trace (plain, .gz, or - for standard input)")
    .addOption(new Option("--at <event>", "the moment the report explains: a call event number, peak or end").argParser(parseAt).default("end"))
    .addOption(new Option("--every <K>", "take a sample every K call events").argParser(parseEvery).default(10000))
    .option("--json", "print the timeline, peak and end as JSON (schema: @mem/insight/explain.schema.json)")
    .option("--rss-check", "print the predicted allocator-resident bytes against the # rss samples the recorder took, and the error in % (rss-check.ts)")
    .addOption(new Option("--program-writes <model>", "with --rss-check: what the program writes of its blocks").choices(PROGRAM_WRITES).default(DEFAULT_PROGRAM_WRITES))
    .action(async (trace: string, flags: Flags & { at: ExplainAt; every: number; json?: boolean; rssCheck?: boolean; programWrites: ProgramWrites; pythonmalloc?: StackOptions["pythonMalloc"]; pymallocVersion?: StackOptions["pymallocVersion"] }, cmd: Command) => {
      const given = (name: string) => cmd.getOptionValueSource(name) !== "default";
      try {
        // --by: tracemalloc's statistics from the trace's source locations (explain-by-source.ts)
        const note = (line: string) => process.stderr.write(`mem-demo explain: ${line}\n`);
        const stackFor = () =>
          prepareReplay(trace, { pythonMalloc: given("pythonmalloc") ? flags.pythonmalloc : undefined, pymallocVersion: given("pymallocVersion") ? flags.pymallocVersion : undefined }, toStackOptions(flags), note).then((p) => p.stack);
        if (await runBySource(trace, flags, (text) => process.stdout.write(text), stackFor)) return;
        if (flags.rssCheck) {
          const samples = await rssCheck(trace, toStackOptions(flags), flags.programWrites, note);
          process.stdout.write(flags.json ? JSON.stringify({ programWrites: flags.programWrites, samples }) + "\n" : rssCheckText(samples, flags.programWrites));
          return;
        }
        const outcome = await explainTrace(
          trace,
          toStackOptions(flags),
          {
            every: flags.every,
            at: flags.at,
            pythonMalloc: given("pythonmalloc") ? flags.pythonmalloc : undefined,
            pymallocVersion: given("pymallocVersion") ? flags.pymallocVersion : undefined,
            unicode: process.stdout.isTTY && !process.env.NO_COLOR,
          },
          (line) => process.stderr.write(`mem-demo explain: ${line}\n`),
        );
        process.stdout.write(flags.json ? JSON.stringify(outcome.json) + "\n" : outcome.text);
        if (outcome.failure) {
          process.stderr.write(`mem-demo explain: ${trace}: stopped at line ${outcome.failure.line}: ${outcome.failure.message}\n`);
          process.exitCode = 1;
        }
      } catch (error) {
        // one clear line: an unreadable or truncated trace, bad settings, --at beyond the end
        if (!(error instanceof Error)) throw error;
        process.stderr.write(`mem-demo explain: ${trace}: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}
