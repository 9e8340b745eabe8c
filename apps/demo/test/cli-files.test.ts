/**
 * The mem-demo command never destroys or silently replaces a user's file (replay, and the
 * command line itself): the built CLI is run in a temporary folder of its own.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { BIN, built, cleanTempDirs, finished, mem, memAsync, tempDir, until } from "./cli-support.js";

cleanTempDirs();

const TRACE = "# memtrace v1\nm libc 100 0x5000\nm libc 200 0x5070\nf libc 0x5000\n";

/** `n` malloc/free pairs of distinct pointers. */
function events(n: number, from = 0): string {
  let s = "";
  for (let i = from; i < from + n; i++) s += `m libc 48 0x${(0x10000 + i * 0x40).toString(16)}\nf libc 0x${(0x10000 + i * 0x40).toString(16)}\n`;
  return s;
}

const lastLine = (text: string) => text.trimEnd().split("\n").at(-1);

describe.skipIf(!built)("mem-demo replay --out: the user's files are safe", () => {
  it("refuses an output that is the input, also through a symbolic or a hard link, and leaves the input intact", () => {
    const dir = tempDir();
    const input = join(dir, "t.memtrace");
    writeFileSync(input, TRACE);
    symlinkSync(input, join(dir, "sym.memtrace"));
    linkSync(input, join(dir, "hard.memtrace"));
    for (const out of ["t.memtrace", "./t.memtrace", "sym.memtrace", "hard.memtrace"]) {
      for (const force of [[], ["--force"]]) {
        const r = mem(["replay", "t.memtrace", "--stats", "libc", "--out", out, ...force], { cwd: dir });
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`mem-demo replay: will not write ${out}: it is the same file as the trace being read (t.memtrace)\n`);
      }
    }
    expect(readFileSync(input, "utf8")).toBe(TRACE);
    expect(readdirSync(dir).sort()).toEqual(["hard.memtrace", "sym.memtrace", "t.memtrace"]);
  }, 60_000);

  it("never overwrites an existing output without --force, and replaces it with --force", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "t.memtrace"), TRACE);
    writeFileSync(join(dir, "out.memtrace"), "precious\n");
    const refused = mem(["replay", "t.memtrace", "--stats", "libc", "--out", "out.memtrace"], { cwd: dir });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe("mem-demo replay: out.memtrace exists: pass --force to replace it\n");
    expect(readFileSync(join(dir, "out.memtrace"), "utf8")).toBe("precious\n");
    const forced = mem(["replay", "t.memtrace", "--stats", "libc", "--out", "out.memtrace", "--force"], { cwd: dir });
    expect(forced.status).toBe(0);
    expect(readFileSync(join(dir, "out.memtrace"), "utf8")).toMatch(/^# memtrace v1\n[^]*f libc 0x5555555592a0\n$/);
    expect(readdirSync(dir).sort()).toEqual(["out.memtrace", "t.memtrace"]);
  }, 60_000);

  it("says in one line that it cannot write to an unwritable place (exit status 1)", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "t.memtrace"), TRACE);
    const missing = mem(["replay", "t.memtrace", "--out", "/nonexistent/dir/x.memtrace"], { cwd: dir });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("mem-demo replay: cannot write /nonexistent/dir/x.memtrace: ENOENT (no such directory: /nonexistent/dir)\n");
    const ro = join(dir, "ro");
    execFileSync("mkdir", [ro]);
    chmodSync(ro, 0o555);
    const isRoot = process.getuid?.() === 0;
    const denied = mem(["replay", "t.memtrace", "--out", "ro/x.memtrace"], { cwd: dir });
    chmodSync(ro, 0o755);
    if (!isRoot) {
      expect(denied.status).toBe(1);
      expect(denied.stderr).toBe("mem-demo replay: cannot write ro/x.memtrace: EACCES (permission denied)\n");
    }
    const notDir = mem(["replay", "t.memtrace", "--out", "t.memtrace/x"], { cwd: dir });
    expect(notDir.status).toBe(1);
    expect(notDir.stderr).toBe("mem-demo replay: cannot write t.memtrace/x: ENOTDIR (t.memtrace is not a directory)\n");
    expect(notDir.stderr).not.toContain("Unhandled");
  }, 60_000);

  it("writes gzip to a .gz output and the trace to standard output for --out - (the statistics then go to standard error)", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "t.memtrace"), TRACE);
    const gz = mem(["replay", "t.memtrace", "--stats", "libc", "--out", "x.gz"], { cwd: dir });
    expect(gz.status).toBe(0);
    const bytes = readFileSync(join(dir, "x.gz"));
    expect([...bytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(bytes).toString("utf8")).toMatch(/^# memtrace v1\n[^]*f libc 0x5555555592a0\n$/);
    const toStdout = mem(["replay", "t.memtrace", "--stats", "libc", "--out", "-"], { cwd: dir });
    expect(toStdout.status).toBe(0);
    expect(toStdout.stdout).toMatch(/^# memtrace v1\n[^]*f libc 0x5555555592a0\n$/);
    expect(toStdout.stderr).toMatch(/^Arena 0:\nsystem bytes/m);
    expect(readdirSync(dir).sort()).toEqual(["t.memtrace", "x.gz"]);
    // a long one: back-pressure from gzip, without a listener leak warning
    writeFileSync(join(dir, "long.memtrace"), "# memtrace v1\n" + events(100_000));
    const long = mem(["replay", "long.memtrace", "--stats", "libc", "--out", "long.gz"], { cwd: dir });
    expect(long.status).toBe(0);
    expect(long.stderr).not.toContain("Warning");
    expect(gunzipSync(readFileSync(join(dir, "long.gz"))).toString("utf8").split("\n").filter((l) => l.startsWith("m libc"))).toHaveLength(100_000);
  }, 60_000);

  it("names a missing or unreadable input in one line", () => {
    const dir = tempDir();
    const missing = mem(["replay", "nonexistent.memtrace"], { cwd: dir });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe("mem-demo replay: nonexistent.memtrace: ENOENT (no such file or directory)\n");
    const folder = mem(["replay", "."], { cwd: dir });
    expect(folder.status).toBe(1);
    expect(folder.stderr).toMatch(/^mem-demo replay: \.: EISDIR \([^)]+\)/);
    expect(folder.stderr.split("\n")).toHaveLength(2);
  }, 60_000);

  it("stops reading /dev/zero at the line bound, quickly and in little memory", () => {
    const dir = tempDir();
    const t0 = Date.now();
    const r = mem(["replay", "/dev/zero"], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "mem-demo replay: /dev/zero: memtrace: line 1: line longer than 1048576 characters (the limit of a trace line; is this a memtrace file?)\n",
    );
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 60_000);

  it("names a corrupt .gz and how far it got", () => {
    const dir = tempDir();
    const good = gzipSync(Buffer.from("# memtrace v1\n" + events(20_000)));
    // cut short, as by an interrupted download or copy
    writeFileSync(join(dir, "bad.memtrace.gz"), good.subarray(0, 60_000));
    const r = mem(["replay", "bad.memtrace.gz", "--stats", "libc"], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^mem-demo replay: bad\.memtrace\.gz: corrupt gzip data \([^)]+\) after [\d,]+ of [\d,]+ compressed bytes \([\d,]+ lines read\)\n$/,
    );
    writeFileSync(join(dir, "plain.gz"), TRACE);
    const notGz = mem(["replay", "plain.gz"], { cwd: dir });
    expect(notGz.status).toBe(1);
    expect(notGz.stderr).toMatch(/^mem-demo replay: plain\.gz: corrupt gzip data \(incorrect header check\) after \d+ of \d+ compressed bytes \(0 lines read\)\n$/);
  }, 60_000);

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`leaves a partial output saying so when ${signal} interrupts a replay`, async () => {
      const dir = tempDir();
      const child = memAsync(["replay", "-", "--stats", "libc", "--out", "out.memtrace"], { cwd: dir });
      const done = finished(child);
      child.stdin.write("# memtrace v1\n" + events(6000));
      // the replay has written its first lines to a temporary file beside out.memtrace
      await until(() => readdirSync(dir).some((f) => f.endsWith(".tmp") && statSync(join(dir, f)).size > 0));
      child.kill(signal);
      const r = await done;
      expect(r.status).toBe(signal === "SIGINT" ? 130 : 143);
      expect(r.stderr).toContain(`mem-demo replay: interrupted by ${signal}; the partial replayed trace is in out.memtrace`);
      const text = readFileSync(join(dir, "out.memtrace"), "utf8");
      // stdin arrives in pipe-sized chunks: the signal may come before the last of them was
      // replayed, so the count is whatever was replayed, and the file holds exactly those events
      const partial = /^# partial: interrupted by (\w+) after (\d+) events$/.exec(lastLine(text) ?? "");
      expect(partial?.[1]).toBe(signal);
      const replayed = Number(partial?.[2]);
      expect(replayed).toBeGreaterThan(0);
      expect(replayed).toBeLessThanOrEqual(12000);
      expect(text.split("\n").filter((l) => l.startsWith("m ") || l.startsWith("f "))).toHaveLength(replayed);
      expect(readdirSync(dir)).toEqual(["out.memtrace"]);
    }, 60_000);
  }

  it("leaves a partial output saying why when the replay stops at a fault, and keeps an existing file under --force", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "t.memtrace"), "# memtrace v1\nm libc 24 0x10\nf libc 0x10\nf libc 0x10\n");
    const r = mem(["replay", "t.memtrace", "--out", "out.memtrace.gz"], { cwd: dir });
    expect(r.status).toBe(1);
    const text = gunzipSync(readFileSync(join(dir, "out.memtrace.gz"))).toString("utf8");
    expect(lastLine(text)).toBe("# partial: stopped at line 4 (MallocAbort: free(): double free detected in tcache 2) after 2 events");
    writeFileSync(join(dir, "keep.memtrace"), "precious\n");
    const forced = mem(["replay", "t.memtrace", "--out", "keep.memtrace", "--force"], { cwd: dir });
    expect(forced.status).toBe(1);
    expect(forced.stderr).toContain("keep.memtrace is left as it was");
    expect(readFileSync(join(dir, "keep.memtrace"), "utf8")).toBe("precious\n");
    expect(readdirSync(dir).sort()).toEqual(["keep.memtrace", "out.memtrace.gz", "t.memtrace"]);
  }, 60_000);
});

describe.skipIf(!built)("mem-demo: version, help, unknown commands", () => {
  const version = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

  it("--version prints the package's version", () => {
    const dir = tempDir();
    const r = mem(["--version"], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it("help [command] prints the help of the command", () => {
    const dir = tempDir();
    const r = mem(["help", "replay"], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: mem-demo replay \[options\] <trace>/);
    expect(r.stdout).toContain("--force");
    const rec = mem(["help", "record"], { cwd: dir });
    expect(rec.stdout).toContain("Which recorder runs");
    expect(mem(["help"], { cwd: dir }).stdout).toMatch(/^Usage: mem-demo \[options\] \[command\]/);
  });

  it("says 'unknown command' for a mistyped command (exit status 2) and suggests the right one", () => {
    const dir = tempDir();
    const r = mem(["replya", "x"], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown command 'replya'\n\(Did you mean replay\?\)/);
    expect(r.stdout).toBe("");
    const option = mem(["replay", "--bogus", "x"], { cwd: dir });
    expect(option.status).toBe(2);
  });

  it("the bin script runs the built command", () => {
    const dir = tempDir();
    expect(execFileSync(process.execPath, [BIN, "--version"], { cwd: dir, encoding: "utf8" })).toBe(`${version}\n`);
  });
});
