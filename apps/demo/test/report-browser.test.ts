/**
 * Reports of real recordings opened in Chromium (Debian's package, driven by playwright-core;
 * no browser is downloaded): no console error, no request leaves the page, the slider moves
 * every map, hovering shows the tooltip, and each picture matches its committed reference
 * screenshot within a tolerance (pixelmatch). Skipped, with the reason, when Chromium is not
 * installed and MEM_BROWSER is not set (.ci/run installs it). MEM_UPDATE_SCREENSHOTS=1
 * rewrites the references.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pixelmatch from "pixelmatch";
import { chromium, type Browser, type Page } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExplainJson } from "@mem/insight";
import { PACKED_SNAPSHOT_BOUND, packMaps, type ArenaCell, type HeapMapData, type MappingRow } from "@mem/view";
import { viewBundle } from "../src/report-command.js";
import { reportHtml } from "../src/report-html.js";
import { MAX_SNAPSHOTS } from "../src/report-replay.js";
import { built, mem } from "./cli-support.js";

const CHROMIUM = process.env.MEM_CHROMIUM ?? "/usr/lib/chromium/chromium";
const present = existsSync(CHROMIUM);
const run = built && (present || process.env.MEM_BROWSER !== undefined);
const reason = !built ? "apps/demo is not built" : `${CHROMIUM} not found (apt-get install -y chromium; .ci/run does) and MEM_BROWSER is not set`;
/** The flags of toolchain.md: headless, no sandbox (root in CI), nothing that reaches out. */
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
];
const REFERENCES = fileURLToPath(new URL("./fixtures/report-screenshots/", import.meta.url));
/** Share of differing pixels a picture may have against its reference (font hinting, anti-aliasing). */
const TOLERANCE = 0.02;

const fixture = (path: string) => fileURLToPath(new URL(`../../../packages/${path}`, import.meta.url));
/**
 * Committed real recordings: the largest CPython one, a C program's (glibc only, no pymalloc),
 * and a CPython one with stacks (`record --frames 5`) reported with `--compare`.
 */
const RECORDINGS: { name: string; path: string; python: boolean; stacks: boolean; args: string[] }[] = [
  { name: "json-roundtrip", path: fixture("small-object/test/fixtures/recordings/json-roundtrip.memtrace.gz"), python: true, stacks: false, args: [] },
  { name: "heap-workout", path: fixture("libc-malloc/test/fixtures/recordings/heap-workout.memtrace.gz"), python: false, stacks: false, args: [] },
  { name: "sources", path: fileURLToPath(new URL("./fixtures/report-stacks/sources.memtrace.gz", import.meta.url)), python: true, stacks: true, args: ["--compare", "PYTHONMALLOC=malloc"] },
];

/**
 * Where the references were drawn ("Chromium 150 on Debian 12", written with them): another
 * browser release or another system's fonts draw text differently, so the pixel comparison
 * runs only where the references were made and skips elsewhere, naming the difference.
 */
const DRAWN_ON = join(REFERENCES, "drawn-on.txt");

/** "Chromium <major> on Debian <major>" for the running browser and this system. */
function drawingHost(browserVersion: string): string {
  const debian = existsSync("/etc/debian_version") ? readFileSync("/etc/debian_version", "utf8").trim().split(".")[0] : "unknown";
  return `Chromium ${browserVersion.split(".")[0]} on Debian ${debian}`;
}

/** Why the screenshots cannot be compared here, or undefined when they can (and when rewriting them, records the host). */
function screenshotSkip(browserVersion: string): string | undefined {
  const here = drawingHost(browserVersion);
  if (process.env.MEM_UPDATE_SCREENSHOTS === "1") {
    writeFileSync(DRAWN_ON, `${here}\n`);
    return undefined;
  }
  const there = existsSync(DRAWN_ON) ? readFileSync(DRAWN_ON, "utf8").trim() : "an unknown host";
  return there === here ? undefined : `the references were drawn by ${there}, this is ${here} (MEM_UPDATE_SCREENSHOTS=1 redraws them)`;
}

/** Compares a PNG with its committed reference; writes the reference when asked to. */
function compare(name: string, png: Buffer): { differing: number; total: number } {
  const path = join(REFERENCES, `${name}.png`);
  if (process.env.MEM_UPDATE_SCREENSHOTS === "1" || !existsSync(path)) {
    if (process.env.MEM_UPDATE_SCREENSHOTS !== "1") throw new Error(`no reference screenshot ${path}: run with MEM_UPDATE_SCREENSHOTS=1`);
    writeFileSync(path, png);
  }
  const actual = PNG.sync.read(png);
  const expected = PNG.sync.read(readFileSync(path));
  if (actual.width !== expected.width || actual.height !== expected.height) {
    throw new Error(`${name}: ${actual.width}x${actual.height} against the reference's ${expected.width}x${expected.height}`);
  }
  const differing = pixelmatch(actual.data, expected.data, undefined, actual.width, actual.height, { threshold: 0.1 });
  return { differing, total: actual.width * actual.height };
}

