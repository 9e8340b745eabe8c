/**
 * The live experiment (`npm run test:live`): `recordPython` (what `mem-demo record` runs) with
 * every CPython of pyenv that has a pymalloc preset (3.8 … 3.13, each skipped, named, when it is
 * not installed), and the replay of each recording, with the version its header names, prints
 * the real pymalloc statistics line for line.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { liveSkip, liveTitle } from "../../../../scripts/host-facts.js";
import { recordPython } from "../../src/record/index.js";
import { prepareReplay } from "../../src/replay-command.js";
import { replayFile } from "../../src/replay-file.js";
import { PYMALLOC_VERSION_NAMES } from "../../src/stack.js";
import { cacheDir, haveCompiler, scratch } from "./support.js";

const skip = liveSkip({ tools: ["gcc"], check: () => (haveCompiler ? null : "no C compiler") });
const versions = join(process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"), "versions");
const installed = existsSync(versions) ? readdirSync(versions) : [];

const SCRIPT = "keep = [str(i) * 3 for i in range(20000)]\nd = {i: (i, str(i)) for i in range(5000)}\ndel keep[::3]\nprint(len(keep), len(d))\n";

describe.skipIf(skip !== null)(liveTitle("recording every pyenv CPython with a preset, and replaying it as that version", skip), () => {
  for (const version of PYMALLOC_VERSION_NAMES) {
    it(`CPython ${version}`, { timeout: 180_000 }, async (ctx) => {
      const dir = installed.find((d) => d.startsWith(`${version}.`));
      const python = dir === undefined ? undefined : join(versions, dir, "bin", `python${version}`);
      if (python === undefined || !existsSync(python)) {
        ctx.skip(`no CPython ${version} under ${versions}`);
        return;
      }
      const work = scratch();
      try {
        writeFileSync(join(work, "s.py"), SCRIPT);
        const out = join(work, "s.memtrace.gz");
        const rec = await recordPython([python, "-S", "s.py"], { out, cwd: work, stdio: "pipe", cacheDir, env: { ...process.env, PYTHONHASHSEED: "0" } });
        expect(rec.exitCode).toBe(0);
        expect(rec.version.startsWith(`${version}.`)).toBe(true);
        expect(rec.untracked).toBe(0);
        expect(rec.arenasAllocated).toBeGreaterThan(0); // 3.8/3.9's 256 KiB arenas included
        const notes: string[] = [];
        const prepared = await prepareReplay(out, {}, {}, (l) => notes.push(l));
        // the recorders also write `# cpus N` (this machine's online CPUs), named after the version
        expect(notes).toHaveLength(1);
        expect(notes[0]).toMatch(new RegExp(`^from the trace header: CPython ${version.replace(".", "\\.")}, \\d+ CPUs?$`));
        expect(prepared.stack.pymalloc!.params.name).toBe(version);
        const summary = await replayFile(prepared.stack, out);
        expect(summary.divergences).toBe(0);
        expect(prepared.stack.pymalloc!.debugMallocStats()).toBe(readFileSync(rec.statsOut, "utf8"));
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  }
});

describe.skipIf(skip !== null)(liveTitle("mem-demo record under CPython 3.13's PYTHONMALLOC=mimalloc", skip), () => {
  it("names mimalloc's statistics, and the replay refuses the trace", { timeout: 180_000 }, (ctx) => {
    const dir = installed.find((d) => d.startsWith("3.13."));
    const python = dir === undefined ? undefined : join(versions, dir, "bin", "python3.13");
    if (python === undefined || !existsSync(python)) {
      ctx.skip(`no CPython 3.13 under ${versions}`);
      return;
    }
    const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
    const tsx = import.meta.resolve("tsx"); // the programs run in the scratch directory, where "tsx" does not resolve
    const work = scratch();
    try {
      const env = { ...process.env, PYTHONMALLOC: "mimalloc", MEM_DEMO_CACHE: cacheDir, NO_COLOR: "1" };
      const rec = spawnSync(process.execPath, ["--import", tsx, cli, "record", "--out", "m.memtrace.gz", "--", python, "-S", "-c", "x = [str(i) for i in range(1000)]"], { cwd: work, env, encoding: "utf8" });
      expect(rec.status, rec.stderr).toBe(0);
      expect(rec.stderr).toMatch(/; mimalloc statistics in m\.stats\.txt \(no mimalloc tier exists yet: a replay refuses the trace unless --pythonmalloc is given\)\n$/);
      expect(readFileSync(join(work, "m.stats.txt"), "utf8")).toMatch(/^Small block threshold = 16384, in 73 size classes\.\nMedium block threshold/);
      const replay = spawnSync(process.execPath, ["--import", tsx, cli, "replay", "m.memtrace.gz"], { cwd: work, env: { ...process.env, NO_COLOR: "1" }, encoding: "utf8" });
      expect(replay.status).toBe(1);
      expect(replay.stderr).toContain("no mimalloc tier exists yet");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
