import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseTrace } from "@mem/memtrace";
import { describe, expect, it } from "vitest";
import { explainBySource } from "../../src/explain-by-source.js";
import { recordLibc } from "../../src/record/index.js";
import { linkAddress, parseMapLine } from "../../src/record/symbolize.js";
import { cacheDir, haveCompiler, scratch } from "./support.js";

/** The frames of a trace by id, as `file:line` or the function text. */
function frames(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of parseTrace(text)) if (e.kind === "frame") out.set(e.id, e.lineno > 0 ? `${e.filename}:${e.lineno}` : e.filename);
  return out;
}

describe("symbolize: mappings", () => {
  it("parses a # map line and turns an address into the object's link-time address through its PT_LOAD segment", () => {
    const map = parseMapLine("# map 0x7f0000001000-0x7f0000005000 0x1000 /usr/lib/x86_64-linux-gnu/libc.so.6")!;
    expect(map).toEqual({ start: 0x7f0000001000, end: 0x7f0000005000, offset: 0x1000, path: "/usr/lib/x86_64-linux-gnu/libc.so.6" });
    // text segment at file offset 0x1000 linked at 0x401000 (a non-PIE program)
    expect(linkAddress(0x7f0000001234, map, [{ offset: 0, size: 0x1000, vaddr: 0x400000 }, { offset: 0x1000, size: 0x4000, vaddr: 0x401000 }])).toBe(0x401234);
    expect(linkAddress(0x7f0000001234, map, [{ offset: 0, size: 0x1000, vaddr: 0 }])).toBeUndefined();
    expect(parseMapLine("# mapping")).toBeUndefined();
  });
});

