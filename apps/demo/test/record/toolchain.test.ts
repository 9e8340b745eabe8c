import { afterEach, describe, expect, it } from "vitest";
import { OutputError } from "../../src/output-file.js";
import { RecordError, defaultCacheDir, findCompiler, nativeDir, pythonBuild, recordLibc, recordPython } from "../../src/record/index.js";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const saved = { CC: process.env.CC, PATH: process.env.PATH, MEM_DEMO_CACHE: process.env.MEM_DEMO_CACHE };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("toolchain", () => {
  it("finds the C sources", () => {
    expect(existsSync(join(nativeDir(), "memtrace_python.c"))).toBe(true);
    expect(existsSync(join(nativeDir(), "memtrace_libc.c"))).toBe(true);
  });

  it("says clearly when there is no C compiler", () => {
    process.env.PATH = "/nonexistent";
    delete process.env.CC;
    expect(() => findCompiler()).toThrow(RecordError);
    expect(() => findCompiler()).toThrow(/^mem-demo record: no C compiler found \(looked for \$CC, cc, gcc, clang on PATH\).*apt-get install gcc/);
  });

  it("says clearly when CC names a missing compiler", () => {
    process.env.CC = "/nonexistent/cc";
    expect(() => findCompiler()).toThrow("mem-demo record: the C compiler named by CC (/nonexistent/cc) was not found");
  });

  it("says clearly when there is no such Python", async () => {
    await expect(pythonBuild("/nonexistent/python3")).rejects.toThrow("mem-demo record: no Python interpreter named /nonexistent/python3 on PATH");
  });

  it("refuses an output in a directory that does not exist, before running anything", async () => {
    await expect(recordPython(["python3", "x.py"], { out: "/nonexistent/dir/x.memtrace" })).rejects.toThrow(
      "cannot write /nonexistent/dir/x.memtrace: ENOENT (no such directory: /nonexistent/dir)",
    );
    await expect(recordLibc(["true"], { out: "/nonexistent/dir/x.memtrace" })).rejects.toThrow(OutputError);
  });

  it("shows the compiler's command and messages when compilation fails", async () => {
    process.env.CC = "/bin/false";
    const dir = mkdtempSync(join(tmpdir(), "mem-demo-cc-"));
    await expect(recordLibc(["true"], { out: join(dir, "t.memtrace"), cacheDir: dir })).rejects.toThrow(
      /^mem-demo record: compiling memtrace_libc\.c with false failed:\n\/bin\/false -O2 -g -Wall -shared -fPIC -pthread -o /,
    );
  });

  it("caches in MEM_DEMO_CACHE when set", () => {
    process.env.MEM_DEMO_CACHE = "/tmp/x-cache";
    expect(defaultCacheDir()).toBe("/tmp/x-cache");
  });
});
