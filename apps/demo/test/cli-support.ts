/**
 * Running the built mem-demo command (apps/demo/dist/cli.js, what `npx mem-demo` runs) in a
 * temporary folder of its own, removed after each test.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";

/** The built CLI. */
export const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
/** The package's bin script. */
export const BIN = fileURLToPath(new URL("../bin/mem-demo.js", import.meta.url));

/**
 * Whether the CLI has been built (turbo builds the package before testing it). Under CI an
 * unbuilt CLI is an error, not a reason to skip: the tests that need it must run there.
 */
export const built = existsSync(CLI);
if (!built && process.env.CI) throw new Error(`${CLI} is missing under CI: the demo's test task must depend on its own build (turbo.json)`);

const dirs: string[] = [];

/** Registers the clean-up of the folders made by {@link tempDir} (call once per test file). */
export function cleanTempDirs(): void {
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
}

/** A fresh folder for one test, removed after it. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "mem-demo-files-"));
  dirs.push(d);
  return d;
}

/** What a finished run left. */
export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `mem-demo args` to the end in `cwd`. */
export function mem(args: string[], opts: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    input: opts.input,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `mem-demo args` in `cwd` and returns the child (stdin, stdout, stderr piped). */
export function memAsync(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, NO_COLOR: "1", ...opts.env }, stdio: "pipe" });
}

/** Waits for the child to end; collects its output. */
export function finished(child: ChildProcessWithoutNullStreams): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve) => child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr })));
}

/** Polls `check` every 20 ms until it is true (or fails after `ms`). */
export async function until(check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
