/**
 * `mem-demo report <trace> [-o report.html] [--force] [--open] [--compare '<settings>']…`: one self-contained HTML file
 * with the timeline, the explain paragraph and tables, and the arena, heap and page maps under
 * a time slider (see report-html.ts for the page, report-replay.ts for the replay).
 *
 *   trace.memtrace.gz ──► replay (explain's watch + ≤ 200 map snapshots) ──► report.html
 *   -o absent: <trace>.html beside the trace (.memtrace and .gz dropped), path printed
 *   an existing file is kept unless --force; written to a temporary file, renamed into place
 *   a trace that fails part way: the report up to the failure, saying where and why at its top
 *   a trace with stacks (#S lines): + icicle graphs of its sources at ≤ 64 of the map snapshots' events
 *     and the end, following the slider (a second replay, report-sources.ts)
 *   --compare '<settings>' (repeatable): + compare's table and RSS lines (one replay each, report-compare.ts)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pinsText } from "@mem/insight";
import { Option, type Command } from "commander";
import { parseEvery } from "./explain-command.js";
import { OutputError, OutputFile } from "./output-file.js";
import { CompareSettingsError, type CompareConfig } from "./compare-settings.js";
import { compareForReport, parseReportCompare } from "./report-compare.js";
import { reportHtml } from "./report-html.js";
import { MAX_SNAPSHOTS, replayForReport } from "./report-replay.js";
import { flameMoments, NO_STACKS, sourcesForReport } from "./report-sources.js";
import type { StackOptions } from "./stack.js";

/** `<trace>.html`: the trace's path without `.gz` and `.memtrace`, plus `.html`. */
export function defaultReportPath(trace: string): string {
  return `${trace.replace(/\.gz$/, "").replace(/\.memtrace$/, "")}.html`;
}

/** The renderers' browser bundle (`@mem/view/view.global.js`), inlined in every report. */
export function viewBundle(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve("@mem/view/view.global.js"), "utf8");
}

/** Options of {@link writeReport}. */
export interface ReportOptions {
  /** The HTML file to write. @defaultValue {@link defaultReportPath} */
  out?: string;
  /** Replace an existing file. */
  force?: boolean;
  /** `--pythonmalloc` when given. */
  pythonMalloc?: StackOptions["pythonMalloc"];
  /** `--pymalloc-version` when given. */
  pymallocVersion?: StackOptions["pymallocVersion"];
  /** Timeline sample interval. @defaultValue 10000 */
  every?: number;
  /** `--compare` configurations (compare's grammar): the what-if table and their RSS lines. */
  compare?: readonly CompareConfig[];
}

/** What {@link writeReport} did. */
export interface ReportOutcome {
  /** The file written. */
  readonly path: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** Map snapshots in it. */
  readonly snapshots: number;
  /** Where and why the replay stopped, when the trace failed part way (the report is still written). */
  readonly stopped: string | undefined;
}

/**
 * Replays `trace` and writes its report. The output is checked before the replay (an existing
 * file without `force`, an unwritable place: {@link OutputError}, one line).
 * @throws {@link OutputError}, or a replay's error other than a simulated fault or malformed line
 */
export async function writeReport(trace: string, base: StackOptions, options: ReportOptions = {}, note: (line: string) => void = () => undefined): Promise<ReportOutcome> {
  if (trace === "-" && options.out === undefined) throw new OutputError("a report of standard input needs -o <file>");
  const path = options.out ?? defaultReportPath(trace);
  // refuse before the (long) replay: the same checks again when the file is opened
  const output = OutputFile.open(path, { force: options.force, inputs: [{ path: trace, what: "the trace being read" }] });
  try {
    const r = await replayForReport(trace, base, { every: options.every, pythonMalloc: options.pythonMalloc, pymallocVersion: options.pymallocVersion }, note);
    const s = r.prepared.settings;
    const stopped = r.failure ? `at line ${r.failure.line}, after ${r.result.end.event} call events: ${r.failure.message.replace(/^(memtrace: )?line \d+: /, "")}` : undefined;
    const configuration = `PYTHONMALLOC=${s.pythonMalloc}, pymalloc ${s.pymallocVersion}, libc ${r.prepared.stack.options.libc}; samples every ${r.result.every} call events; ${r.snapshots.length} map snapshots (at most ${MAX_SNAPSHOTS}).`;
    // the sources picture (a trace with stacks) and the what-if table: replays of their own
    const sources =
      stopped !== undefined
        ? { note: "No sources picture: the replay stopped before the end." }
        : r.hasStacks
          ? await sourcesForReport(trace, base, { pythonMalloc: options.pythonMalloc, pymallocVersion: options.pymallocVersion }, flameMoments(r.snapshots.map((m) => m.event), r.json.peak.event))
          : { note: NO_STACKS };
    const compare = options.compare !== undefined && options.compare.length > 0 ? await compareForReport(trace, base, options.compare, r.result.every, note) : undefined;
    const html = reportHtml(
      { trace, configuration, json: r.json, paragraph: r.paragraph, pins: pinsText(r.result.end), snapshots: r.snapshots, sources, ...(compare !== undefined ? { compare } : {}), ...(stopped !== undefined ? { stopped } : {}) },
      viewBundle(),
    );
    await output.write(html);
    await output.complete();
    return { path, bytes: Buffer.byteLength(html), snapshots: r.snapshots.length, stopped };
  } catch (error) {
    await output.discard();
    throw error;
  }
}