describe.skipIf(!run)(`mem-demo report in Chromium${run ? "" : ` (skipped: ${reason})`}`, () => {
  let browser: Browser;
  let dir: string;
  const reports = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mem-demo-report-"));
    for (const r of RECORDINGS) {
      const out = join(dir, `${r.name}.html`);
      const result = mem(["report", r.path, "-o", out, ...r.args], { cwd: dir });
      if (result.status !== 0) throw new Error(`report of ${r.name} failed: ${result.stderr}`);
      reports.set(r.name, out);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a report, counting console errors and requests that are not file:// . */
  async function open(name: string): Promise<{ page: Page; errors: string[]; external: string[]; ms: number }> {
    const page = await browser.newPage({ viewport: { width: 1040, height: 900 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    const external: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.route("**", async (route) => {
      const url = route.request().url();
      if (!url.startsWith("file://")) {
        external.push(url);
        await route.abort();
      } else await route.continue();
    });
    const start = Date.now();
    await page.goto(`file://${reports.get(name)!}`);
    await page.waitForSelector("#page-svg");
    return { page, errors, external, ms: Date.now() - start };
  }

  for (const r of RECORDINGS) {
    describe(r.name, () => {
      it("opens without a console error or a request leaving the page", async () => {
        const { page, errors, external, ms } = await open(r.name);
        expect(errors).toEqual([]);
        expect(external).toEqual([]);
        console.log(`${r.name}: opened in ${ms} ms`); // printed, not asserted: speed is for benchmarks
        const peak = await page.locator("#peak-rss").getAttribute("data-bytes");
        expect(Number(peak)).toBeGreaterThan(0);
        await page.close();
      });

      it("moves every map with the slider", async () => {
        const { page, errors } = await open(r.name);
        const maps = ["#timeline", "#heap-map", "#page-map", ...(r.python ? ["#arena-map"] : [])];
        const read = () => Promise.all(maps.map((m) => page.locator(m).innerHTML()));
        const atEnd = await read();
        const eventAtEnd = await page.locator("body").getAttribute("data-event");
        await page.locator("#slider").fill("0");
        const atStart = await read();
        expect(await page.locator("body").getAttribute("data-event")).not.toBe(eventAtEnd);
        maps.forEach((m, i) => expect(atStart[i], `${m} did not change`).not.toBe(atEnd[i]));
        await page.locator("#slider").fill(String(Math.floor(Number(await page.locator("#slider").getAttribute("max")) / 2)));
        const middle = await read();
        expect(middle[1]).not.toBe(atStart[1]);
        await page.locator("#to-end").click();
        expect(await page.locator("body").getAttribute("data-event")).toBe(eventAtEnd);
        await page.locator("#to-peak").click();
        const peakEvent = Number(await page.locator("#peak-rss").getAttribute("data-event"));
        const shown = Number(await page.locator("body").getAttribute("data-event"));
        const data = JSON.parse((await page.locator("#report-data").textContent()) ?? "{}") as { snapshots: { event: number }[] };
        expect(Math.abs(shown - peakEvent)).toBe(Math.min(...data.snapshots.map((x) => Math.abs(x.event - peakEvent))));
        expect(errors).toEqual([]);
        await page.close();
      });

      it(r.stacks ? "draws the sources as icicle graphs, and the --compare configuration's RSS as a line that stays when the slider moves" : "says why there is no sources picture", async () => {
        const { page, errors } = await open(r.name);
        if (r.stacks) {
          expect(await page.locator("#sources-note").count()).toBe(0);
          for (const id of ["#flame-resident-svg", "#flame-requested-svg"]) {
            expect(await page.locator(`${id} rect.frame`).count()).toBeGreaterThan(10);
            expect(await page.locator(`${id} g.legend`).count()).toBe(1);
          }
          await page.locator('#flame-resident-svg rect.frame[data-depth="1"]').first().hover({ force: true });
          const tip = page.locator("#tooltip");
          await expect.poll(() => tip.isVisible()).toBe(true);
          expect(await tip.textContent()).toMatch(/: [\d.]+ (B|KiB|MiB) resident, [\d.]+ (B|KiB|MiB) requested in [\d,]+ live blocks/);
          expect(await page.locator('#timeline-svg path.series[data-series="PYTHONMALLOC=malloc"]').count()).toBe(1);
          await page.locator("#slider").fill("0");
          expect(await page.locator('#timeline-svg path.series[data-series="PYTHONMALLOC=malloc"]').count()).toBe(1);
          expect(await page.locator("#compare td[data-key]").count()).toBe(13 * 2);
        } else {
          expect(await page.locator("#flame-resident-svg").count()).toBe(0);
          expect(await page.locator("#sources-note").textContent()).toMatch(/^This trace has no stacks/);
          expect(await page.locator("#timeline-svg path.series").count()).toBe(0);
        }
        expect(errors).toEqual([]);
        await page.close();
      });

      if (r.stacks) {
        it("moves the sources with the slider: the flame graphs change and say which event they show", async () => {
          const { page, errors } = await open(r.name);
          const data = JSON.parse((await page.locator("#report-data").textContent()) ?? "{}") as { snapshots: { event: number }[]; flames: { snapshots: { event: number }[] } };
          const flames = data.flames.snapshots.map((s) => s.event);
          const read = () => Promise.all(["#flame-resident-graph", "#flame-requested-graph"].map((id) => page.locator(id).innerHTML()));
          const shown = async () => Number(await page.locator("#flame-event").getAttribute("data-flame-event"));
          const atEnd = await read();
          expect(await shown()).toBe(flames.at(-1));
          expect(await page.locator("#flame-event").textContent()).toMatch(/^Sources at the end \(call event [\d,]+\)\.$/);
          // the first map snapshot has a flame snapshot of its own
          await page.locator("#slider").fill("0");
          expect(await shown()).toBe(data.snapshots[0]!.event);
          expect(await page.locator("#flame-event").textContent()).toBe(`Sources at call event ${data.snapshots[0]!.event.toLocaleString("en-US")}.`);
          const atStart = await read();
          expect(atStart[0]).not.toBe(atEnd[0]);
          expect(atStart[1]).not.toBe(atEnd[1]);
          // so has the map snapshot nearest the peak
          await page.locator("#to-peak").click();
          expect(await shown()).toBe(Number(await page.locator("body").getAttribute("data-event")));
          // a map snapshot without a flame snapshot of its own: the last flame snapshot before it
          const between = data.snapshots.findIndex((s) => !flames.includes(s.event));
          expect(between).toBeGreaterThan(0);
          await page.locator("#slider").fill(String(between));
          const event = data.snapshots[between]!.event;
          const before = Math.max(...flames.filter((e) => e <= event));
          expect(await shown()).toBe(before);
          expect(await page.locator("#flame-event").textContent()).toBe(
            `Sources at call event ${before.toLocaleString("en-US")}, the last of the ${flames.length} flame snapshots at or before the slider's event ${event.toLocaleString("en-US")}.`,
          );
          expect(await page.locator('#flame-resident-svg rect.frame[data-depth="0"]').getAttribute("data-bytes")).not.toBe(atEnd[0]!.match(/data-depth="0" data-bytes="(\d+)"/)![1]);
          await page.locator("#to-end").click();
          expect(await read()).toEqual(atEnd);
          expect(errors).toEqual([]);
          await page.close();
        });
      }

      it("shows a chunk's address, size and state when hovered", async () => {
        const { page } = await open(r.name);
        await page.locator('#heap-svg rect.chunk[data-state="in-use"]').first().hover({ force: true });
        const tip = page.locator("#tooltip");
        await expect.poll(() => tip.isVisible()).toBe(true);
        expect(await tip.textContent()).toMatch(/^0x[0-9a-f]+: \d+ bytes, in use$|^0x[0-9a-f]+–0x[0-9a-f]+: \d+ chunks/);
        if (r.python) {
          await page.locator('#arena-svg rect.pool[data-state="used"]').first().hover({ force: true });
          expect(await tip.textContent()).toMatch(/^pool 0x[0-9a-f]+: 16\.0 KiB, size class \d+, \d+ of \d+ blocks in use/);
        }
        await page.locator("h1").hover();
        await expect.poll(() => tip.isVisible()).toBe(false);
        await page.close();
      });

      it("draws each picture as its committed reference screenshot does", async (ctx) => {
        const skip = screenshotSkip(browser.version());
        if (skip !== undefined) ctx.skip(skip);
        const { page } = await open(r.name);
        // the sticky slider bar would cover the top of a picture scrolled under it
        await page.addStyleTag({ content: ".controls { position: static !important; }" });
        const pictures = ["timeline-svg", "heap-svg", "page-svg", ...(r.python ? ["arena-svg"] : []), ...(r.stacks ? ["flame-resident-svg"] : [])];
        for (const id of pictures) {
          const png = await page.locator(`#${id}`).screenshot();
          const { differing, total } = compare(`${r.name}-${id.replace(/-svg$/, "")}`, png);
          expect(differing / total, `${id}: ${differing} of ${total} pixels differ`).toBeLessThanOrEqual(TOLERANCE);
        }
        await page.close();
      });
    });
  }
});

/**
 * The largest report the bounds allow, roughly: 200 snapshots of a process with 1,000 arenas,
 * 100,000 heap chunks, 2,000 mmapped chunks and 500 mappings of 5,000 runs, and a timeline
 * of 4,096 samples of 25 causes (what a 10^8-event trace thins to).
 */
function worstCaseHtml(): string {
  const arenas: ArenaCell[] = Array.from({ length: 1000 }, (_, a) => ({ base: 0x7f0000000000 + a * 2 ** 20, firstPool: 0x7f0000000000 + a * 2 ** 20, pools: Array.from({ length: 64 }, (_, i) => ({ state: "used" as const, sizeClass: 512, used: 1 + ((a + i) % 31), capacity: 31 })) }));
  const chunks = Array.from({ length: 100_000 }, (_, i) => ({ address: 0x555555559000 + i * 1024, size: 1024, state: (i % 2 === 0 ? "in-use" : "small") as "in-use" }));
  const heap: HeapMapData = { allocator: "glibc", heapStart: 0x555555559000, heapEnd: 0x555555559000 + 100_000 * 1024, chunks, mmapped: Array.from({ length: 2000 }, (_, i) => ({ address: 0x7e0000000000 + i * 2 ** 20, size: 2 ** 19 })) };
  const mappings: MappingRow[] = Array.from({ length: 500 }, (_, m) => {
    const runs: number[] = [];
    for (let i = 0; i < 5000; i++) runs.push(i % 3, 2);
    return { start: 0x7d0000000000 + m * 2 ** 30, end: 0x7d0000000000 + m * 2 ** 30 + 10_000 * 4096, name: "", runs };
  });
  const one = packMaps(0, { arenaSize: 2 ** 20, poolSize: 16384, maxSizeClass: 512, arenas }, heap, { pageSize: 4096, causes: ["glibc.in-use", "pymalloc.used-pools"], mappings });
  expect(JSON.stringify(one).length).toBeLessThanOrEqual(PACKED_SNAPSHOT_BOUND);
  const snapshots = Array.from({ length: MAX_SNAPSHOTS }, (_, i) => ({ ...one, event: (i + 1) * 500_000 }));
  const causes = Object.fromEntries(Array.from({ length: 25 }, (_, c) => [`pymalloc.cause-${c}`, 123_456_789]));
  const sample = (i: number) => ({ event: (i + 1) * 24_414, rssAnon: 25 * 123_456_789, vmRss: 0, vmSize: 0, vmHWM: 0, liveRequested: 1e9, liveUsable: 1e9, causes, pymallocArenas: 1000, pymallocPools: 64_000, libcSystem: 0, libcInUse: 0, mmappedBytes: 0, minorFaults: 0, syscalls: { brk: 0, mmap: 0, munmap: 0, madvise: 0 } });
  const timeline = Array.from({ length: 4096 }, (_, i) => sample(i));
  const end = { ...timeline[4095]!, outside: {}, liveBlocks: 1, pins: { arenas: [], keptEmptyArenas: 0, top: undefined, trim: undefined } };
  const events = Array.from({ length: 200 }, (_, i) => ({ event: i * 500_000, kind: "trim" as const, text: "glibc trimmed the top of the heap: the break moved down 1.0 MiB" }));
  return reportHtml({ trace: "worst case", configuration: "", json: { $schema: "", version: 1, every: 24_414, timeline, peak: end, end, events } as unknown as ExplainJson, paragraph: "", pins: "", snapshots }, viewBundle());
}

describe.skipIf(!run)(`a report at the size bound in Chromium${run ? "" : ` (skipped: ${reason})`}`, () => {
  // measured 0.6-0.8 s to open and 0.2-0.45 s to move on an idle 2-core machine; the limits
  // leave room for a machine shared with other jobs
  it("opens and moves its maps (the times are printed)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mem-demo-report-"));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const html = worstCaseHtml();
      expect(html.length).toBeLessThan(32 * 2 ** 20);
      writeFileSync(join(dir, "worst.html"), html);
      const page = await browser.newPage({ viewport: { width: 1040, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      const start = Date.now();
      await page.goto(`file://${join(dir, "worst.html")}`);
      await page.waitForSelector("#page-svg");
      const opened = Date.now() - start;
      await page.locator("#slider").fill("3");
      await page.waitForFunction('document.body.getAttribute("data-event") === "2000000"');
      const moved = Date.now() - start - opened;
      expect(errors).toEqual([]);
      // printed, not asserted (speed is for benchmarks; measured here: 0.6-0.8 s and 0.2-0.45 s)
      console.log(`the size-bound report opened in ${opened} ms; the slider redrew in ${moved} ms`);
      expect(await page.locator("#arena-svg").textContent()).toContain("more arenas not drawn");
    } finally {
      await browser.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
