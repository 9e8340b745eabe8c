/**
 * `mem-demo compare <trace> --with '<settings>' [--with …] [--json] [--every K]`: what if the
 * program had run under other settings. Replays the trace as recorded (the baseline: its
 * header's settings) and once per `--with` (grammar: compare-settings.ts), and prints one
 * table of peak RSS, RSS at the end and after the program's frees, minor faults, system
 * calls and simulated memory accesses, each with its difference from the baseline in %.
 * Configurations are replayed one after the other, or with `--jobs N` in up to N worker
 * threads at once (each on its own stack; a failing one gets its failure in its column and
 * the others still print).
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { Option, type Command } from "commander";
import { runConfiguration, type CompareColumn, type CompareFigures } from "./compare-run.js";
import { CompareSettingsError, parseCompareSettings, type CompareConfig } from "./compare-settings.js";
import type { CompareWorkerData } from "./compare-worker.js";
import { parseEvery } from "./explain-command.js";
import { readTraceHeader } from "./replay-file.js";
import type { StackOptions } from "./stack.js";

/** `$id` of the JSON Schema of `compare --json` (apps/demo/schema/compare.schema.json). */
export const COMPARE_SCHEMA_ID = "https://github.com/mem-stack/mem/apps/demo/schema/compare.schema.json";

/** The rows of the table: label, the figure, and whether it is a size in bytes. */
const ROWS: readonly { readonly label: string; readonly key: string; readonly value: (f: CompareFigures) => number; readonly bytes: boolean }[] = [
  { label: "peak RssAnon (sampled)", key: "peakRssAnon", value: (f) => f.peakRssAnon, bytes: true },
  { label: "peak VmRSS (VmHWM)", key: "peakVmRss", value: (f) => f.peakVmRss, bytes: true },
  { label: "RssAnon at end", key: "endRssAnon", value: (f) => f.endRssAnon, bytes: true },
  { label: "VmRSS at end", key: "endVmRss", value: (f) => f.endVmRss, bytes: true },
  { label: "VmSize at end", key: "endVmSize", value: (f) => f.endVmSize, bytes: true },
  { label: "RssAnon after frees", key: "afterFreesRssAnon", value: (f) => f.afterFreesRssAnon, bytes: true },
  { label: "minor faults", key: "minorFaults", value: (f) => f.minorFaults, bytes: false },
  { label: "brk", key: "brk", value: (f) => f.syscalls.brk, bytes: false },
  { label: "mmap", key: "mmap", value: (f) => f.syscalls.mmap, bytes: false },
  { label: "munmap", key: "munmap", value: (f) => f.syscalls.munmap, bytes: false },
  { label: "madvise", key: "madvise", value: (f) => f.syscalls.madvise, bytes: false },
  { label: "system calls", key: "syscalls", value: (f) => f.syscalls.brk + f.syscalls.mmap + f.syscalls.munmap + f.syscalls.madvise, bytes: false },
  { label: "memory accesses", key: "memoryAccesses", value: (f) => f.memoryAccesses, bytes: false },
];

/** The rows of compare's table (label, `--json` change key, the figure, whether it is bytes), for other views of it (the report's table). */
export const COMPARE_ROWS = ROWS;

/** The outcome of {@link compareTrace}: the baseline first, then one column per `--with`. */
export interface CompareOutcome {
  /** The trace. */
  readonly trace: string;
  /** Sampling interval. */
  readonly every: number;
  /** The columns. */
  readonly columns: readonly CompareColumn[];
}

/** Where the worker's code is: beside the built command (dist/); absent when running from src/. */
const WORKER = new URL("./compare-worker.js", import.meta.url);

/**
 * Replays `trace` as recorded and under each configuration: in up to `jobs` worker threads
 * at once when the built worker is there, else one after the other (the figures are the
 * same either way: each replay has a stack of its own). `note(label, line)` receives the
 * lines about the settings of each replay, in column order.
 */
export async function compareTrace(
  trace: string,
  base: StackOptions,
  configs: readonly CompareConfig[],
  every = 10000,
  note: (label: string, line: string) => void = () => undefined,
  jobs = 1,
): Promise<CompareOutcome> {
  const all = [undefined, ...configs];
  const notes: string[][] = all.map(() => []);
  const parallel = jobs > 1 && existsSync(fileURLToPath(WORKER));
  const run = (i: number): Promise<CompareColumn> => {
    const config = all[i];
    // what every column takes from the header is said once, for the baseline
    const keep = (line: string) => {
      if (config === undefined || !line.startsWith("from the trace header:")) notes[i]!.push(line);
    };
    return parallel ? inWorker(trace, base, config, every, keep) : runConfiguration(trace, base, config, every, keep);
  };
  const columns: CompareColumn[] = new Array<CompareColumn>(all.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < all.length) {
      const i = next++;
      columns[i] = await run(i);
    }
  };
  await Promise.all(Array.from({ length: parallel ? Math.min(jobs, all.length) : 1 }, lane));
  all.forEach((config, i) => notes[i]!.forEach((line) => note(config?.text ?? "baseline", line)));
  return { trace, every, columns };
}

