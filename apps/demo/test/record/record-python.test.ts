import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PointerMap, forEachRecord } from "@mem/memtrace";
import { describe, expect, it } from "vitest";
import { defaultStatsPath, recordPython, replayNative, splitPythonCommand } from "../../src/record/index.js";
import { traceChunks } from "../../src/record/files.js";
import { hostFacts, skipTitle } from "../../../../scripts/host-facts.js";
import { parseTraceHeader } from "../../src/trace-header.js";
import { replaySettings } from "../../src/trace-settings.js";
import { GLIBC_RELEASES } from "../../src/stack.js";
import { cacheDir, havePython, nativeReplaySkip, scratch } from "./support.js";

const SCRIPT = `
class Person:
    def __init__(self, name):
        self.name = name
people = [Person("Michael%d" % i) for i in range(3000)]
blobs = [bytes(600) for _ in range(50)]
del people[::2]
print(len(people), len(blobs))
`;

describe("defaultStatsPath", () => {
  it("puts the statistics beside the trace", () => {
    expect(defaultStatsPath("/r/people.memtrace.gz")).toBe("/r/people.stats.txt");
    expect(defaultStatsPath("people.memtrace")).toBe("people.stats.txt");
    expect(defaultStatsPath("people.trace")).toBe("people.trace.stats.txt");
  });
});

describe("splitPythonCommand", () => {
  it("takes a leading interpreter, or defaults to python3", () => {
    expect(splitPythonCommand(["python3", "s.py", "a"])).toEqual({ python: "python3", args: ["s.py", "a"] });
    expect(splitPythonCommand(["/usr/bin/python3.11", "-S", "s.py"])).toEqual({ python: "/usr/bin/python3.11", args: ["-S", "s.py"] });
    expect(splitPythonCommand(["s.py"])).toEqual({ python: "python3", args: ["s.py"] });
  });
});

