#!/usr/bin/env node
/**
 * mem-demo: the CPython 3.11 allocation stack, end to end.
 *
 *   mem-demo                      the walk-through (coloured on a terminal, plain when piped)
 *   mem-demo replay <trace>       replay a memtrace v1 trace through the stack
 *   mem-demo record -- python3 script.py     record a real CPython program
 *   mem-demo record --libc -- <command>      record a C program's malloc calls
 */
import { Command, Option } from "commander";
import { renderWalkthrough } from "./render.js";
import { killedExitStatus, outOfMemoryText, parseSwapMiB } from "./out-of-memory.js";
import { ReplayError } from "./replay.js";
import { readTraceHeader, replayFile } from "./replay-file.js";
import { createStack, LIBC_IMPLEMENTATIONS, PYMALLOC_VERSION_NAMES, PYTHONMALLOC_PRESETS, type StackOptions } from "./stack.js";
import { statsText, STATS_KINDS, type StatsKind } from "./stats.js";
import { runWalkthrough } from "./walkthrough.js";
import { explainCommand } from "./explain-command.js";

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

const program = new Command()
  .name("mem-demo")
  .description("The CPython 3.11 memory-allocation stack, tier by tier: RAM, kernel, libc malloc, PyMem, pymalloc.")
  .showHelpAfterError()
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
  .addOption(new Option("--stats <kind>", "statistics to print at the end").choices(STATS_KINDS).default("pymalloc"))
  .option("--out <file>", "write the replayed trace with the simulated pointers")
  .option("--json", "print the summary and statistics as JSON")
  .action(async (trace: string, flags: StackFlags & { stats: StatsKind; out?: string; json?: boolean }, command: Command) => {
    // A recording made under PYTHONMALLOC=<preset> says so in its header; --pythonmalloc overrides it.
    if (command.getOptionValueSource("pythonmalloc") === "default") {
      const recorded = (await readTraceHeader(trace)).env.PYTHONMALLOC;
      if (recorded && (PYTHONMALLOC_PRESETS as readonly string[]).includes(recorded)) flags.pythonmalloc = recorded as StackFlags["pythonmalloc"];
    }
    const stack = createStack(toStackOptions(flags));
    try {
      const summary = await replayFile(stack, trace, { out: flags.out, progress: process.stderr.isTTY && !flags.json });
      const stats = statsText(stack, flags.stats);
      if (flags.json) process.stdout.write(JSON.stringify({ summary, stats }, null, 2) + "\n");
      else process.stdout.write(stats);
    } catch (error) {
      if (error instanceof ReplayError) {
        process.stderr.write(`mem-demo replay: ${trace}: ${error.message}\n`);
        // killed by the OOM killer: 128 + SIGKILL, as a shell reports it
        process.exitCode = killedExitStatus(error) ?? 1;
        return;
      }
      throw error;
    }
  });

explainCommand(stackOptions(program.command("explain")), toStackOptions);

program
  .command("record")
  .description("record a real program as memtrace v1: a CPython script (default) or, with --libc, a C program")
  .argument("<command...>", "the command to run, after --")
  .option("--libc", "record a C program's malloc calls (LD_PRELOAD shim)")
  .option("--out <file>", "the trace to write", "trace.memtrace")
  .option("--stats-out <file>", "where to save the real pymalloc statistics (CPython only)")
  .action(async (command: string[], flags: { libc?: boolean; out: string; statsOut?: string }) => {
    const { record } = await import("./record-command.js");
    process.exitCode = await record(command, flags);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`mem-demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
