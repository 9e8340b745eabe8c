/**
 * The C recorder with threads: thread-waves.c (threads created and joined in waves, taking
 * turns, sizes up to 70 KB) recorded with `record --libc` writes `# cpus`, `n`/`t`/`x` lines,
 * and the replay puts every result where glibc put it: brk-heap results at the same offset
 * from the heap start, thread-arena results at the same offset from their 64 MiB heap, also
 * beyond the arena limit (MALLOC_ARENA_MAX=2: reused_arena). Runs on a host with a C compiler
 * and glibc 2.36 (the model's).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GlibcMalloc } from "@mem/libc-malloc";
import { describe, expect, it } from "vitest";
import { hostSkip, skipTitle } from "../../../../scripts/host-facts.js";
import { findCompiler, recordLibc, recordPython } from "../../src/record/index.js";
import { prepareReplay } from "../../src/replay-command.js";
import { replayFile } from "../../src/replay-file.js";
import { writeFileSync } from "node:fs";
import { cacheDir, haveCompiler, havePython, scratch } from "./support.js";

const skip = haveCompiler ? hostSkip({ glibc: "2.36" }) : "no C compiler";
const WAVES = fileURLToPath(new URL("../../../../packages/libc-malloc/test/fixtures/thread-waves.c", import.meta.url));

describe.skipIf(skip !== null)(skipTitle("record --libc of a multi-threaded program", skip), () => {
  it.each([
    ["default arenas", {}],
    ["MALLOC_ARENA_MAX=2", { MALLOC_ARENA_MAX: "2" }],
  ])("%s: thread records, and the replay reproduces every placement and malloc_stats", { timeout: 120_000 }, async (_name, extra) => {
    const dir = scratch();
    const exe = join(dir, "thread-waves");
    const cc = spawnSync(findCompiler(), ["-O1", "-pthread", "-o", exe, WAVES], { encoding: "utf8" });
    expect(cc.status, cc.stderr).toBe(0);
    const out = join(dir, "waves.memtrace");
    const rec = await recordLibc([exe], { out, stdio: "pipe", cacheDir, env: { ...process.env, ...extra } });
    expect(rec.exitCode).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(/^# cpus \d+$/m);
    expect(text.match(/^n \d+$/gm)).toHaveLength(27);
    expect(text.match(/^x \d+$/gm)).toHaveLength(27);
    expect(text).toMatch(/^t 2$/m);

    const prepared = await prepareReplay(out, {}, { ramSize: 512 * 1024 * 1024 }, () => undefined);
    const summary = await replayFile(prepared.stack, out);
    expect(summary.placements.compared).toBeGreaterThan(400);
    expect(summary.placements.moved).toBe(0);
    const libc = prepared.stack.libc;
    if (!(libc instanceof GlibcMalloc)) throw new Error("a C trace replays on glibc");
    expect(libc.mallocStats()).toBe(rec.stderr);
  });
});

const TPE = `from concurrent.futures import ThreadPoolExecutor
def work(i):
    out = []
    for k in range(200):
        out.append(bytearray(600 + (i * 37 + k * 11) % 3000))
        if k % 3 == 0: out.pop(0)
    return len(out)
with ThreadPoolExecutor(max_workers=4) as ex:
    print(sum(ex.map(work, range(40))))
`;

describe.skipIf(!havePython || skip !== null)(skipTitle("record of a CPython ThreadPoolExecutor", havePython ? skip : "no python3 build"), () => {
  it("thread records from the CPython recorder (raw calls of every thread, serialised); the replay matches pymalloc's statistics", { timeout: 120_000 }, async () => {
    const dir = scratch();
    writeFileSync(join(dir, "tpe.py"), TPE);
    const out = join(dir, "tpe.memtrace");
    const statsOut = join(dir, "tpe.stats.txt");
    const rec = await recordPython(["python3", "-S", "tpe.py"], { out, statsOut, cwd: dir, stdio: "pipe", cacheDir });
    expect(rec.exitCode).toBe(0);
    expect(rec.stdout).toBe("5320\n");
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(/^# cpus \d+$/m);
    expect(text.match(/^n \d+$/gm)).toHaveLength(4);
    // a worker whose OS thread ends after the recording stopped (pool.shutdown joins the Python
    // thread, not its TSD destructors) gets no x line, like a thread alive at exit
    expect(text.match(/^x \d+$/gm)?.length ?? 0).toBeLessThanOrEqual(4);
    const prepared = await prepareReplay(out, {}, { ramSize: 512 * 1024 * 1024 }, () => undefined);
    const summary = await replayFile(prepared.stack, out);
    expect(summary.divergences).toBe(0);
    expect(prepared.stack.pymalloc!.debugMallocStats()).toBe(readFileSync(statsOut, "utf8"));
    const libc = prepared.stack.libc;
    if (!(libc instanceof GlibcMalloc)) throw new Error("CPython's raw domain replays on glibc");
    expect(libc.arenas()).toHaveLength(5); // main_arena and one per worker
  });
});
