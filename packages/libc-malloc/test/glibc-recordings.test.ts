import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { liveSkip, liveTitle } from "../../../scripts/host-facts.js";
import { GLIBC_MODEL } from "./support/live.js";
import { freshGlibc, replay, scriptTunables, tunablesToOptions } from "./support/replay.js";

const dir = join(import.meta.dirname, "glibc");
const scripts = readdirSync(join(dir, "scripts")).filter((f) => f.endsWith(".txt")).sort();

describe("replays of scripts recorded from glibc 2.36 on this machine", () => {
  for (const file of scripts) {
    const name = file.replace(/\.txt$/, "");
    it(`${name}: same placements, mallinfo2, break, stats and abort message as glibc`, () => {
      const script = readFileSync(join(dir, "scripts", file), "utf8");
      const expected = readFileSync(join(dir, "expected", `${name}.out`), "utf8");
      expect(replay(script, freshGlibc(tunablesToOptions(scriptTunables(script))))).toBe(expected);
    });
  }
});

/** The live re-run (`npm run test:live`): only where glibc is the version the recordings are of. */
const skip = liveSkip({ tools: ["gcc"], glibc: GLIBC_MODEL, check: () => (existsSync("/usr/include/malloc.h") ? null : "no /usr/include/malloc.h (libc6-dev)") });

describe.skipIf(skip !== null)(liveTitle("the live glibc still prints the recorded outputs", skip), () => {
  let work = "";
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("re-runs every script through the compiled driver", () => {
    work = mkdtempSync(join(tmpdir(), "glibc-driver-"));
    const exe = join(work, "driver");
    execFileSync("gcc", ["-O1", "-o", exe, join(dir, "driver.c")]);
    for (const file of scripts) {
      const name = file.replace(/\.txt$/, "");
      if (name.startsWith("abort-fastbin-dup")) continue;
      const script = readFileSync(join(dir, "scripts", file));
      let output: string;
      let code = 0;
      try {
        const env = { ...process.env, GLIBC_TUNABLES: scriptTunables(script.toString("utf8")) };
        output = execFileSync(exe, [], { input: script, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], env });
      } catch (error) {
        const e = error as { stdout: string; status: number | null; signal: string | null };
        output = e.stdout;
        code = e.status ?? (e.signal === "SIGABRT" ? 134 : e.signal === "SIGSEGV" ? 139 : 1);
      }
      expect(`${output}exit ${code}\n`, name).toBe(readFileSync(join(dir, "expected", `${name}.out`), "utf8"));
    }
  });
});