describe.skipIf(!haveCompiler)("record --libc --frames (real glibc)", () => {
  it("a program built with -g: each malloc's frame is the file:line of the call, callers after it; explain --by lineno reads it", { timeout: 120_000 }, async () => {
    const dir = scratch();
    try {
      const src = join(dir, "calls.c");
      writeFileSync(
        src,
        [
          "#include <stdlib.h>",
          "#include <string.h>",
          "static void *make(size_t n) { return malloc(n); }", // line 3
          "int main(void) {",
          "  void *a = malloc(1000);", // line 5
          "  void *b = make(2000);", // line 6
          "  void *c = calloc(3, 100);", // line 7
          "  char *d = strdup(\"hello\");", // line 8: malloc inside libc's strdup
          "  free(a);",
          "  return b == 0 || c == 0 || d == 0;",
          "}",
          "",
        ].join("\n"),
      );
      const exe = join(dir, "calls");
      execFileSync("gcc", ["-g", "-O0", "-o", exe, src]);
      const out = join(dir, "calls.memtrace");
      const rec = await recordLibc([exe], { out, stdio: "pipe", cacheDir, frames: 3 });
      expect(rec.exitCode).toBe(0);
      expect(rec.events).toBe(parseTrace(readFileSync(out, "utf8")).filter((e) => ["malloc", "calloc", "realloc", "free", "memalign"].includes(e.kind)).length);
      const text = readFileSync(out, "utf8");
      expect(text).toMatch(/^# frames 3$/m);
      expect(text).not.toMatch(/^#F \d+ 0 0x/m); // every address resolved
      const byId = frames(text);
      const events = parseTrace(text);
      // the traceback in force at each call of the program's own (the sizes are its own)
      const tb = new Map<number, readonly number[]>();
      for (const e of events) if (e.kind === "traceback") tb.set(e.id, e.frames);
      let current = -1;
      const sites = new Map<number, string[]>();
      for (const e of events) {
        if (e.kind === "stack") current = e.traceback;
        if ((e.kind === "malloc" && [1000, 2000, 6].includes(e.size)) || (e.kind === "calloc" && e.elsize === 100)) {
          sites.set(e.kind === "calloc" ? 300 : e.size, tb.get(current)!.map((f) => byId.get(f)!));
        }
      }
      expect(sites.get(1000)![0]).toBe(`${src}:5`);
      expect(sites.get(2000)!.slice(0, 2)).toEqual([`${src}:3`, `${src}:6`]);
      expect(sites.get(300)![0]).toBe(`${src}:7`);
      // inside libc's strdup: its source line where glibc's debug information is installed
      // (libc6-dbg, as on this machine), else its exported name; then the program's line
      expect(sites.get(6)![0]).toMatch(/^(strdup\+0x[0-9a-f]+ \(libc\.so\.6\)|.*\/strdup\.c:\d+)$/);
      expect(sites.get(6)![1]).toBe(`${src}:8`);

      const lines = await explainBySource(out, { by: "lineno", since: "start" });
      expect(lines).toContain(`${src}:3: size=2000 B, count=1, average=2000 B`); // the most recent frame: inside make()
      expect(lines).toContain(`${src}:7: size=300 B, count=1, average=300 B`);
      expect(lines.some((l) => l.startsWith(`${src}:5:`))).toBe(false); // freed
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a program with symbols but no debug information: function+0xoff (object)", { timeout: 120_000 }, async () => {
    const dir = scratch();
    try {
      const src = join(dir, "nodebug.c");
      writeFileSync(src, "#include <stdlib.h>\nvoid *__attribute__((noinline)) make(size_t n) { return malloc(n); }\nint main(void) { return make(4321) == 0; }\n");
      const exe = join(dir, "nodebug");
      execFileSync("gcc", ["-O1", "-o", exe, src]);
      const out = join(dir, "nodebug.memtrace");
      await recordLibc([exe], { out, stdio: "pipe", cacheDir, frames: 2 });
      const text = readFileSync(out, "utf8");
      const byId = frames(text);
      const events = parseTrace(text);
      const at = events.findIndex((e) => e.kind === "malloc" && e.size === 4321);
      const stack = events.slice(0, at).filter((e) => e.kind === "stack").pop();
      const tb = events.find((e) => e.kind === "traceback" && stack?.kind === "stack" && e.id === stack.traceback);
      expect(tb?.kind === "traceback" && tb.frames.map((f) => byId.get(f))).toEqual([
        expect.stringMatching(/^make\+0x[0-9a-f]+ \(nodebug\)$/),
        expect.stringMatching(/^main\+0x[0-9a-f]+ \(nodebug\)$/),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("threads that dlopen and dlclose while they allocate (the loader's lock): no deadlock with 5 frames, every address symbolised", { timeout: 120_000 }, async () => {
    const dir = scratch();
    try {
      const src = join(dir, "loader.c");
      writeFileSync(
        src,
        [
          "#include <dlfcn.h>",
          "#include <pthread.h>",
          "#include <stdlib.h>",
          "static void *work(void *arg) {",
          "  for (int i = 0; i < 200; i++) {",
          "    void *h = dlopen((i & 1) ? \"libm.so.6\" : \"libz.so.1\", RTLD_NOW);", // dlopen allocates under the loader's lock
          "    void *volatile p = malloc(100 + i);",
          "    free(p);",
          "    if (h) dlclose(h);",
          "  }",
          "  return arg;",
          "}",
          "int main(void) {",
          "  pthread_t t[4];",
          "  for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, work, 0);",
          "  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);",
          "  return 0;",
          "}",
          "",
        ].join("\n"),
      );
      const exe = join(dir, "loader");
      execFileSync("gcc", ["-g", "-O1", "-pthread", "-o", exe, src, "-ldl"]);
      const out = join(dir, "loader.memtrace");
      const rec = await recordLibc([exe], { out, stdio: "pipe", cacheDir, frames: 5 });
      expect(rec.exitCode).toBe(0);
      expect(rec.ending).toBe("exit");
      const text = readFileSync(out, "utf8");
      // 4 threads x 200 mallocs of the program's own, each at line 7 of loader.c
      const sizes = parseTrace(text).filter((e) => e.kind === "malloc" && e.size >= 100 && e.size < 300).length;
      expect(sizes).toBeGreaterThanOrEqual(800);
      expect(text).not.toMatch(/^#F \d+ 0 0x[0-9a-f]+$/m);
      const lines = await explainBySource(out, { by: "lineno", since: "start", at: 1 });
      expect(lines.length).toBeGreaterThan(0);
      const all = await explainBySource(out, { by: "traceback", since: "start" });
      expect(all.length).toBeGreaterThan(0);
      expect([...frames(text).values()]).toContain(`${src}:7`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a stock Debian program (sort, stripped): call sites resolve to exported function names", { timeout: 120_000 }, async () => {
    const dir = scratch();
    try {
      const input = join(dir, "words.txt");
      writeFileSync(input, Array.from({ length: 2000 }, (_, i) => `w${(i * 7919) % 2000}\n`).join(""));
      const out = join(dir, "sort.memtrace");
      const rec = await recordLibc(["sort", "--parallel=1", input], { out, stdio: "pipe", cacheDir, frames: 5, env: { ...process.env, LC_ALL: "C" } });
      expect(rec.exitCode).toBe(0);
      const text = readFileSync(out, "utf8");
      const names = [...frames(text).values()];
      expect(names.length).toBeGreaterThan(5);
      expect(names.filter((n) => /^0x[0-9a-f]+$/.test(n))).toEqual([]); // every address in a mapped object
      // libc's own functions that allocate (stdio, locale) and the program's entry through libc:
      // source lines with glibc's debug information (libc6-dbg), else exported names
      expect(names.some((n) => /^((fopen|_IO_file_doallocate|setlocale|__libc_start_main)[^ ]*\+0x[0-9a-f]+ \(libc\.so\.6\)|.*\/(setlocale|iofopen|filedoalloc)\.c:\d+)$/.test(n))).toBe(true);
      // the stripped program itself: link-time addresses or its few dynamic symbols
      expect(names.some((n) => / \(sort\)$/.test(n))).toBe(true);
      const lines = await explainBySource(out, { by: "lineno", since: "start", top: 3 });
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^.+ \((sort|libc\.so\.6)\):0: size=.* count=\d+, average=/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("record --libc --frames beyond the shim's buffer", () => {
  it("is refused before anything runs or is written, naming the limit", async () => {
    const dir = scratch();
    try {
      const out = join(dir, "t.memtrace");
      await expect(recordLibc(["true"], { out, frames: 63 })).rejects.toThrow(/--frames 63 with --libc: the shim records at most 62 return addresses/);
      expect(() => readFileSync(out)).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