describe.skipIf(!havePython)("recordPython (real CPython)", () => {
  it("names the C library it ran on in the recorder line, and a replay takes its malloc model from it", { timeout: 120_000 }, async () => {
    // a recording made on Debian 13 (glibc 2.41) must not replay with 2.36's malloc
    const out = join(scratch(), "glibc.memtrace");
    expect((await recordPython(["python3", "-S", "-c", "pass"], { out, stdio: "pipe", cacheDir, frames: 0, rssEvery: 0 })).exitCode).toBe(0);
    const header = parseTraceHeader(readFileSync(out, "utf8").split("\n", 8));
    const host = hostFacts().glibc;
    expect(header.glibc).toBe(host ?? undefined);
    const settings = replaySettings(header);
    expect(settings.glibcRelease).toBe((GLIBC_RELEASES as readonly (string | null)[]).includes(host) ? host : "2.36");
  });

  it.skipIf(nativeReplaySkip !== null)(skipTitle("records a script: a valid trace, the real stats, and a native replay that ends with the same stats", nativeReplaySkip), { timeout: 120_000 }, async () => {
    const dir = scratch();
    writeFileSync(join(dir, "people.py"), SCRIPT);
    const out = join(dir, "people.memtrace.gz");
    const statsOut = join(dir, "people.stats.txt");
    const rec = await recordPython(["python3", "-S", "people.py"], { out, statsOut, cwd: dir, stdio: "pipe", cacheDir, env: { ...process.env, PYTHONHASHSEED: "0" } });
    expect(rec.exitCode).toBe(0);
    expect(rec.stdout).toBe("1500 50\n");
    expect(rec.version).toMatch(/^3\.\d+\.\d+$/);
    expect(rec.untracked).toBe(0);
    expect(rec.arenasAllocated).toBeGreaterThan(0);

    // the trace: header, heap start, events as counted by the recorder, every freed pointer live
    const live = new PointerMap();
    let events = 0;
    let arenas = 0;
    let problems = 0;
    let sawHeapStart = false;
    let objMallocs600 = 0;
    const kinds = new Set<string>();
    await forEachRecord(traceChunks(out), (r) => {
      kinds.add(r.kind);
      if (r.kind === "heap-start") sawHeapStart = true;
      else if (r.kind === "arena-alloc") arenas++;
      else if (r.kind === "free") {
        events++;
        if (r.ptr !== 0 && live.delete(r.ptr) === -1) problems++;
      } else if (r.kind === "realloc") {
        events++;
        if (r.ptr !== 0 && r.result !== 0 && live.delete(r.ptr) === -1) problems++;
        if (r.result !== 0) live.set(r.result, 1);
      } else if (r.kind === "malloc" || r.kind === "calloc") {
        events++;
        if (r.result !== 0) live.set(r.result, 1);
        if (r.kind === "calloc" && r.domain === "obj" && r.nelem * r.elsize === 633) objMallocs600++;
      }
    });
    expect(sawHeapStart).toBe(true);
    expect(problems).toBe(0);
    expect(events).toBe(rec.events);
    expect(arenas).toBe(rec.arenasAllocated);
    expect(objMallocs600).toBe(50); // bytes(600): PyObject_Calloc(1, 33 + 600) each, an event even though pymalloc passes it to raw
    // with the source locations a recording has by default on 3.11 (--frames 1): frame, traceback, stack, retrace
    const stacks = rec.version.startsWith("3.11.") ? ["frame", "retrace", "stack", "traceback"] : [];
    expect([...kinds].sort()).toEqual(["arena-alloc", "calloc", "comment", "cpus", "free", "heap-start", "malloc", "realloc", ...stacks].sort());

    // the statistics: the real _PyObject_DebugMallocStats text
    const stats = readFileSync(statsOut, "utf8");
    expect(stats.split("\n").slice(0, 4)).toEqual([
      "Small block threshold = 512, in 32 size classes.",
      "",
      "class   size   num pools   blocks in use  avail blocks",
      "-----   ----   ---------   -------------  ------------",
    ]);
    expect(stats).toMatch(/# arenas allocated total {11}= +\d+\n/);

    // replaying the trace through real pymalloc gives the same statistics, byte for byte
    const replayStats = join(dir, "replay.stats.txt");
    const replay = await replayNative(out, { statsOut: replayStats, cacheDir });
    expect(replay.unmatched).toBe(0);
    expect(replay.events).toBe(rec.events);
    expect(readFileSync(replayStats, "utf8")).toBe(stats);
  });

  it("keeps the trace plain when the name does not end in .gz", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const out = join(dir, "t.memtrace");
    const rec = await recordPython(["python3", "-S", "-c", "x = [str(i) for i in range(100)]"], { out, stdio: "pipe", cacheDir });
    expect(readFileSync(out, "utf8").startsWith("# memtrace v1\n# recorder memtrace_python: CPython ")).toBe(true);
    expect(rec.statsOut).toBe(join(dir, "t.stats.txt"));
    expect(readFileSync(rec.statsOut, "utf8")).toMatch(/^Small block threshold = 512, in 32 size classes\.\n/);
    expect(rec.events).toBeGreaterThan(1000);
  });

  it.skipIf(nativeReplaySkip !== null)(skipTitle("records only the parent of os.fork (the child's calls go nowhere) and still replays exactly", nativeReplaySkip), { timeout: 120_000 }, async () => {
    const dir = scratch();
    writeFileSync(
      join(dir, "fork.py"),
      "import os, sys\ndata = [str(i) for i in range(5000)]\npid = os.fork()\nif pid == 0:\n    more = [str(i) * 3 for i in range(20000)]\n    sys.exit(0)\nos.waitpid(pid, 0)\nprint('parent', len(data))\n",
    );
    const out = join(dir, "fork.memtrace.gz");
    const rec = await recordPython(["python3", "-S", "fork.py"], { out, cwd: dir, stdio: "pipe", cacheDir });
    expect(rec.stdout).toBe("parent 5000\n");
    expect(rec.untracked).toBe(0);
    const replayStats = join(dir, "replay.stats.txt");
    const replay = await replayNative(out, { statsOut: replayStats, cacheDir });
    expect(replay.unmatched).toBe(0);
    expect(replay.events).toBe(rec.events);
    expect(readFileSync(replayStats, "utf8")).toBe(readFileSync(rec.statsOut, "utf8"));
  });

  // os._exit and fatal signals end the trace whole (record-python-exits.test.ts); SIGKILL cannot be caught
  it("says so when the program ends before the recording does", { timeout: 120_000 }, async () => {
    const dir = scratch();
    await expect(
      recordPython(["python3", "-S", "-c", "import os; os.kill(os.getpid(), 9)"], { out: join(dir, "t.memtrace"), statsOut: join(dir, "s.txt"), stdio: "pipe", cacheDir }),
    ).rejects.toThrow(/mem-demo record: .* ended \(exit status 137, SIGKILL\) before the recording reached its end/);
  });

  it("reports the exit status of a failing script and still records it", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const rec = await recordPython(["python3", "-S", "-c", "raise SystemExit(4)"], { out: join(dir, "t.memtrace"), statsOut: join(dir, "s.txt"), stdio: "pipe", cacheDir });
    expect(rec.exitCode).toBe(4);
    expect(rec.untracked).toBe(0);
  });
});

describe.skipIf(nativeReplaySkip !== null)(skipTitle("replayNative", nativeReplaySkip), () => {
  it("reports a malformed line with its number", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const trace = join(dir, "bad.memtrace");
    writeFileSync(trace, "# memtrace v1\nm obj 16 0x10\nr obj 0x10 32\n");
    await expect(replayNative(trace, { cacheDir })).rejects.toThrow(/mem-demo record: the native replay of .* failed \(exit status 1\): memtrace: line 3: expected a space/);
  });

  it("replays a hand-written trace and counts pointers it never saw", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const trace = join(dir, "t.memtrace");
    writeFileSync(trace, "# memtrace v1\nm obj 78 0x10\nm obj 78 0x20\nr mem 0x20 600 0x30\nf obj 0x10\nf mem 0x30\nf obj 0x999\n");
    const statsOut = join(dir, "s.txt");
    await expect(replayNative(trace, { cacheDir, statsOut })).resolves.toMatchObject({ events: 6, unmatched: 1 });
    // both 80-byte blocks freed again: one empty pool, nothing in use
    const stats = readFileSync(statsOut, "utf8");
    expect(stats).toContain("# bytes in allocated blocks        =                    0\n");
    expect(stats).toContain("# arenas allocated total           =                    1\n");
  });
});
