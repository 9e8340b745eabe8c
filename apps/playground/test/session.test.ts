import { describe, expect, it } from "vitest";
import { collectMaps } from "@mem/view";
import { ConsoleSession } from "../src/session.js";

describe("ConsoleSession", () => {
  it("allocates a Person through pymalloc and frees it: the arena map changes", () => {
    const s = new ConsoleSession();
    const before = collectMaps(s.stack).arenas?.arenas.length ?? 0;
    const out = s.run("p = PyObject_Malloc(78)");
    expect(out.status).toBe("ok");
    expect(out.text).toMatch(/^p = 0x7f/);
    expect(out.path).toMatchObject({ api: "active", pymalloc: "active", kernel: "active", ram: "active" });
    // the pool header's page is resident (pymalloc wrote it): the block has a frame
    expect(out.frame).toMatch(/^virtual 0x7f[0-9a-f]+ → page 0x7f[0-9a-f]+000 → physical 0x[0-9a-f]+ \(frame \d+\)$/);
    // a 1 MiB malloc is a fresh mapping: its data page has no frame until touched (glibc writes only the header)
    const big = s.run("b = malloc(1048576)");
    const data = s.variables.find((v) => v.name === "b")!.pointer + 8192;
    expect(big.frame).toMatch(/→ physical/);
    expect(s.frameOf(data)).toMatch(/no frame yet/);
    expect(collectMaps(s.stack).arenas!.arenas.length).toBe(before + 1);
    expect(s.run("p").text).toMatch(/^p = 0x7f[0-9a-f]+ \(78 bytes/);
    expect(s.run("PyObject_Free(p)").status).toBe("ok");
    expect(s.variables.map((v) => [v.name, v.freed])).toEqual([
      ["p", true],
      ["b", false],
    ]);
    expect(s.run("p").text).toMatch(/freed since: a dangling pointer\)$/);
  });

  it("shows glibc's message for a double free and keeps going", () => {
    const s = new ConsoleSession();
    s.run("q = malloc(600)");
    expect(s.run("free(q)").status).toBe("ok");
    const out = s.run("free(q)");
    expect(out.status).toBe("crash");
    expect(out.text.split("\n").slice(0, 2)).toEqual(["free(): double free detected in tcache 2", "Aborted (core dumped)"]);
    expect(s.run("r = malloc(16)").status).toBe("ok");
  });

  it("reports an overflow over the next chunk's size as glibc 2.36 does when that chunk is freed", () => {
    // real: a = malloc(24); b = malloc(24); memset(a + 24, 0xff, 8); free(b) prints
    // "munmap_chunk(): invalid pointer" and aborts (checked with gcc on this machine's glibc 2.36)
    const s = new ConsoleSession();
    s.run("a = malloc(24)");
    s.run("b = malloc(24)");
    expect(s.run('write(a, 24, "ffffffffffffffff")').text).toMatch(/^wrote 8 bytes at 0x/);
    const out = s.run("free(b)");
    expect(out.status).toBe("crash");
    expect(out.text.split("\n").slice(0, 2)).toEqual(["munmap_chunk(): invalid pointer", "Aborted (core dumped)"]);
  });

  it("prints CPython's fatal error for an overflow under PYTHONMALLOC=debug", () => {
    const s = new ConsoleSession({ pythonMalloc: "debug" });
    s.run("p = PyObject_Malloc(78)");
    s.run('write(p, 78, "41")');
    const out = s.run("PyObject_Free(p)");
    expect(out.status).toBe("crash");
    expect(out.text).toContain("Fatal Python error: _PyMem_DebugRawFree: bad trailing pad byte");
  });

  it("refuses an unknown name and a bad line without running anything", () => {
    const s = new ConsoleSession();
    const rss = s.stack.process.status();
    expect(s.run("free(nope)")).toMatchObject({ status: "error", path: undefined });
    expect(s.run("free(nope)").text).toMatch(/name 'nope' is not defined/);
    expect(s.run("p = mallok(3)").text).toMatch(/^syntax error: column 5, at 'mallok'/);
    expect(s.stack.process.status()).toBe(rss);
  });

  it("runs calloc, realloc and the raw domain; realloc moves the name", () => {
    const s = new ConsoleSession();
    expect(s.run("c = calloc(10, 8)").status).toBe("ok");
    expect(s.run("r = PyMem_RawMalloc(100)").path).toMatchObject({ api: "active", pymalloc: "idle", malloc: "active" });
    expect(s.run("c = realloc(c, 5000)").status).toBe("ok");
    expect(s.variables.map((v) => [v.name, v.size, v.freed])).toEqual([
      ["r", 100, false],
      ["c", 5000, false],
    ]);
    expect(s.run("d = malloc(0x7fffffffffff)").text).toBe("d = NULL");
  });
});
