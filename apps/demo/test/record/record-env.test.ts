/**
 * The C recorder writes the allocator settings of the recorded process (`# env` lines for
 * GLIBC_TUNABLES and the MALLOC_*_ variables), and a replay that reads them puts every block
 * where glibc put it. Runs on a host with a C compiler and
 * glibc 2.36 (the model's), in every test run (a recorder test, see scripts/host-facts.ts).
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { findCompiler, recordLibc } from "../../src/record/index.js";
import { prepareReplay } from "../../src/replay-command.js";
import { readTraceHeader, replayFile } from "../../src/replay-file.js";
import { cacheDir, haveCompiler, scratch } from "./support.js";

const skip = haveCompiler ? hostSkip({ glibc: "2.36" }) : "no C compiler";
const PROBE = fileURLToPath(new URL("../fixtures/glibc-env/env_probe.c", import.meta.url));
const TUNABLES = "glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536";

describe.skipIf(skip !== null)(skipTitle("record --libc under GLIBC_TUNABLES and MALLOC_PERTURB_", skip), () => {
  it("writes them as # env lines, and the replay that uses them reproduces every placement", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const exe = join(dir, "env_probe");
    const cc = spawnSync(findCompiler(), ["-O0", "-o", exe, PROBE], { encoding: "utf8" });
    expect(cc.status, cc.stderr).toBe(0);
    const out = join(dir, "probe.memtrace");
    const env = { ...process.env, GLIBC_TUNABLES: TUNABLES, MALLOC_PERTURB_: "17" };
    const rec = await recordLibc([exe], { out, stdio: "pipe", cacheDir, env });
    expect(rec.exitCode).toBe(0);
    expect(rec.stdout).toBe("200000:mmap 40MiB:mmap reuse:second perturb:0xee\n");

    const header = await readTraceHeader(out);
    expect(header.env).toEqual({ GLIBC_TUNABLES: TUNABLES, MALLOC_PERTURB_: "17" });

    const notes: string[] = [];
    const prepared = await prepareReplay(out, {}, { ramSize: 256 * 1024 * 1024 }, (l) => notes.push(l));
    expect(notes).toEqual([
      "from the trace header: glibc.malloc.perturb=17 (MALLOC_PERTURB_), glibc.malloc.mmap_threshold=65536, glibc.malloc.tcache_count=0, " +
        `${header.cpus} CPU${header.cpus === 1 ? "" : "s"}`,
    ]);
    expect(header.cpus).toBe(cpus().length); // get_nprocs(): the online CPUs
    const summary = await replayFile(prepared.stack, out);
    expect(summary.placements.compared).toBeGreaterThanOrEqual(7);
    expect(summary.placements.moved).toBe(0);
    expect(prepared.stack.options.glibc).toMatchObject({ tcacheCount: 0, mmapThreshold: 65536, perturb: 17 });
  });
});