/** Opens `path` with the desktop's opener (xdg-open, open on macOS); one line when there is none. */
function openFile(path: string): void {
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  const child = spawn(opener, [path], { stdio: "ignore", detached: true });
  child.on("error", (error: NodeJS.ErrnoException) => process.stderr.write(`mem-demo report: cannot open ${path}: ${opener}: ${error.code ?? error.message}\n`));
  child.unref();
}

/**
 * Declares `mem-demo report` on `command` (already given the stack options by cli.ts);
 * `toStackOptions` turns the parsed flags into stack options.
 */
export function reportCommand<Flags extends object>(command: Command, toStackOptions: (flags: Flags) => StackOptions): Command {
  return command
    .description("write a self-contained HTML report of a replay: timeline, explain, and the arena, heap and page maps under a time slider")
    .argument("<trace>", "a memtrace v1 trace (plain, .gz, or - for standard input with -o)")
    .option("-o, --out <file>", "the HTML file to write (default: <trace>.html, without .memtrace and .gz)")
    .option("--force", "replace an existing file")
    .option("--open", "open the report when written")
    .addOption(new Option("--every <K>", "take a timeline sample every K call events (explain's default, so that the figures are explain's)").argParser(parseEvery).default(10000))
    .addOption(
      new Option("--compare <settings>", "add compare's what-if table and overlay this configuration's RSS on the timeline (repeatable; mem-demo compare --with's grammar, e.g. 'PYTHONMALLOC=malloc')").argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      ),
    )
    .action(async (trace: string, flags: Flags & { out?: string; force?: boolean; open?: boolean; every: number; compare?: string[]; pythonmalloc?: StackOptions["pythonMalloc"]; pymallocVersion?: StackOptions["pymallocVersion"] }, cmd: Command) => {
      const given = (name: string) => cmd.getOptionValueSource(name) !== "default";
      let compare: CompareConfig[] | undefined;
      try {
        compare = flags.compare === undefined ? undefined : parseReportCompare(flags.compare);
      } catch (error) {
        if (!(error instanceof CompareSettingsError)) throw error;
        process.stderr.write(`mem-demo report: ${error.message}\n`);
        process.exitCode = 2;
        return;
      }
      try {
        const outcome = await writeReport(
          trace,
          toStackOptions(flags),
          { out: flags.out, force: flags.force, every: flags.every, ...(compare !== undefined ? { compare } : {}), pythonMalloc: given("pythonmalloc") ? flags.pythonmalloc : undefined, pymallocVersion: given("pymallocVersion") ? flags.pymallocVersion : undefined },
          (line) => process.stderr.write(`mem-demo report: ${line}\n`),
        );
        process.stdout.write(`${outcome.path}\n`);
        if (outcome.stopped !== undefined) {
          process.stderr.write(`mem-demo report: ${trace}: the replay stopped ${outcome.stopped} (the report shows everything up to there)\n`);
          process.exitCode = 1;
        }
        if (flags.open) openFile(outcome.path);
      } catch (error) {
        // one clear line: an existing or unwritable output, an unreadable trace, bad settings
        if (!(error instanceof Error)) throw error;
        process.stderr.write(`mem-demo report: ${error instanceof OutputError ? "" : `${trace}: `}${error.message}\n`);
        process.exitCode = 1;
      }
    });
}
