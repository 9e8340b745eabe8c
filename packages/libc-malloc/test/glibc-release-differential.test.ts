/**
 * Differential test against the real glibc of later releases (2.41: Debian 13's libc6; 2.43:
 * Debian unstable's), each run on this machine with its own dynamic loader
 * (`sh shared/tools/debian13-glibc.sh` fetches them into `~/.cache/debian-glibc`, or
 * `$GLIBC_CACHE`): fast-check writes random call sequences, the compiled driver
 * (test/glibc/driver.c) runs them under the release, its model replays them, and every
 * placement, size field, mallinfo2 field, break and abort message must be identical. A live
 * comparison (`npm run test:live`); skipped, named, without gcc or the release's loader.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveSkip, liveTitle } from "../../../scripts/host-facts.js";
import { Glibc241Malloc, Glibc243Malloc } from "../src/index.js";
import { op, toScript, tunables } from "./support/diff-script.js";
import { freshProcess, replay, tunablesToOptions } from "./support/replay.js";

const RELEASES = [
  { release: "2.41", Model: Glibc241Malloc },
  { release: "2.43", Model: Glibc243Malloc },
] as const;

for (const { release, Model } of RELEASES) {
  const lib = join(process.env.GLIBC_CACHE ?? join(homedir(), ".cache", "debian-glibc"), `glibc-${release}`, "usr", "lib", "x86_64-linux-gnu");
  const loader = join(lib, "ld-linux-x86-64.so.2");
  const skip = liveSkip({ tools: ["gcc"], check: () => (existsSync(loader) ? null : `no glibc ${release} loader at ${loader} (run shared/tools/debian13-glibc.sh)`) });

  describe.skipIf(skip !== null)(liveTitle(`random call sequences: ${Model.name} against the real glibc ${release}`, skip), () => {
    let work = "";
    let driver = "";
    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), `glibc${release.replace(".", "")}-diff-`));
      driver = join(work, "driver");
      execFileSync("gcc", ["-O1", "-o", driver, join(import.meta.dirname, "glibc", "driver.c")], { stdio: "ignore" });
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    /** What the driver prints under the real release, and how it ended. */
    function runReal(script: string, tuning: string): string {
      try {
        const env = { ...process.env, GLIBC_TUNABLES: tuning };
        const args = ["--library-path", `${lib}:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu`, driver];
        return `${execFileSync(loader, args, { input: script, encoding: "utf8", env })}exit 0\n`;
      } catch (error) {
        const e = error as { stdout: string; status: number | null; signal: string | null };
        const code = e.status ?? (e.signal === "SIGABRT" ? 134 : e.signal === "SIGSEGV" ? 139 : 1);
        return `${e.stdout}exit ${code}\n`;
      }
    }

    it(`prints exactly what glibc ${release} prints, call after call (property)`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: Number(process.env.DIFF_LEN ?? 120) }), tunables, (ops, tuning) => {
          const script = toScript(ops);
          const libc = new Model(freshProcess(), { tcacheKey: 0x1234_5678_9abc, ...tunablesToOptions(tuning) });
          expect(replay(script, libc, { check: true })).toBe(runReal(script, tuning));
        }),
        { numRuns: Number(process.env.DIFF_RUNS ?? 40) },
      );
    }, 600_000);
  });
}
