/**
 * Differential test against the real glibc 2.36 of this machine: fast-check writes random
 * call sequences, the compiled driver (test/glibc/driver.c) runs them under glibc, the
 * simulator replays them, and the two outputs — every placement offset, size field,
 * mallinfo2 field, program break and abort message — must be identical.
 * A live comparison: runs under `npm run test:live`, on a host with gcc and glibc 2.36 (the
 * version the simulator reproduces); skipped elsewhere with the difference named.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveSkip, liveTitle } from "../../../scripts/host-facts.js";
import { GLIBC_MODEL } from "./support/live.js";
import { op, toScript, tunables } from "./support/diff-script.js";
import { freshGlibc, replay, tunablesToOptions } from "./support/replay.js";

let driver: string | undefined;

function runGlibc(script: string, tunables: string): string {
  try {
    const env = { ...process.env, GLIBC_TUNABLES: tunables };
    return `${execFileSync(driver!, [], { input: script, encoding: "utf8", env })}exit 0\n`;
  } catch (error) {
    const e = error as { stdout: string; status: number | null; signal: string | null };
    const code = e.status ?? (e.signal === "SIGABRT" ? 134 : e.signal === "SIGSEGV" ? 139 : 1);
    return `${e.stdout}exit ${code}\n`;
  }
}

const skip = liveSkip({ tools: ["gcc"], glibc: GLIBC_MODEL });

describe.skipIf(skip !== null)(liveTitle("random call sequences: the simulator against the real glibc", skip), () => {
  let work = "";
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "glibc-diff-"));
    driver = join(work, "driver");
    execFileSync("gcc", ["-O1", "-o", driver, join(import.meta.dirname, "glibc", "driver.c")], { stdio: "ignore" });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("prints exactly what glibc prints, call after call (property)", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: Number(process.env.DIFF_LEN ?? 120) }), tunables, (ops, tuning) => {
        const script = toScript(ops);
        const libc = freshGlibc(tunablesToOptions(tuning));
        expect(replay(script, libc, { check: true })).toBe(runGlibc(script, tuning));
      }),
      { numRuns: Number(process.env.DIFF_RUNS ?? 40) },
    );
  }, 600_000);
});
