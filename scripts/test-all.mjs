#!/usr/bin/env node
/**
 * `npm test`: every turbo task (build, lint, typecheck, test of every package) runs even
 * after a failure (--continue), then every repository check runs; the output ends with ONE
 * line naming every failure (or saying all passed), and the exit status is 1 if anything
 * failed. Usage: node scripts/test-all.mjs [--checks-only | --live] [--filter=<turbo filter> ...]
 *
 * --live (`npm run test:live`): only the live comparisons with this host (tests titled
 * "live: ..."), with MEM_LIVE=1, every time afresh (turbo may read cached builds but never
 * caches these results: the host is what they measure).
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1", TURBO_NO_UPDATE_NOTIFIER: "1" };

/** The checks run after turbo, each a node script of scripts/ (name shown in the summary). */
export const CHECKS = [
  ["check:packages", "scripts/check-packages.mjs"],
  ["check:readme", "scripts/check-readme-snippets.mjs"],
  ["check:repo", "scripts/check-repo.mjs"],
];

/** Runs a command with its output passed through; resolves to its exit status and output. */
function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    const pass = (stream, sink) =>
      stream.on("data", (chunk) => {
        text += chunk;
        sink.write(chunk);
      });
    pass(child.stdout, process.stdout);
    pass(child.stderr, process.stderr);
    child.on("error", (error) => resolve({ code: 127, text: `${text}\n${error.message}` }));
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), text }));
  });
}

/**
 * The failed tasks of a turbo run, from the summary file it names (`Summary: <path>`), each
 * with the count of failed tests its vitest reported; `null` when turbo wrote no summary.
 */
export function turboFailures(output) {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const path = /^\s*Summary:\s+(\S+\.json)\s*$/m.exec(plain)?.[1];
  if (path === undefined) return null;
  const summary = JSON.parse(readFileSync(path, "utf8"));
  rmSync(path, { force: true }); // read once; .turbo/runs would otherwise grow by one file a run
  const failed = summary.tasks.filter((t) => t.execution !== undefined && t.execution.exitCode !== 0 && t.execution.exitCode !== undefined);
  return {
    total: summary.tasks.length,
    failed: failed.map((t) => {
      const [pkg, task] = t.taskId.split("#");
      // vitest's closing count, e.g. "@mem/os-vm:test:       Tests  1 failed | 97 passed (98)"
      const counts = [...plain.matchAll(new RegExp(`^${escape(pkg)}:${escape(task)}:\\s+Tests\\s+(\\d+) failed`, "gm"))];
      const tests = counts.length > 0 ? Number(counts.at(-1)[1]) : 0;
      return tests > 0 ? `${t.taskId} (${tests} failed test${tests === 1 ? "" : "s"})` : t.taskId;
    }),
  };
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** The closing line: every failure by name, or that all passed. */
export function summaryLine(steps, failures, command = "npm test") {
  return failures.length === 0
    ? `${command}: all ${steps} steps passed`
    : `${command}: ${failures.length} of ${steps} steps FAILED: ${failures.join(", ")}`;
}

async function main() {
  const failures = [];
  let steps = 0;
  const live = process.argv.includes("--live");
  if (live) env.MEM_LIVE = "1";
  const turboArgs = live
    ? ["turbo", "run", "test", "--continue", "--summarize", "--cache=local:r", "--concurrency=2", "--", "-t", "live: "]
    : ["turbo", "run", "build", "lint", "typecheck", "test", "--continue", "--summarize", "--cache=local:rw", "--concurrency=2"];
  const filters = process.argv.filter((a) => a.startsWith("--filter="));
  turboArgs.splice(turboArgs.indexOf("--continue"), 0, ...filters);
  if (!process.argv.includes("--checks-only")) {
    const turbo = await run("npx", turboArgs);
    const result = turboFailures(turbo.text);
    if (result === null) {
      steps += 1;
      failures.push(`turbo (exit status ${turbo.code}, no run summary)`);
    } else {
      steps += result.total;
      failures.push(...result.failed);
      if (turbo.code !== 0 && result.failed.length === 0) failures.push(`turbo (exit status ${turbo.code})`);
    }
  }
  for (const [name, script] of live ? [] : CHECKS) {
    console.log(`\n> ${name}`);
    steps += 1;
    const check = await run(process.execPath, [script]);
    if (check.code !== 0) failures.push(`${name} (exit status ${check.code})`);
  }
  console.log(`\n${summaryLine(steps, failures, live ? "npm run test:live" : "npm test")}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
