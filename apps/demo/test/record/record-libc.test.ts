import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { forEachRecord, parseTrace, type MemtraceEvent } from "@mem/memtrace";
import { traceChunks } from "../../src/record/files.js";
import { describe, expect, it } from "vitest";
import { checkLibcPlacements, recordLibc } from "../../src/record/index.js";
import { cacheDir, haveCompiler, scratch } from "./support.js";

describe.skipIf(!haveCompiler)("recordLibc (real glibc)", () => {
  it("records sort: libc lines with glibc's addresses and the heap start, and glibc replays them to the same places", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const input = join(dir, "words.txt");
    writeFileSync(input, Array.from({ length: 5000 }, (_, i) => `word${(i * 7919) % 5000}\n`).join(""));
    const out = join(dir, "sort.memtrace");
    const rec = await recordLibc(["sort", "-S", "16K", "--parallel=1", input], { out, stdio: "pipe", cacheDir, env: { ...process.env, LC_ALL: "C" } });
    expect(rec.exitCode).toBe(0);
    expect(rec.stdout.split("\n")[0]).toBe("word0");
    expect(rec.unknownPointers).toBe(0);
    expect(rec.heapStart % 4096).toBe(0);
    const events = parseTrace(readFileSync(out, "utf8"));
    expect(events[0]).toEqual({ kind: "comment", text: " memtrace v1" });
    expect(events.find((e) => e.kind === "heap-start")).toEqual({ kind: "heap-start", address: rec.heapStart });
    const calls = events.filter((e) => e.kind !== "comment" && e.kind !== "heap-start" && e.kind !== "cpus");
    expect(calls.length).toBe(rec.events);
    expect(calls.every((e) => "domain" in e && e.domain === "libc")).toBe(true);
    // the first block of a fresh glibc heap sits after the tcache (0x290 bytes) and its own header
    const first = calls.find((e) => e.kind === "malloc" && e.result !== 0);
    expect(first && "result" in first ? first.result - rec.heapStart : -1).toBe(0x2a0);

    const check = await checkLibcPlacements(out, { cacheDir });
    expect(check.moved).toBe(0);
    expect(check.unmatched).toBe(0);
    expect(check.same).toBe(check.heap);
    expect(check.heap).toBeGreaterThan(10);
  });

  it("records the memalign family and compresses to .gz", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const out = join(dir, "py.memtrace.gz");
    // a program that uses the family: python's ctypes calls into libc directly
    const rec = await recordLibc(
      ["python3", "-S", "-c", "import ctypes; l = ctypes.CDLL(None); l.memalign.restype = ctypes.c_void_p; p = l.memalign(64, 100); l.free(ctypes.c_void_p(p))"],
      { out, stdio: "pipe", cacheDir },
    );
    expect(rec.exitCode).toBe(0);
    expect(readFileSync(out).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(rec.events).toBeGreaterThan(100);
    const aligned: MemtraceEvent[] = [];
    const comments: string[] = [];
    await forEachRecord(traceChunks(out), (r) => {
      if (r.kind === "memalign") aligned.push(r.toEvent());
      if (r.kind === "comment") comments.push(r.text);
    });
    // pyenv's python3 is a shell script that execs the real binary: the binary's calls are the ones recorded
    expect(comments.find((c) => c.startsWith(" argv "))).toMatch(/python3[.0-9]* -S -c import ctypes/);
    expect(aligned).toHaveLength(1);
    const m = aligned[0]!;
    expect(m.kind === "memalign" && [m.domain, m.alignment, m.size, m.result % 64]).toEqual(["libc", 64, 100, 0]);
  });

  it("announces the calls of a second thread", { timeout: 120_000 }, async () => {
    const dir = scratch();
    const out = join(dir, "threads.memtrace");
    const rec = await recordLibc(
      ["python3", "-S", "-c", "import threading; t = threading.Thread(target=lambda: [bytearray(1000) for _ in range(10)]); t.start(); t.join()"],
      { out, stdio: "pipe", cacheDir },
    );
    expect(rec.exitCode).toBe(0);
    expect(readFileSync(out, "utf8")).toMatch(/^# thread 2 starts allocating after event \d+$/m);
  });

  it("names the command it cannot find", { timeout: 60_000 }, async () => {
    const dir = scratch();
    await expect(recordLibc(["/nonexistent/program"], { out: join(dir, "t.memtrace"), stdio: "pipe", cacheDir })).rejects.toThrow(
      "mem-demo record: command not found: /nonexistent/program",
    );
  });
});
