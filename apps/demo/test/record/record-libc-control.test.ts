/**
 * A C program's malloc_trim and mallopt calls: the C recorder writes them as comments
 * (`# malloc_trim <pad> <result>`, `# mallopt <param> <value> <result>`) and a replay makes
 * the same calls, so that glibc's state follows the real one (malloc_stats equal). Runs on a
 * host with a C compiler and glibc 2.36.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GlibcMalloc } from "@mem/libc-malloc";
import { describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { libcControlOf } from "../../src/libc-control.js";
import { checkLibcPlacements, findCompiler, recordLibc } from "../../src/record/index.js";
import { prepareReplay } from "../../src/replay-command.js";
import { replayFile } from "../../src/replay-file.js";
import { cacheDir, haveCompiler, scratch } from "./support.js";

const skip = haveCompiler ? hostSkip({ glibc: "2.36" }) : "no C compiler";
const PROGRAM = fileURLToPath(new URL("../fixtures/libc-control/trim-mallopt.c", import.meta.url));

async function replay(trace: string) {
  const prepared = await prepareReplay(trace, {}, { ramSize: 256 * 1024 * 1024 }, () => undefined);
  const warnings: string[] = [];
  const summary = await replayFile(prepared.stack, trace, { warn: (l) => warnings.push(l) });
  const libc = prepared.stack.libc;
  if (!(libc instanceof GlibcMalloc)) throw new Error("a C trace replays on glibc");
  return { summary, stats: libc.mallocStats(), warnings };
}

describe("the comments of malloc_trim and mallopt", () => {
  it("are read; other comments are not", () => {
    expect(libcControlOf(" malloc_trim 0 1")).toEqual({ call: "malloc_trim", pad: 0, result: 1 });
    expect(libcControlOf(" mallopt -3 4096 1")).toEqual({ call: "mallopt", param: -3, value: 4096, result: 1 });
    expect(libcControlOf(" mallopt -3 4096")).toBeUndefined();
    expect(libcControlOf(" heap-start 0x1000")).toBeUndefined();
  });
});

describe.skipIf(skip !== null)(skipTitle("record --libc of a program calling malloc_trim and mallopt", skip), () => {
  it("records the calls, and the replay that makes them ends with real glibc's malloc_stats; without them it does not", { timeout: 120_000 }, async () => {
    const dir = scratch();
    try {
      const exe = join(dir, "trim-mallopt");
      const cc = spawnSync(findCompiler(), ["-O0", "-o", exe, PROGRAM], { encoding: "utf8" });
      expect(cc.status, cc.stderr).toBe(0);
      const out = join(dir, "trim.memtrace");
      const rec = await recordLibc([exe], { out, stdio: "pipe", cacheDir });
      expect(rec.exitCode).toBe(0);
      expect(rec.stdout).toBe("trim 1 mmap_threshold 1 trim_threshold 1 trim 1\n");
      const text = readFileSync(out, "utf8");
      expect(text.match(/^# (malloc_trim|mallopt) .*$/gm)).toEqual(["# malloc_trim 0 1", "# mallopt -3 4096 1", "# mallopt -1 0 1", "# malloc_trim 0 1"]);

      const made = await replay(out);
      expect(made.warnings).toEqual([]);
      expect(made.summary.divergences).toBe(0);
      expect(made.summary.placements.moved).toBe(0);
      expect(made.stats).toBe(rec.stderr); // real glibc's malloc_stats() at the end

      // the same trace with the comments dropped (what replays did before): glibc's state differs
      const stripped = join(dir, "stripped.memtrace");
      writeFileSync(stripped, text.replace(/^# (malloc_trim|mallopt) .*\n/gm, ""));
      const ignored = await replay(stripped);
      expect(ignored.stats).not.toBe(rec.stderr);
      expect(ignored.summary.placements.moved).toBeGreaterThan(0);

      // real glibc replaying the trace (memtrace_libc_check) makes the calls too: every block in place
      const check = await checkLibcPlacements(out, { cacheDir });
      expect(check.moved).toBe(0);
      expect(check.same).toBe(check.heap);
      expect((await checkLibcPlacements(stripped, { cacheDir })).moved).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
