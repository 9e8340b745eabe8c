#!/usr/bin/env node
/**
 * mem-demo: the CPython 3.11 allocation stack, end to end.
 *
 *   mem-demo                      the walk-through (coloured on a terminal, plain when piped)
 *   mem-demo replay <trace>       replay a memtrace v1 trace through the stack
 *   mem-demo record -- python3 script.py     record a real CPython program
 *   mem-demo record --libc -- <command>      record a C program's malloc calls
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { reportFailure } from "./cli-errors.js";
import { RECORD_HELP } from "./record/mode.js";
import { parseFrames } from "./record/frames.js";
import { parseRssEvery } from "./rss-check.js";
import { killedExitStatus, outOfMemoryText, parseSwapMiB } from "./out-of-memory.js";
import { renderWalkthrough } from "./render.js";
import { ReplayError } from "./replay.js";
import { prepareReplay, replayReport } from "./replay-command.js";
import { replayFile } from "./replay-file.js";
import { LIBC_IMPLEMENTATIONS, PYMALLOC_VERSION_NAMES, PYTHONMALLOC_PRESETS, type StackOptions } from "./stack.js";
import { STATS_KINDS, type StatsKind } from "./stats.js";
import { TraceSettingsError } from "./trace-settings.js";
import { runWalkthrough } from "./walkthrough.js";
import { explainCommand } from "./explain-command.js";
import { reportCommand } from "./report-command.js";
import { compareCommand } from "./compare-command.js";

const stackOptions = (cmd: Command) =>
  cmd
    .addOption(new Option("--pythonmalloc <preset>", "PYTHONMALLOC preset").choices(PYTHONMALLOC_PRESETS).default("default"))
    .addOption(new Option("--libc <implementation>", "C library allocator").choices(LIBC_IMPLEMENTATIONS).default("glibc"))
    .addOption(new Option("--pymalloc-version <version>", "pymalloc parameter preset").choices(PYMALLOC_VERSION_NAMES).default("3.11"))
    .addOption(new Option("--ram <MiB>", "installed RAM in MiB").argParser(positiveInt).default(1024))
    .addOption(
      new Option("--overcommit <mode>", "vm.overcommit_memory: 0 heuristic (out of frames: the OOM killer), 1 always, 2 never (ENOMEM, MemoryError)")
        .choices(["0", "1", "2"])
        .default("0"),
    )
    .addOption(new Option("--swap <MiB>", "swap space in MiB (0: none, as on this machine)").argParser(parseSwapMiB).default(0));

interface StackFlags {
  pythonmalloc: StackOptions["pythonMalloc"];
  libc: StackOptions["libc"];
  pymallocVersion: StackOptions["pymallocVersion"];
  ram: number;
  overcommit: "0" | "1" | "2";
  swap: number;
}

function toStackOptions(flags: StackFlags): StackOptions {
  return {
    pythonMalloc: flags.pythonmalloc,
    libc: flags.libc,
    pymallocVersion: flags.pymallocVersion,
    ramSize: flags.ram * 1024 * 1024,
    overcommit: Number(flags.overcommit) as 0 | 1 | 2,
    swapSize: flags.swap * 1024 * 1024,
  };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || value.trim() === "") throw new Error(`expected a non-negative integer, got "${value}"`);
  return n;
}

const program = new Command()
  .name("mem-demo")
  .description("The CPython 3.11 memory-allocation stack, tier by tier: RAM, kernel, libc malloc, PyMem, pymalloc.")
  .version((JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version)
  .showHelpAfterError()
  .showSuggestionAfterError()
  .helpCommand(true)
  // Exit statuses: 0 success (and --help, --version); 1 a failure; 2 a usage error (unknown
  // command or option, bad option value); 128 + N interrupted by signal N. Inherited by the commands.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
  // The walk-through's options belong to it: after a subcommand, options are the subcommand's.
  .enablePositionalOptions();

stackOptions(program)
  .option("--json", "print the walk-through as JSON")
  .action((flags: StackFlags & { json?: boolean }) => {
    let walk: ReturnType<typeof runWalkthrough>;
    try {
      walk = runWalkthrough(toStackOptions(flags));
    } catch (error) {
      // out of memory (--ram 1): CPython's MemoryError, or the OOM killer's SIGKILL (status 137)
      const text = outOfMemoryText(error);
      if (text === undefined) throw error;
      process.stderr.write(`mem-demo: ${text}\n`);
      process.exitCode = killedExitStatus(error) ?? 1;
      return;
    }
    if (flags.json) process.stdout.write(JSON.stringify(walk, null, 2) + "\n");
    else process.stdout.write(renderWalkthrough(walk, process.stdout.isTTY && !process.env.NO_COLOR));
  });

stackOptions(program.command("replay").description("replay a memtrace v1 trace (plain, .gz, or - for standard input)").argument("<trace>"))
  .addOption(new Option("--stats <kind>", "statistics to print at the end (default: libc for a C program's trace, else pymalloc)").choices(STATS_KINDS))
  .option("--out <file>", "write the replayed trace with the simulated pointers (.gz compresses; - is standard output, the statistics then go to standard error)")
  .option("--force", "replace an existing --out file (never the trace being read)")
  .option("--json", "print the summary and statistics as JSON")
  .option("--glibc-tunables <tunables>", "glibc malloc settings, as GLIBC_TUNABLES (glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536); each wins over the trace header's")
  .addOption(new Option("--cpus <n>", "online CPUs glibc sizes its arena limit from (8 x n); wins over the trace header's # cpus").argParser(positiveInt))
  .addOption(new Option("--seed <n>", "make glibc's tcache_key (everything random in the stack) reproducible").argParser(nonNegativeInt))
  .option("--no-trace-settings", "ignore the settings the trace header records (CPython version, PYTHONMALLOC, GLIBC_TUNABLES, MALLOC_*_)")
  .action(
    async (
      trace: string,
      flags: StackFlags & { stats?: StatsKind; out?: string; force?: boolean; json?: boolean; glibcTunables?: string; cpus?: number; seed?: number; traceSettings: boolean },
      command: Command,
    ) => {
      // Settings recorded in the trace's header apply unless given here (see trace-settings.ts).
      const given = (name: string) => command.getOptionValueSource(name) !== "default";
      // with --out -, standard output carries the replayed trace: the results go to standard error
      const results = flags.out === "-" ? process.stderr : process.stdout;
      try {
        const prepared = await prepareReplay(
          trace,
          {
            pythonMalloc: given("pythonmalloc") ? flags.pythonmalloc : undefined,
            pymallocVersion: given("pymallocVersion") ? flags.pymallocVersion : undefined,
            glibcTunables: flags.glibcTunables,
            cpus: flags.cpus,
            traceSettings: flags.traceSettings,
            seed: flags.seed,
          },
          toStackOptions(flags),
          (line) => process.stderr.write(`mem-demo replay: ${line}\n`),
        );
        const summary = await replayFile(prepared.stack, trace, {
          out: flags.out,
          force: flags.force,
          interruptible: true,
          progress: process.stderr.isTTY && !flags.json,
          warn: (line) => process.stderr.write(`mem-demo replay: ${trace}: ${line}\n`),
        });
        results.write(replayReport(prepared, summary, flags.stats, flags.json === true));
      } catch (error) {
        const status = reportFailure("mem-demo replay", trace, error, (e) => e instanceof ReplayError || e instanceof TraceSettingsError);
        if (status === undefined) throw error;
        // killed by the OOM killer: 128 + SIGKILL, as a shell reports it
        process.exitCode = killedExitStatus(error) ?? status;
      }
    },
  );

explainCommand(stackOptions(program.command("explain")), toStackOptions);
reportCommand(stackOptions(program.command("report")), toStackOptions);
compareCommand(program.command("compare"));

program
  .command("record")
  .description("record a real program as memtrace v1: a CPython program, or with --libc a C program's malloc calls")
  .argument("<command...>", "the command to run, after --")
  .option("--libc", "record a C program's malloc calls (LD_PRELOAD shim)")
  .option("--out <file>", "the trace to write (.gz compresses; - is standard output) (default: <program>.memtrace.gz)")
  .option("--stats-out <file>", "where to save the real pymalloc statistics (CPython only) (default: <program>.stats.txt)")
  .option("--force", "replace existing output files (never a file the command reads)")
  .option("--frames <N>", "CPython 3.11: the Python traceback of every allocation, N frames at most as tracemalloc.start(N); 0: none (default: 1). With --libc: the C call site, N return addresses (at most 62), symbolised after the run (default: 0)", (v: string) => parseFrames(v))
  .option("--rss-every <K>", "a # rss sample of the real resident memory every K call events; 0: none (default: 10000)", (v: string) => parseRssEvery(v))
  .option("--no-libc-calls", "CPython: only the PyMem domains, not the program's direct malloc calls (C library, extension modules; recorded as libc lines by default, so that the replayed brk heap is laid out as the real one)")
  .addHelpText("after", RECORD_HELP)
  .action(async (command: string[], flags: { libc?: boolean; out?: string; statsOut?: string; force?: boolean; frames?: number; rssEvery?: number; libcCalls?: boolean }) => {
    const { record } = await import("./record-command.js");
    process.exitCode = await record(command, flags);
  });

// A mistyped command reaches the walk-through's action as an argument: say "unknown command".
program.allowExcessArguments(true).hook("preAction", (_command, actionCommand) => {
  if (actionCommand === program && program.args.length > 0) {
    const commander = program as unknown as { unknownCommand?: () => void };
    if (commander.unknownCommand) commander.unknownCommand();
    else program.error(`error: unknown command '${program.args[0]}'`, { code: "commander.unknownCommand" });
  }
});

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`mem-demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