/** One configuration replayed in a worker thread; a worker that dies is the column's failure. */
function inWorker(trace: string, base: StackOptions, config: CompareConfig | undefined, every: number, note: (line: string) => void): Promise<CompareColumn> {
  return new Promise((resolve) => {
    const label = config?.text ?? "baseline";
    let done = false;
    const worker = new Worker(WORKER, { workerData: { trace, base, config, every } satisfies CompareWorkerData });
    worker.on("message", (m: { note?: string; column?: CompareColumn }) => {
      if (m.note !== undefined) note(m.note);
      if (m.column !== undefined) {
        done = true;
        resolve(m.column);
      }
    });
    worker.on("error", (error) => {
      done = true;
      resolve({ label, describe: label, figures: undefined, failure: `the worker thread failed: ${error.message}` });
    });
    worker.on("exit", (code) => {
      if (!done) resolve({ label, describe: label, figures: undefined, failure: `the worker thread exited (status ${code}) before its result` });
    });
  });
}

/** The difference from the baseline in % (null when the baseline is 0 and the value is not). */
export function percentChange(value: number, baseline: number): number | null {
  if (baseline === 0) return value === 0 ? 0 : null;
  return ((value - baseline) / baseline) * 100;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function percentText(p: number | null): string {
  if (p === null) return "(new)";
  if (Math.abs(p) < 0.05) return "(=)";
  return `(${p > 0 ? "+" : ""}${p.toFixed(Math.abs(p) < 10 ? 1 : 0)}%)`;
}

/**
 * The table: one row per figure, one column per configuration (`#1`, `#2`… named in a legend
 * above it), each cell a value and its change from the baseline. Wider than `width`, the
 * columns are split into several tables, each repeating the row labels.
 */
export function renderCompare(outcome: CompareOutcome, width = Infinity): string {
  const { columns } = outcome;
  const baseline = columns[0]?.figures;
  const header = columns.map((c, i) => (i === 0 ? "baseline" : `#${i}`));
  const cells = columns.map((c, i) =>
    ROWS.map((row) => {
      if (c.figures === undefined) return row === ROWS[0] ? "failed" : "";
      const v = row.value(c.figures);
      const text = row.bytes ? size(v) : v.toLocaleString("en-US");
      return i === 0 || baseline === undefined ? text : `${text} ${percentText(percentChange(v, row.value(baseline)))}`;
    }),
  );
  const labelWidth = Math.max(...ROWS.map((r) => r.label.length));
  const widths = columns.map((_, i) => Math.max(header[i]!.length, ...cells[i]!.map((c) => c.length)));
  const events = columns.find((c) => c.figures !== undefined)?.figures?.events;
  const lines: string[] = [wrap(`${outcome.trace}, ${events ?? "?"} call events, sampled every ${outcome.every}`, width, "  ")];
  columns.forEach((c, i) => {
    const what = i === 0 ? `baseline  as recorded${c.describe === c.label ? "" : `: ${c.describe}`}` : `#${i}  ${c.label}${c.describe === c.label ? "" : `  → ${c.describe}`}`;
    lines.push(wrap(what, width, "      "));
  });
  // split the columns into blocks that fit the width; a block repeats the baseline when it fits
  const blocks: number[][] = [];
  let block: number[] = [];
  let used = labelWidth;
  for (let i = 0; i < columns.length; i++) {
    if (block.length > 0 && used + 2 + widths[i]! > width) {
      blocks.push(block);
      block = [];
      used = labelWidth;
      if (labelWidth + 2 + widths[0]! + 2 + widths[i]! <= width) {
        block.push(0);
        used += 2 + widths[0]!;
      }
    }
    block.push(i);
    used += 2 + widths[i]!;
  }
  blocks.push(block);
  for (const b of blocks) {
    lines.push("");
    lines.push(["".padEnd(labelWidth), ...b.map((i) => header[i]!.padStart(widths[i]!))].join("  ").trimEnd());
    ROWS.forEach((row, r) => lines.push([row.label.padEnd(labelWidth), ...b.map((i) => cells[i]![r]!.padStart(widths[i]!))].join("  ").trimEnd()));
  }
  const failures = columns.flatMap((c, i) => (c.failure === undefined ? [] : [wrap(`${i === 0 ? "baseline" : `#${i}`} failed: ${c.failure}`, width, "  ")]));
  if (failures.length > 0) lines.push("", ...failures);
  lines.push(
    "",
    wrap(
      "peak RssAnon: the highest sample; peak VmRSS: the kernel's high-water mark; after frees: the lowest sample from the peak of live bytes on; " +
        "system calls: brk + mmap + munmap + madvise; memory accesses: simulated loads and stores (the time proxy).",
      width,
      "",
    ),
  );
  return lines.join("\n") + "\n";
}

/**
 * Wraps `text` at blanks to `width` columns, continuation lines starting with `indent`; a
 * word longer than a line (a path) is cut.
 */
function wrap(text: string, width: number, indent: string): string {
  if (text.length <= width) return text;
  const room = Math.max(1, width - indent.length);
  const pieces = text.split(" ").flatMap((word) => {
    const cut: string[] = [];
    for (let i = 0; i < word.length; i += room) cut.push(word.slice(i, i + room));
    return cut.length > 0 ? cut : [word];
  });
  const out: string[] = [];
  let line = "";
  for (const word of pieces) {
    const next = line === "" ? word : `${line} ${word}`;
    if (next.length > width && line.trim() !== "") {
      out.push(line);
      line = indent + word;
    } else line = next;
  }
  out.push(line);
  return out.join("\n");
}

/** The JSON of `compare --json` (schema: apps/demo/schema/compare.schema.json). */
export interface CompareJson {
  readonly $schema: string;
  readonly version: 1;
  readonly trace: string;
  readonly every: number;
  readonly columns: readonly {
    readonly label: string;
    readonly settings: string;
    readonly figures: CompareFigures | null;
    /** Per figure (the table's row keys), the change from the baseline in %; null when not defined. */
    readonly change: Readonly<Record<string, number | null>> | null;
    readonly failure: string | null;
  }[];
}

/** The outcome as {@link CompareJson}: numbers only, changes in % against the baseline. */
export function compareJson(outcome: CompareOutcome): CompareJson {
  const baseline = outcome.columns[0]?.figures;
  return {
    $schema: COMPARE_SCHEMA_ID,
    version: 1,
    trace: outcome.trace,
    every: outcome.every,
    columns: outcome.columns.map((c) => ({
      label: c.label,
      settings: c.describe,
      figures: c.figures ?? null,
      change: c.figures !== undefined && baseline !== undefined ? Object.fromEntries(ROWS.map((r) => [r.key, percentChange(r.value(c.figures!), r.value(baseline))])) : null,
      failure: c.failure ?? null,
    })),
  };
}

/** Declares `mem-demo compare` on `command`. */
export function compareCommand(command: Command): Command {
  return command
    .description("what if: replay a trace as recorded and under other settings, and compare RSS, faults, system calls and simulated memory accesses")
    .argument("<trace>", "a memtrace v1 trace (plain or .gz)")
    .addOption(
      new Option(
        "--with <settings>",
        "a configuration to compare with the trace as recorded (repeatable), e.g. 'PYTHONMALLOC=malloc', '--libc tlsf', 'pymalloc=3.8', " +
          "'GLIBC_TUNABLES=glibc.malloc.trim_threshold=0', 'MALLOC_ARENA_MAX=2', 'trim-every=1000', or several separated by blanks",
      )
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .makeOptionMandatory(),
    )
    .addOption(new Option("--every <K>", "take a sample every K call events").argParser(parseEvery).default(10000))
    .addOption(new Option("--ram <MiB>", "installed RAM in MiB").argParser((v: string) => parseEvery(v)).default(1024))
    .addOption(
      new Option("--jobs <n>", `replay up to n configurations at once in worker threads (at most ${availableParallelism()}, the CPUs here; 1: one after the other)`)
        .argParser((v: string) => Math.min(parseEvery(v), availableParallelism()))
        .default(1),
    )
    .option("--json", "print the figures as JSON (schema: apps/demo/schema/compare.schema.json)")
    .action(async (trace: string, flags: { with: string[]; every: number; ram: number; jobs: number; json?: boolean }) => {
      let configs: CompareConfig[];
      try {
        configs = flags.with.map((text) => {
          try {
            return parseCompareSettings(text);
          } catch (error) {
            if (error instanceof CompareSettingsError) throw new CompareSettingsError(`--with '${text}': ${error.message}`);
            throw error;
          }
        });
      } catch (error) {
        if (!(error instanceof CompareSettingsError)) throw error;
        process.stderr.write(`mem-demo compare: ${error.message}\n`);
        process.exitCode = 2;
        return;
      }
      try {
        // an unreadable trace is one line for the command, not a failure in every column
        await readTraceHeader(trace);
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        process.stderr.write(`mem-demo compare: ${trace}: ${error.message}\n`);
        process.exitCode = 1;
        return;
      }
      const outcome = await compareTrace(trace, { ramSize: flags.ram * 1024 * 1024 }, configs, flags.every, (label, line) =>
        process.stderr.write(`mem-demo compare: ${label}: ${line}\n`),
        flags.jobs,
      );
      process.stdout.write(flags.json ? JSON.stringify(compareJson(outcome)) + "\n" : renderCompare(outcome, process.stdout.isTTY ? process.stdout.columns : Number(process.env.COLUMNS) || Infinity));
      if (outcome.columns.some((c) => c.failure !== undefined)) process.exitCode = 1;
    });
}
