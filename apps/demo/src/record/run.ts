import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { constants } from "node:os";

/** What a finished child process left behind. */
export interface RunResult {
  /** The exit status, or 128 + the signal number when a signal ended it. */
  readonly exitCode: number;
  /** The signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null;
  /** Standard output, when it was piped. */
  readonly stdout: string;
  /** Standard error, when it was piped. */
  readonly stderr: string;
}

/** How to run a child process. */
export interface RunOptions {
  readonly cwd?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** @defaultValue "pipe" */
  readonly stdio?: "pipe" | "inherit" | undefined;
  /** Text written to the child's standard input (then closed). */
  readonly input?: NodeJS.ReadableStream | undefined;
  /** With "inherit": send the child's standard output to this process's standard error instead (when standard output carries a trace). */
  readonly stdoutToStderr?: boolean | undefined;
  /** Called with the child once it is started (to forward signals to it). */
  readonly onSpawn?: ((child: ChildProcess) => void) | undefined;
}


/** Runs `file` with `args`; resolves when it exits (rejects only if it cannot be started). */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const piped = (options.stdio ?? "pipe") === "pipe";
    const stdio: StdioOptions = [
      options.input ? "pipe" : piped ? "ignore" : "inherit",
      piped ? "pipe" : options.stdoutToStderr ? process.stderr : "inherit",
      piped ? "pipe" : "inherit",
    ];
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio });
    options.onSpawn?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    if (options.input && child.stdin) options.input.pipe(child.stdin);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0), signal, stdout, stderr });
    });
  });
}
