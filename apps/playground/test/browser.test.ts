/**
 * The built site (dist/) in Chromium (Debian's package driven by playwright-core; no browser
 * is downloaded), served by a tiny static server: the walk-through steps with Next / Back and
 * the arrow keys, a console call changes the maps, a double free prints glibc's message, a
 * committed real recording dropped on the page replays with progress and ends with the
 * account of `mem-demo explain --json`, bad files get a message; no console error, and no
 * request leaves 127.0.0.1. Skipped, with the reason, when Chromium or dist/ is missing
 * (and MEM_BROWSER is not set: .ci/run sets it and installs Chromium).
 * MEM_UPDATE_SCREENSHOTS=1 writes the README's screenshots (docs/*.png).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATH_TIERS } from "../src/path.js";
import { walkthroughStates } from "../src/walk-states.js";
import { serve } from "./static-server.js";

const CHROMIUM = process.env.MEM_CHROMIUM ?? "/usr/lib/chromium/chromium";
const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const DOCS = fileURLToPath(new URL("../docs/", import.meta.url));
const at = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const CLI = at("apps/demo/dist/cli.js");
/** A committed real recording of apps/demo: CPython 3.8 building a list of strings. */
const TRACE = at("apps/demo/test/fixtures/cpython-3.8/list-of-str.memtrace.gz");
const built = existsSync(`${DIST}index.html`);
const present = existsSync(CHROMIUM);
const run = process.env.MEM_BROWSER !== undefined || (built && present);
const reason = !built ? "apps/playground/dist is not built (npm run build)" : `${CHROMIUM} not found (apt-get install -y chromium; .ci/run does) and MEM_BROWSER is not set`;
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
];
const shots = process.env.MEM_UPDATE_SCREENSHOTS === "1";

/** Saves a screenshot of the page from its top for the README (only with MEM_UPDATE_SCREENSHOTS=1). */
async function shoot(page: Page, name: string): Promise<void> {
  if (!shots) return;
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(1500); // the road's lighting animation has ended
  await page.screenshot({ path: `${DOCS}${name}.png` });
}

