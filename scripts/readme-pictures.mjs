#!/usr/bin/env node
/**
 * Regenerates the pictures the READMEs show (packages/view/docs/*.png) from the current code:
 * writes `mem-demo report` of three committed real recordings (json-roundtrip, the largest
 * CPython one; heap-workout, a C program's; sources, one with stacks, with --compare) into a temporary folder, opens them in Debian's
 * Chromium (playwright-core, no download) and screenshots each picture at the end of the
 * replay. Prints the figures the view README quotes: the report's size, its replay time and
 * its open time, and the shapes each picture draws. Needs the packages and apps/demo built.
 * Usage: node scripts/readme-pictures.mjs
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "..");
const cli = join(root, "apps/demo/dist/cli.js");
const out = join(root, "packages/view/docs");
const chromiumPath = process.env.MEM_CHROMIUM ?? "/usr/lib/chromium/chromium";
const recordings = [
  { name: "json-roundtrip", path: "packages/small-object/test/fixtures/recordings/json-roundtrip.memtrace.gz", pictures: ["timeline", "arena", "heap", "page"] },
  { name: "heap-workout", path: "packages/libc-malloc/test/fixtures/recordings/heap-workout.memtrace.gz", pictures: ["heap"] },
  // a recording with stacks (record --frames 5), reported with one what-if configuration
  { name: "sources", path: "apps/demo/test/fixtures/report-stacks/sources.memtrace.gz", pictures: ["flame-resident", "timeline"], args: ["--compare", "PYTHONMALLOC=malloc"] },
];

const dir = mkdtempSync(join(tmpdir(), "mem-readme-pictures-"));
const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
try {
  for (const r of recordings) {
    const html = join(dir, `${r.name}.html`);
    const t0 = performance.now();
    execFileSync(process.execPath, [cli, "report", join(root, r.path), "-o", html, ...(r.args ?? [])], { stdio: ["ignore", "ignore", "inherit"] });
    const replayMs = performance.now() - t0;
    const page = await browser.newPage({ viewport: { width: 1040, height: 900 }, deviceScaleFactor: 1 });
    const t1 = performance.now();
    await page.goto(`file://${html}`);
    await page.waitForSelector("#page-svg");
    const openMs = performance.now() - t1;
    // the sticky slider bar would cover the top of a picture scrolled under it
    await page.addStyleTag({ content: ".controls { position: static !important; }" });
    const shapes = await page.evaluate(() =>
      Object.fromEntries([...document.querySelectorAll("svg.mem-view")].map((s) => [s.id, s.querySelectorAll("rect, path, circle, line").length])),
    );
    console.log(`${r.name}: report ${statSync(html).size.toLocaleString("en-US")} bytes, written in ${(replayMs / 1000).toFixed(1)} s, opened in ${Math.round(openMs)} ms; shapes ${JSON.stringify(shapes)}`);
    for (const p of r.pictures) {
      const file = join(out, `${r.name}-${p}.png`);
      await page.locator(`#${p}-svg`).screenshot({ path: file });
      console.log(`  ${file.slice(root.length + 1)}`);
    }
    await page.close();
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
