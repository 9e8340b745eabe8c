/**
 * The parts of `mem-demo replay` around the replay itself: the stack built with the settings
 * the trace's header records (the command line winning), the line on standard error that
 * says what was taken from the header, and the report (summary, then statistics).
 */
import type { PythonMallocPreset } from "@mem/pymem";
import type { PymallocVersion } from "@mem/small-object";
import type { ReplaySummary } from "./replay.js";
import { readTraceHeader } from "./replay-file.js";
import { createStack, type CPythonStack, type StackOptions } from "./stack.js";
import { defaultStatsKind, statsJson, statsText, summaryText, type StatsKind } from "./stats.js";
import { fromHeaderLine, replaySettings, type ReplaySettings } from "./trace-settings.js";
import type { TraceHeader } from "./trace-header.js";

/** The replay flags that decide the stack; `undefined` = not given on the command line. */
export interface ReplayStackFlags {
  /** `--pythonmalloc`. */
  pythonMalloc?: PythonMallocPreset;
  /** `--pymalloc-version`. */
  pymallocVersion?: PymallocVersion;
  /** `--glibc-tunables`. */
  glibcTunables?: string;
  /** `--cpus`: the recording machine's CPU count to assume (glibc's arena limit). */
  cpus?: number;
  /** `--no-trace-settings` makes this false. */
  traceSettings?: boolean;
  /** `--seed`. */
  seed?: number;
}

/** A stack ready to replay a trace, and how it was configured. */
export interface PreparedReplay {
  /** The stack. */
  readonly stack: CPythonStack;
  /** The trace's header. */
  readonly header: TraceHeader;
  /** The settings in force. */
  readonly settings: ReplaySettings;
}

/**
 * Reads the trace's header and builds the stack with its settings, the command line's
 * winning. Writes one line to `note` naming what was taken from the header, and one per
 * warning (a setting not modelled, a header value overridden).
 * @throws {@link TraceSettingsError} when the header asks for what cannot be modelled
 */
export async function prepareReplay(
  trace: string,
  flags: ReplayStackFlags,
  base: Omit<StackOptions, "pythonMalloc" | "pymallocVersion" | "glibc" | "seed">,
  note: (line: string) => void,
): Promise<PreparedReplay> {
  const header = await readTraceHeader(trace);
  const settings = replaySettings(header, {
    pythonMalloc: flags.pythonMalloc,
    pymallocVersion: flags.pymallocVersion,
    glibcTunables: flags.glibcTunables,
    cpus: flags.cpus,
    fromHeader: flags.traceSettings,
  });
  const line = fromHeaderLine(settings);
  if (line) note(line);
  for (const warning of settings.warnings) note(warning);
  if (base.libc === "tlsf" && settings.glibcSettings.settings.length > 0) note("--libc tlsf: the glibc malloc settings do not apply");
  const stack = createStack({
    ...base,
    pythonMalloc: settings.pythonMalloc,
    pymallocVersion: settings.pymallocVersion,
    glibc: settings.glibc,
    glibcRelease: settings.glibcRelease,
    seed: flags.seed,
  });
  return { stack, header, settings };
}

/** The report of a finished replay: `--json` as numbers, else the summary then the statistics. */
export function replayReport(prepared: PreparedReplay, summary: ReplaySummary, stats: StatsKind | undefined, json: boolean): string {
  const kind = stats ?? defaultStatsKind(summary);
  const { stack, settings } = prepared;
  if (json) {
    const configuration = {
      pythonMalloc: settings.pythonMalloc,
      pymallocVersion: settings.pymallocVersion,
      libc: stack.options.libc,
      glibc: Object.fromEntries(settings.glibcSettings.settings.map((s) => [s.tunable, Number(s.value)])),
      tcacheKey: stack.options.glibc.tcacheKey ?? null,
      seed: stack.options.seed ?? null,
      fromHeader: settings.fromHeader,
    };
    return JSON.stringify({ summary, configuration, stats: statsJson(stack, kind) }, null, 2) + "\n";
  }
  return summaryText(summary, stack) + "\n" + statsText(stack, kind);
}
