/**
 * Which recorder `mem-demo record` runs, decided from the command alone (before anything is
 * run or written):
 *
 *   record -- python3 script.py     the command's name matches python[0-9.]*   -> CPython
 *   record -- ./script.py a b       a path ending in .py (runs under python3)   -> CPython
 *   record --libc -- sort words     --libc: any dynamically linked program      -> libc shim
 *   record -- sort words            anything else: an error that says to pass --libc
 *
 * and the default names of its outputs: `<program>.memtrace.gz` (and `<program>.stats.txt`)
 * in the current folder, where `<program>` is the script's name without `.py` (the module
 * of `-m module`; the interpreter's name for `-c` or an interactive session) or, with
 * --libc, the program's name.
 */
import { existsSync, statSync } from "node:fs";
import { basename, delimiter, join } from "node:path";
import { RecordError } from "./errors.js";

/** The help text of the record command's modes. */
export const RECORD_HELP = `
Which recorder runs:
  a command named python, python3, python3.11, /usr/bin/python3.12 ...  CPython (the
      allocations of its three PyMem domains, pymalloc's arenas and its statistics)
  a path ending in .py                     CPython, under python3
  --libc -- <command>                      the C library's malloc family (LD_PRELOAD)
  anything else is refused: pass --libc to record a C program.

Outputs (never overwritten without --force, never a file the command reads; written
to a temporary file and renamed when complete, or marked "# partial: ..." on Ctrl-C):
  --out         default <program>.memtrace.gz (gzip), e.g. script.memtrace.gz for
                "python3 script.py", sort.memtrace.gz for "--libc -- sort"
  --stats-out   default <program>.stats.txt (CPython)

Exit status: the program's own; 1 when the recording failed; 2 for a usage error;
128 + N when interrupted by signal N.

Examples:
  mem-demo record -- python3 script.py arg
  mem-demo record --out run.memtrace -- ./script.py
  mem-demo record --libc -- sort words.txt`;

/** What {@link chooseMode} decided. */
export interface RecordMode {
  /** "python": the CPython recorder; "libc": the LD_PRELOAD shim. */
  readonly kind: "python" | "libc";
  /** The command to run (for a bare `.py` path: `python3` prepended). */
  readonly command: readonly string[];
  /** The program's name for default output names (`script`, `sort`). */
  readonly name: string;
  /** Files the command reads that exist (the program, its script, file arguments), which no output may be. */
  readonly inputs: readonly { path: string; what: string }[];
}

const PYTHON = /^python[0-9.]*$/;

/** The file `name` runs as (a path, or the first match on PATH), or undefined if there is none. */
export function findProgram(name: string, path = process.env.PATH ?? ""): string | undefined {
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes("/")) return isFile(name) ? name : undefined;
  for (const dir of path.split(delimiter)) {
    if (dir && isFile(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The script or module a Python command line runs, if any (skipping the interpreter's options). */
function pythonTarget(args: readonly string[]): { script?: string; module?: string } {
  const withValue = new Set(["-W", "-X", "--check-hash-based-pycs"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-c" || a === "-") return {};
    if (a === "-m") return { module: args[i + 1] };
    if (a.startsWith("-m") && a.length > 2) return { module: a.slice(2) };
    if (a.startsWith("-c") && a.length > 2) return {};
    if (withValue.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    return { script: a };
  }
  return {};
}

/**
 * Decides the recorder for `command` and checks that its program (and script) exist.
 * @throws {@link RecordError} `command not found`, `no such script`, or "pass --libc"
 */
export function chooseMode(command: readonly string[], libc: boolean): RecordMode {
  const [program, ...args] = command;
  if (program === undefined) throw new RecordError("no command to record (usage: mem-demo record [--libc] -- <command> [args])");
  const inputs: { path: string; what: string }[] = [];
  const fileArgs = (from: readonly string[]) => {
    for (const a of from) if (!a.startsWith("-") && existsSync(a) && statSync(a).isFile()) inputs.push({ path: a, what: "an argument of the command" });
  };
  if (!libc && program.endsWith(".py") && !PYTHON.test(basename(program))) {
    if (!existsSync(program)) throw new RecordError(`no such script: ${program}`);
    inputs.push({ path: program, what: "the script" });
    fileArgs(args);
    return { kind: "python", command: ["python3", ...command], name: basename(program).replace(/\.py$/, "") || "python3", inputs };
  }
  const found = findProgram(program);
  if (!found) throw new RecordError(`command not found: ${program}`);
  inputs.push({ path: found, what: "the program" });
  if (libc) {
    fileArgs(args);
    return { kind: "libc", command, name: basename(program), inputs };
  }
  if (!PYTHON.test(basename(program))) {
    throw new RecordError(
      `${program} is not a Python interpreter (python, python3, python3.11 ...) or a .py script: ` +
        `to record a C program's malloc calls, pass --libc (mem-demo record --libc -- ${command.join(" ")})`,
    );
  }
  const target = pythonTarget(args);
  if (target.script !== undefined) {
    if (!existsSync(target.script)) throw new RecordError(`no such script: ${target.script}`);
    inputs.push({ path: target.script, what: "the script" });
  }
  fileArgs(args.filter((a) => a !== target.script));
  const name = target.script !== undefined ? basename(target.script).replace(/\.py$/, "") : (target.module ?? basename(program));
  return { kind: "python", command, name: name || basename(program), inputs };
}
