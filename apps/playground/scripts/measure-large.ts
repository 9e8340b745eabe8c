/**
 * Measures a large trace end to end: writes a synthetic C-program trace of N call events
 * (default 1,000,000: malloc of 16..4096 bytes and frees, at most 20,000 blocks live) to a
 * temporary folder, times `mem-demo replay` and `mem-demo explain --json` on it, then opens
 * the built site in Chromium, chooses the file and times the page until the replay has reached
 * the end, checking that the page stays responsive (the longest gap of a 50 ms timer while the
 * worker runs). Prints the figures; removes the folder.
 * Usage: node --import tsx scripts/measure-large.ts [events]   (after `npm run build`)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { serve } from "../test/static-server.js";

const events = Number(process.argv[2] ?? 1_000_000);
const CHROMIUM = process.env.MEM_CHROMIUM ?? "/usr/lib/chromium/chromium";
const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const CLI = fileURLToPath(new URL("../../demo/dist/cli.js", import.meta.url));

/** A deterministic pseudo-random trace: xorshift32. */
export function syntheticTrace(n: number): string {
  let x = 2463534242;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const lines = ["# memtrace v1", "# synthetic: malloc/free of a C program (apps/playground/scripts/measure-large.ts)"];
  const live: number[] = [];
  let next = 0x5555_5555_9000;
  for (let i = 0; i < n; i++) {
    if (live.length > 0 && (live.length >= 20000 || rand() < 0.48)) {
      const k = Math.floor(rand() * live.length);
      const p = live[k]!;
      live[k] = live[live.length - 1]!;
      live.pop();
      lines.push(`f libc 0x${p.toString(16)}`);
    } else {
      const size = 16 + Math.floor(rand() * rand() * 4080);
      lines.push(`m libc ${size} 0x${next.toString(16)}`);
      live.push(next);
      next += 0x1000;
    }
  }
  return lines.join("\n") + "\n";
}

const dir = mkdtempSync(join(tmpdir(), "mem-playground-measure-"));
try {
  const trace = join(dir, `synthetic-${events}.memtrace.gz`);
  writeFileSync(trace, gzipSync(syntheticTrace(events)));
  console.log(`trace: ${events.toLocaleString("en-US")} call events, ${(statSync(trace).size / 1e6).toFixed(1)} MB gzipped`);
  for (const command of [["replay"], ["explain", "--json"]]) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, ...command, trace], { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`mem-demo ${command.join(" ")} failed: ${r.stderr}`);
    console.log(`mem-demo ${command.join(" ")}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const { server, url } = await serve(DIST);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}#trace`);
    await page.waitForSelector("body[data-ready=true]");
    await page.evaluate(() => {
      const w = window as unknown as { maxGap: number; gaps: string[]; doneAt: number };
      w.maxGap = 0;
      w.gaps = [];
      let last = performance.now();
      setInterval(() => {
        const now = performance.now();
        if (w.doneAt === undefined) w.maxGap = Math.max(w.maxGap, now - last);
        if (now - last > 200) w.gaps.push(`${(now - last).toFixed(0)} ms gap ending at ${(now / 1000).toFixed(1)} s`);
        last = now;
      }, 50);
      const at = document.querySelector("[data-testid=trace-at]")!;
      new MutationObserver(() => (w.doneAt ??= performance.now())).observe(at, { childList: true, subtree: true, characterData: true });
    });
    const t0 = performance.now();
    await page.setInputFiles("[data-testid=trace-input]", trace);
    await page.waitForSelector("[data-testid=trace-at]:has-text('Snapshot')", { timeout: 15 * 60_000 });
    const seconds = (performance.now() - t0) / 1000;
    await page.waitForTimeout(500);
    const { maxGap, gaps, doneAt } = await page.evaluate(() => {
      const w = window as unknown as { maxGap: number; gaps: string[]; doneAt: number };
      return { maxGap: w.maxGap, gaps: w.gaps, doneAt: w.doneAt };
    });
    console.log(`the page: replayed to the end in ${seconds.toFixed(1)} s; the longest gap of a 50 ms timer while the worker ran ${maxGap.toFixed(0)} ms`);
    console.log(`the end was drawn at ${(doneAt / 1000).toFixed(1)} s; gaps over 200 ms: ${gaps.join("; ") || "none"}`);
    console.log(await page.locator("[data-testid=trace-progress]").innerText());
  } finally {
    await browser.close();
    server.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
