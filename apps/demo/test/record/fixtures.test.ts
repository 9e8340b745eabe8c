/**
 * The committed recordings, replayed by the real allocators of this machine:
 * - each CPython trace through real pymalloc must end with the recorded statistics, byte for byte;
 * - each C program's trace through real glibc must put every heap block at the recorded offset.
 * Live comparisons (`npm run test:live`): the recordings were made with CPython 3.11.7 and
 * glibc 2.36, so each half runs only on a host with that python3 or glibc (skipped, the
 * difference named, elsewhere).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { liveSkip, liveTitle } from "../../../../scripts/host-facts.js";
import { checkLibcPlacements, replayNative } from "../../src/record/index.js";
import { cacheDir, haveCompiler, havePython, scratch } from "./support.js";

const packages = fileURLToPath(new URL("../../../../packages/", import.meta.url));
const pythonDir = join(packages, "small-object/test/fixtures/recordings");
const libcDir = join(packages, "libc-malloc/test/fixtures/recordings");
/** Whether a trace has thread records (`t <tid>` lines: a threaded program's recording). */
const hasThreadRecords = (path: string): boolean => /^t \d/m.test(gunzipSync(readFileSync(path)).toString("latin1"));
const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".memtrace.gz")).sort() : []);

const pythonSkip = liveSkip({ python3: "3.11", check: () => (havePython ? null : "no python3 headers or C compiler") });
const libcSkip = liveSkip({ glibc: "2.36", check: () => (haveCompiler ? null : "no C compiler") });

describe.skipIf(pythonSkip !== null)(liveTitle("CPython recordings replayed by real pymalloc", pythonSkip), () => {
  it.each(list(pythonDir))("%s ends with the recorded statistics", { timeout: 60_000 }, async (file) => {
    const statsOut = join(scratch(), "stats.txt");
    const replay = await replayNative(join(pythonDir, file), { statsOut, cacheDir });
    expect(replay.unmatched).toBe(0);
    expect(readFileSync(statsOut, "utf8")).toBe(readFileSync(join(pythonDir, file.replace(".memtrace.gz", ".stats.txt")), "utf8"));
  });
});

describe.skipIf(libcSkip !== null)(liveTitle("C program recordings replayed by real glibc", libcSkip), () => {
  it.for(list(libcDir))("%s places every heap block where glibc did", { timeout: 60_000 }, async (file, ctx) => {
    if (hasThreadRecords(join(libcDir, file))) {
      // the native replayer makes every call from one thread: a thread's calls would land in
      // main_arena instead of its own arena (the simulated replays check those placements)
      ctx.skip("a threaded recording: the native replayer replays every call on one thread");
      return;
    }
    const check = await checkLibcPlacements(join(libcDir, file), { cacheDir });
    expect(check.firstDifference).toBeUndefined();
    expect(check.moved).toBe(0);
    expect(check.unmatched).toBe(0);
    expect(check.same).toBe(check.heap);
  });
});
