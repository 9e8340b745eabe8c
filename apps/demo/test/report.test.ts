import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { leastCalls } from "../src/report-replay.js";
import { built, cleanTempDirs, mem, tempDir } from "./cli-support.js";

cleanTempDirs();
const recording = (name: string) => fileURLToPath(new URL(`../../../packages/small-object/test/fixtures/recordings/${name}`, import.meta.url));

describe.skipIf(!built)("mem-demo report", () => {
  it("writes <trace>.html beside the trace without -o and prints its path; the page needs no network", () => {
    const dir = tempDir();
    copyFileSync(recording("startup.memtrace.gz"), join(dir, "startup.memtrace.gz"));
    const r = mem(["report", "startup.memtrace.gz"], { cwd: dir });
    expect(r.stderr).toBe("mem-demo report: from the trace header: CPython 3.11\n");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("startup.html\n");
    const html = readFileSync(join(dir, "startup.html"), "utf8");
    expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:|\/\/)/i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
  });

  it.each([
    ["startup.memtrace.gz (CPython)", recording("startup.memtrace.gz"), []],
    ["heap-workout.memtrace.gz (C), --every 50", fileURLToPath(new URL("../../../packages/libc-malloc/test/fixtures/recordings/heap-workout.memtrace.gz", import.meta.url)), ["--every", "50"]],
  ])("shows explain --json's figures: peak RSS, RSS at the end and every cause at the end: %s", (_name, trace, every) => {
    const dir = tempDir();
    const r = mem(["report", trace, "-o", "r.html", ...every], { cwd: dir });
    expect(r.status).toBe(0);
    const json = JSON.parse(mem(["explain", trace, "--json", ...every], { cwd: dir }).stdout) as { peak: { rssAnon: number; event: number }; end: { rssAnon: number; causes: Record<string, number> } };
    const html = readFileSync(join(dir, "r.html"), "utf8");
    expect(html).toContain(`id="peak-rss" data-bytes="${json.peak.rssAnon}" data-event="${json.peak.event}"`);
    expect(html).toContain(`id="end-rss" data-bytes="${json.end.rssAnon}"`);
    const end = /<table id="causes-end">(.*?)<\/table>/s.exec(html)![1]!;
    const causes = Object.fromEntries([...end.matchAll(/data-cause="([^"]+)" data-bytes="(\d+)"/g)].map((m) => [m[1], Number(m[2])]));
    expect(causes).toEqual(json.end.causes);
  });

  it("does not replace an existing file without --force, and does with it", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "r.html"), "mine");
    const r = mem(["report", recording("startup.memtrace.gz"), "-o", "r.html"], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("mem-demo report: r.html exists: pass --force to replace it\n");
    expect(readFileSync(join(dir, "r.html"), "utf8")).toBe("mine");
    const f = mem(["report", recording("startup.memtrace.gz"), "-o", "r.html", "--force"], { cwd: dir });
    expect(f.status).toBe(0);
    expect(readFileSync(join(dir, "r.html"), "utf8")).toMatch(/^<!doctype html>/);
  });

  it("says in one line that an -o it cannot write is unwritable", () => {
    const dir = tempDir();
    const r = mem(["report", recording("startup.memtrace.gz"), "-o", "no/such/dir/r.html"], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("mem-demo report: cannot write no/such/dir/r.html: ENOENT (no such directory: no/such/dir)\n");
  });

  it("writes the report of a trace that fails part way, saying where and why at its top", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.memtrace"), "# memtrace v1\nm obj 40 0x7f0000001000\nm obj 40 0x7f0000001030\nf obj 0x7f0000001000\nf obj 0x7f0000001000\nm obj 40 0x7f0000001060\n");
    const r = mem(["report", "bad.memtrace"], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("bad.html\n");
    expect(r.stderr).toMatch(/^mem-demo report: bad\.memtrace: the replay stopped at line 5, after 3 call events: PymallocError: small-object: free\(0x[0-9a-f]+\): double-free: .*\(the report shows everything up to there\)\n$/);
    const html = readFileSync(join(dir, "bad.html"), "utf8");
    const banner = /<body>\s*<div class="stopped" id="stopped" role="alert">The replay stopped at line 5, after 3 call events: ([^<]+)\. Everything below is up to that point\.<\/div>/.exec(html);
    expect(banner).not.toBeNull();
    expect(html).toContain('id="events">3<');
  });

  it("needs -o for standard input", () => {
    const dir = tempDir();
    const r = mem(["report", "-"], { cwd: dir, input: "# memtrace v1\n" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("mem-demo report: a report of standard input needs -o <file>\n");
    expect(existsSync(join(dir, "-.html"))).toBe(false);
  });
});

describe("leastCalls", () => {
  it("is the uncompressed size (from the gzip trailer) over the longest line, and never above the real count", () => {
    const trace = recording("startup.memtrace.gz");
    const text = gunzipSync(readFileSync(trace)).toString("utf8");
    expect(leastCalls(trace)).toBe(Math.floor(text.length / 56));
    const calls = text.split("\n").filter((l) => /^[mcrfa] /.test(l)).length;
    expect(leastCalls(trace)).toBeLessThanOrEqual(calls);
    expect(leastCalls("-")).toBe(0);
  });
});

describe.skipIf(!built)("mem-demo explain's arena map", () => {
  it("ends the report with the arena map, in plain ASCII when piped", () => {
    const dir = tempDir();
    const r = mem(["explain", recording("arena-release.memtrace.gz")], { cwd: dir });
    expect(r.status).toBe(0);
    const map = r.stdout.slice(r.stdout.indexOf("\nArena map at the end\n"));
    expect(map).toMatch(/^\nArena map at the end\n(\*| ) 0x[0-9a-f]+ \|[ .:\-=+*#@o?]+\|/);
    expect(/^[\x20-\x7e\n]*$/.test(map)).toBe(true);
    expect(map).toMatch(/one character a pool of 16\.0 KiB/);
  });
});