describe.skipIf(!run)(`the playground in Chromium${run ? "" : ` (skipped: ${reason})`}`, () => {
  let browser: Browser;
  let server: Server;
  let url: string;
  let page: Page;
  const errors: string[] = [];
  const outside: string[] = [];

  beforeAll(async () => {
    ({ server, url } = await serve(DIST));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("request", (r) => {
      const u = r.url();
      if (!u.startsWith(url) && !u.startsWith("blob:") && !u.startsWith("data:")) outside.push(u);
    });
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  const text = (selector: string) => page.locator(selector).innerText();
  const svgOf = (selector: string) => page.locator(selector).innerHTML();

  // times are printed, not asserted: speed is measured by `npm run measure -w mem-playground`,
  // and a loaded CI machine would turn a time limit into a coin toss
  it("renders the first step and steps with Next, Back and the arrow keys", async () => {
    const firstRender = Number(await page.evaluate(() => document.body.dataset.firstRenderMs));
    console.log(`first step rendered ${firstRender} ms after the navigation started`);
    expect(firstRender).toBeGreaterThan(0);
    expect(await text("#walk [data-testid=step-title]")).toMatch(/^The naive picture/);
    expect(await page.locator("#walk [data-testid=back]").isDisabled()).toBe(true);
    const arenaBefore = await svgOf("#walk [data-testid=arena-map]");
    // stepping is instant: the click handler redraws every picture synchronously
    const ms = await page.evaluate(() => {
      const t0 = performance.now();
      document.querySelector<HTMLButtonElement>("#walk [data-testid=next]")!.click();
      return performance.now() - t0;
    });
    console.log(`Next redrew the step in ${ms.toFixed(1)} ms`);
    expect(await text("#walk [data-testid=step-title]")).toBe("Python creates a Person object: PyObject_Malloc(78)");
    expect(await svgOf("#walk [data-testid=arena-map]")).not.toBe(arenaBefore);
    expect(await page.locator('#walk [data-testid=path] [data-tier=pymalloc]').getAttribute("data-state")).toBe("active");
    await shoot(page, "walkthrough");
    await page.keyboard.press("ArrowRight");
    expect(await text("#walk [data-testid=step-title]")).toBe("A second Person: PyObject_Malloc(78) again");
    await page.keyboard.press("ArrowRight");
    expect(await text("#walk [data-testid=step-title]")).toBe("A 600-byte request: PyObject_Malloc(600)");
    expect(await page.locator('#walk [data-testid=path] [data-tier=pymalloc]').getAttribute("data-state")).toBe("passed");
    await page.click("#walk [data-testid=back]");
    expect(await text("#walk [data-testid=step-title]")).toBe("A second Person: PyObject_Malloc(78) again");
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("ArrowLeft");
    expect(await text("#walk [data-testid=step-title]")).toMatch(/^The naive picture/);
  });

  it("draws every step as the walk-through's data says: title, story, calls, lit road, pictures", async () => {
    const { states } = walkthroughStates();
    for (const [i, s] of states.entries()) {
      if (i > 0) await page.click("#walk [data-testid=next]");
      expect(await text("#walk [data-testid=step-counter]")).toBe(`Step ${i + 1} of ${states.length}`);
      expect(await text("#walk [data-testid=step-title]")).toBe(s.step.title);
      expect((await text("#walk [data-testid=story]")).replace(/\s+/g, " ")).toBe(s.step.story.map((l) => l.trim()).join(" "));
      expect(await page.locator("#walk [data-testid=calls]").innerText()).toContain(s.step.calls[0]?.text ?? "no call crossed a tier boundary");
      for (const t of PATH_TIERS) expect(await page.locator(`#walk [data-testid=path] [data-tier=${t}]`).getAttribute("data-state"), `step ${i + 1}, ${t}`).toBe(s.path[t]);
      for (const id of ["arena-map", "heap-map", "page-map"]) expect(await svgOf(`#walk [data-testid=${id}]`), `step ${i + 1}, ${id}`).toMatch(/^<svg[^>]*role="img"/);
    }
    expect(await page.locator("#walk [data-testid=next]").isDisabled()).toBe(true);
    for (let i = 1; i < states.length; i++) await page.click("#walk [data-testid=back]");
  });

  it("rebuilds the walk-through when PYTHONMALLOC changes", async () => {
    await page.selectOption("[data-testid=pythonmalloc]", "malloc");
    await page.click("#walk [data-testid=next]");
    expect(await text("#walk [data-testid=arena-map]")).toMatch(/No pymalloc in this configuration/);
    await page.selectOption("[data-testid=pythonmalloc]", "default");
    await page.click("#walk [data-testid=back]");
  });

  it("runs console calls: the maps change, a double free prints glibc's message, a bad line names its token", async () => {
    await page.click("[data-testid=tab-console]");
    const input = page.locator("[data-testid=console-input]");
    const heapBefore = await svgOf("#console [data-testid=heap-map]");
    const arenaBefore = await svgOf("#console [data-testid=arena-map]");
    await input.fill("p = PyObject_Malloc(78)");
    await input.press("Enter");
    expect(await svgOf("#console [data-testid=arena-map]")).not.toBe(arenaBefore);
    expect(await text("#console [data-testid=ram-facts]")).toMatch(/^virtual 0x7f[0-9a-f]+ → page 0x7f[0-9a-f]+ → physical 0x[0-9a-f]+ \(frame \d+\)$/);
    await input.fill("q = malloc(600)");
    await input.press("Enter");
    expect(await svgOf("#console [data-testid=heap-map]")).not.toBe(heapBefore);
    await input.fill("free(q)");
    await input.press("Enter");
    await input.fill("free(q)");
    await input.press("Enter");
    const last = page.locator("#console [data-testid=console-log] .entry").last();
    expect(await last.getAttribute("data-status")).toBe("crash");
    expect((await last.locator(".stderr").innerText()).split("\n").slice(0, 2)).toEqual(["free(): double free detected in tcache 2", "Aborted (core dumped)"]);
    await input.fill("r = mallok(3)");
    await input.press("Enter");
    expect(await page.locator("#console [data-testid=console-log] .entry").last().innerText()).toContain("syntax error: column 5, at 'mallok'");
    await shoot(page, "console");
  });

  it("replays a dropped real recording with progress; its end is explain --json's", async () => {
    await page.click("[data-testid=tab-trace]");
    const bytes = readFileSync(TRACE).toString("base64");
    // watch the progress line while the worker runs
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      const el = document.querySelector("[data-testid=trace-progress]")!;
      new MutationObserver(() => seen.push(el.textContent ?? "")).observe(el, { childList: true, characterData: true, subtree: true });
    });
    const started = Date.now();
    await page.evaluate((b64) => {
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([data], "list-of-str.memtrace.gz"));
      document.querySelector("[data-testid=trace-drop]")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForSelector("[data-testid=trace-at]:has-text('Snapshot')", { timeout: 60_000 });
    console.log(`list-of-str.memtrace.gz replayed in the page in ${Date.now() - started} ms`);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    expect(seen.some((s) => /^Replaying list-of-str\.memtrace\.gz: .* of .* lines · .* events$/.test(s))).toBe(true);
    const cli = spawnSync(process.execPath, [CLI, "explain", "--json", TRACE], { encoding: "utf8", timeout: 120_000 });
    expect(cli.status, cli.stderr).toBe(0);
    const json = JSON.parse(cli.stdout) as { end: { event: number; rssAnon: number } };
    const atText = await text("[data-testid=trace-at]");
    expect(atText).toContain(`after call event ${json.end.event.toLocaleString("en-US")};`);
    expect(atText).toContain(`RssAnon ${json.end.rssAnon.toLocaleString("en-US")} bytes`);
    expect(await svgOf("#trace [data-testid=timeline]")).toMatch(/^<svg/);
    await shoot(page, "trace");
    // jump to an event between two snapshots: the worker replays to exactly there, the account is explain --at's
    const heapEnd = await svgOf("#trace [data-testid=heap-map]");
    await page.fill("[data-testid=trace-jump]", "1234");
    await page.press("[data-testid=trace-jump]", "Enter");
    await page.waitForSelector("[data-testid=trace-at]:has-text('Exactly')", { timeout: 60_000 });
    const cliAt = spawnSync(process.execPath, [CLI, "explain", "--json", "--at", "1234", TRACE], { encoding: "utf8", timeout: 120_000 });
    const jsonAt = JSON.parse(cliAt.stdout) as { at: { rssAnon: number; liveBlocks: number } };
    expect(await text("[data-testid=trace-at]")).toBe(`Exactly: after call event 1,234; RssAnon ${jsonAt.at.rssAnon.toLocaleString("en-US")} bytes, ${jsonAt.at.liveBlocks.toLocaleString("en-US")} live blocks`);
    expect(await svgOf("#trace [data-testid=heap-map]")).not.toBe(heapEnd);
    // the slider and the arrow keys step through the snapshots
    await page.click("[data-testid=trace-first]");
    expect(await text("[data-testid=trace-at]")).toMatch(/^Snapshot 1 of \d+: after call event 0;/);
    await page.click("[data-testid=trace-next]");
    expect(await text("[data-testid=trace-at]")).toMatch(/^Snapshot 2 of /);
    // play at 10 snapshots a second, then pause
    await page.selectOption("[data-testid=trace-speed]", "10");
    await page.click("[data-testid=trace-play]");
    await page.waitForFunction(() => Number(/^Snapshot (\d+)/.exec(document.querySelector("[data-testid=trace-at]")?.textContent ?? "")?.[1] ?? 0) >= 4);
    await page.click("[data-testid=trace-play]");
    expect(await page.locator("[data-testid=trace-play]").getAttribute("aria-pressed")).toBe("false");
    const paused = await text("[data-testid=trace-at]");
    await page.waitForTimeout(200);
    expect(await text("[data-testid=trace-at]")).toBe(paused);
    await page.click("[data-testid=trace-last]");
  }, 120_000);

  it("says why a file that is not a trace and a truncated .gz are refused, keeping the trace shown", async () => {
    const before = await text("[data-testid=trace-at]");
    const drop = async (name: string, data: number[]) => {
      await page.evaluate(
        ([n, d]) => {
          const dt = new DataTransfer();
          dt.items.add(new File([new Uint8Array(d)], n));
          document.querySelector("[data-testid=trace-drop]")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
        },
        [name, data] as const,
      );
      await page.waitForSelector("[data-testid=trace-error]:not([hidden])");
      return text("[data-testid=trace-error]");
    };
    expect(await drop("notes.txt", [...Buffer.from("hello world\n")])).toBe("notes.txt: not a memtrace file: line 1 is 'hello world', expected '# memtrace v1'");
    const truncated = [...readFileSync(TRACE).subarray(0, 5000)];
    await page.evaluate(() => document.querySelector("[data-testid=trace-error]")!.setAttribute("hidden", ""));
    expect(await drop("cut.memtrace.gz", truncated)).toMatch(/^cut\.memtrace\.gz: corrupt or truncated gzip data \(.*\) after 5,000 of 5,000 bytes \([\d,]+ lines read\)$/);
    expect(await text("[data-testid=trace-at]")).toBe(before);
  });

  it("works from a subfolder of a static host (relative base)", async () => {
    const { server: parent, url: root } = await serve(fileURLToPath(new URL("../", import.meta.url)));
    try {
      const other = await browser.newPage();
      const failed: string[] = [];
      other.on("response", (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await other.goto(`${root}dist/index.html`);
      await other.waitForSelector("body[data-ready=true]");
      expect(await other.locator("#walk [data-testid=step-title]").innerText()).toMatch(/^The naive picture/);
      expect(failed).toEqual([]);
      await other.close();
    } finally {
      await new Promise((resolve) => parent.close(resolve));
    }
  });

  it("had no console error and sent no request outside the site", () => {
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
  });
});
