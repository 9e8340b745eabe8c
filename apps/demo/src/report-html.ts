/**
 * The report page of `mem-demo report`: one self-contained HTML file. Styles, the renderers
 * (`@mem/view`'s browser bundle, global `MemView`), the page's script and the data are all
 * inline, and a Content-Security-Policy of `default-src 'none'` forbids the page any network
 * access at all.
 *
 *   ┌ stopped banner (a trace that failed part way: where and why)
 *   ├ figures (peak RSS, RSS and live bytes at the end) · the explain paragraph
 *   ├ timeline (cursor at the slider's event) · slider over the map snapshots
 *   ├ arena map · heap map · page map (redrawn from the snapshot the slider picks)
 *   ├ sources: icicle graphs of resident and live requested bytes by traceback (a trace with
 *   │ stacks; else a note), at most 2,000 frames each, drawn in the page from the flame
 *   │ snapshot at or before the slider's event (its event said above them)
 *   ├ what if (--compare): compare's table; each configuration's RSS a line on the timeline
 *   └ tables: causes at the end and at the peak, pins, policy events
 */
import { mib, type ExplainJson } from "@mem/insight";
import { downsample, type PackedMaps } from "@mem/view";
import { compareTableHtml, type ReportComparison } from "./report-compare.js";
import { FLAME_NODE_BUDGET, type ReportSources } from "./report-sources.js";

/** The most timeline samples a report carries (the picture draws at most 800). */
export const MAX_TIMELINE_SAMPLES = 1000;

/** What the page shows. */
export interface ReportPage {
  /** The trace's name as given. */
  readonly trace: string;
  /** One line on the configuration (PYTHONMALLOC, libc, pymalloc version). */
  readonly configuration: string;
  /** `explain --json`'s object. */
  readonly json: ExplainJson;
  /** The plain-language paragraph. */
  readonly paragraph: string;
  /** The pins at the end, as text. */
  readonly pins: string;
  /** Map snapshots. */
  readonly snapshots: readonly PackedMaps[];
  /** Where and why the replay stopped, when it did. */
  readonly stopped?: string;
  /** The sources picture, or why there is none (absent: the section is left out). */
  readonly sources?: ReportSources;
  /** `--compare`: the what-if table and the configurations' RSS lines. */
  readonly compare?: ReportComparison;
}

/** Escapes text for HTML. */
function h(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** JSON safe inside a `<script>` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function causesTable(id: string, causes: Readonly<Record<string, number>>, rssAnon: number): string {
  const rows = Object.entries(causes)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `<tr data-cause="${h(c)}" data-bytes="${n}"><td>${h(c)}</td><td class="n">${n.toLocaleString("en-US")}</td><td class="n">${h(mib(n))}</td><td class="n">${((100 * n) / Math.max(1, rssAnon)).toFixed(1)}%</td></tr>`)
    .join("");
  return `<table id="${id}"><thead><tr><th>cause</th><th>bytes</th><th></th><th>share</th></tr></thead><tbody>${rows}</tbody><tfoot><tr><td>= RssAnon</td><td class="n">${rssAnon.toLocaleString("en-US")}</td><td class="n">${h(mib(rssAnon))}</td><td></td></tr></tfoot></table>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:12px 16px;color:#111;background:#fff}
h1{font-size:20px;margin:8px 0}h2{font-size:16px;margin:20px 0 6px}
.stopped{border:2px solid #D55E00;background:#FFF3E8;padding:8px 12px;margin:8px 0;font-weight:600}
dl.figures{display:flex;gap:28px;margin:8px 0}dl.figures div{display:flex;flex-direction:column}dt{color:#555;font-size:12px}dd{margin:0;font-size:18px;font-weight:600}
.controls{position:sticky;top:0;background:#fff;padding:6px 0;z-index:2;border-bottom:1px solid #ddd;display:flex;gap:12px;align-items:center}
.controls input{flex:1}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}
#tooltip{position:fixed;pointer-events:none;background:#111;color:#fff;padding:4px 8px;border-radius:3px;font-size:12px;max-width:520px;display:none;z-index:5}
figure{margin:10px 0}figcaption{color:#555;font-size:12px}
#flame-event{margin:0;line-height:20px}/* whole pixels: the pictures under it stay on whole pixels */
`;

/** The page's own script (runs after the MemView bundle). */
const SCRIPT = `
(function () {
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var slider = document.getElementById("slider");
  var label = document.getElementById("slider-event");
  function draw(i) {
    var s = MemView.unpackMaps(D.snapshots[i]);
    label.textContent = "call event " + s.event.toLocaleString("en-US") + " (snapshot " + (i + 1) + " of " + D.snapshots.length + ")";
    document.getElementById("timeline").innerHTML = MemView.renderTimeline(D.timeline, { id: "timeline-svg", cursor: s.event, series: D.series });
    document.getElementById("arena-map").innerHTML = s.arenas ? MemView.renderArenaMap(s.arenas, { id: "arena-svg" }) : "<p>No pymalloc arena in this configuration.</p>";
    document.getElementById("heap-map").innerHTML = MemView.renderHeapMap(s.heap, { id: "heap-svg" });
    document.getElementById("page-map").innerHTML = MemView.renderPageMap(s.pages, { id: "page-svg" });
    document.body.setAttribute("data-event", String(s.event));
    if (D.flames) drawFlames(s.event);
  }
  // the sources: the flame snapshot at or before the slider's event, redrawn when it changes
  var flameShown = -1;
  function drawFlames(event) {
    var k = MemView.flameIndexAt(D.flames, event);
    if (k < 0) k = 0;
    var n = D.flames.snapshots.length;
    var f = MemView.unpackFlame(D.flames, k);
    var at = f.event.toLocaleString("en-US");
    var note = document.getElementById("flame-event");
    note.textContent = (k === n - 1 && f.event <= event ? "Sources at the end (call event " + at + ")" : "Sources at call event " + at) +
      (f.event === event ? "" : f.event < event ? ", the last of the " + n + " flame snapshots at or before the slider's event " + event.toLocaleString("en-US") : ", the first of the " + n + " flame snapshots (none before the slider's event " + event.toLocaleString("en-US") + ")") + ".";
    note.setAttribute("data-flame-event", String(f.event));
    if (k === flameShown) return;
    flameShown = k;
    document.getElementById("flame-resident-graph").innerHTML = MemView.renderFlameGraph(f.tree, { id: "flame-resident-svg", maxNodes: D.flameBudget, minFramePx: f.minFramePx.resident });
    document.getElementById("flame-requested-graph").innerHTML = MemView.renderFlameGraph(f.tree, { id: "flame-requested-svg", maxNodes: D.flameBudget, metric: "requested", minFramePx: f.minFramePx.requested });
  }
  slider.addEventListener("input", function () { draw(Number(slider.value)); });
  function jump(i) { slider.value = String(i); draw(i); }
  // the snapshot nearest the peak (snapshots are evenly spaced; the peak is a timeline sample)
  document.getElementById("to-peak").addEventListener("click", function () {
    var best = 0;
    for (var i = 0; i < D.snapshots.length; i++) if (Math.abs(D.snapshots[i].event - D.timeline.peak.event) < Math.abs(D.snapshots[best].event - D.timeline.peak.event)) best = i;
    jump(best);
  });
  document.getElementById("to-end").addEventListener("click", function () { jump(D.snapshots.length - 1); });
  var tip = document.getElementById("tooltip");
  document.addEventListener("mousemove", function (e) {
    // the nearest element inside a picture with a <title> of its own (not the picture's)
    var title = null;
    for (var el = e.target; el && el.nodeType === 1 && el.nodeName !== "svg" && !title; el = el.parentNode) {
      for (var c = el.firstChild; c; c = c.nextSibling) if (c.nodeName === "title") { title = c; break; }
    }
    if (!title) { tip.style.display = "none"; return; }
    tip.textContent = title.textContent;
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4) + "px";
    tip.style.top = (e.clientY + 16) + "px";
  });
  draw(D.snapshots.length - 1);
})();
`;

/** The whole page; `viewBundle` is `@mem/view/view.global.js`'s text. */
export function reportHtml(page: ReportPage, viewBundle: string): string {
  const j = page.json;
  const peakSample = j.timeline.find((s) => s.event === j.peak.event && s.rssAnon === j.peak.rssAnon);
  const timeline = {
    timeline: downsample(j.timeline, MAX_TIMELINE_SAMPLES, peakSample).map((s) => ({ event: s.event, rssAnon: s.rssAnon, liveRequested: s.liveRequested, causes: s.causes })),
    peak: { event: j.peak.event, rssAnon: j.peak.rssAnon },
    events: j.events,
  };
  const series = (page.compare?.series ?? []).map((l) => ({ label: l.label, points: downsample(l.points, MAX_TIMELINE_SAMPLES) }));
  const data = { timeline, snapshots: page.snapshots, series, ...(page.sources?.flames !== undefined ? { flames: page.sources.flames, flameBudget: FLAME_NODE_BUDGET } : {}) };
  const sources =
    page.sources === undefined
      ? ""
      : page.sources.flames !== undefined
        ? `<h2>Sources</h2><p id="flame-event"></p><figure id="flame-resident"><div id="flame-resident-graph"></div><figcaption>Resident bytes by traceback (explain --by traceback --resident --at the event above), outermost call on top; the hover text gives each frame's resident and requested bytes.</figcaption></figure><figure id="flame-requested"><div id="flame-requested-graph"></div><figcaption>Live requested bytes by traceback.</figcaption></figure>`
        : `<h2>Sources at the end</h2><p id="sources-note">${h(page.sources.note)}</p>`;
  const compare =
    page.compare === undefined
      ? ""
      : `<h2>What if (mem-demo compare)</h2><p>The trace replayed as recorded (baseline) and under each --compare configuration; each configuration's RssAnon is a line on the timeline.</p>${compareTableHtml(page.compare.json)}`;
  const last = page.snapshots.length - 1;
  const events = j.events.map((e) => `<li>event ${e.event.toLocaleString("en-US")}: ${h(e.text)}</li>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mem-demo report: ${h(page.trace)}</title>
<style>${STYLE}</style></head>
<body>
${page.stopped !== undefined ? `<div class="stopped" id="stopped" role="alert">The replay stopped ${h(page.stopped)}. Everything below is up to that point.</div>` : ""}
<h1>Where did the memory go: ${h(page.trace)}</h1>
<p class="configuration">${h(page.configuration)}</p>
<dl class="figures">
<div><dt>peak RSS (RssAnon)</dt><dd id="peak-rss" data-bytes="${j.peak.rssAnon}" data-event="${j.peak.event}">${h(mib(j.peak.rssAnon))} at event ${j.peak.event.toLocaleString("en-US")}</dd></div>
<div><dt>RSS at the end</dt><dd id="end-rss" data-bytes="${j.end.rssAnon}" data-event="${j.end.event}">${h(mib(j.end.rssAnon))}</dd></div>
<div><dt>live requested at the end</dt><dd id="end-live" data-bytes="${j.end.liveRequested}">${h(mib(j.end.liveRequested))}</dd></div>
<div><dt>call events</dt><dd id="events">${j.end.event.toLocaleString("en-US")}</dd></div>
</dl>
<p id="explain">${h(page.paragraph)}</p>
<div class="controls"><label for="slider">Maps at</label><input type="range" id="slider" min="0" max="${last}" value="${last}" step="1"><span id="slider-event"></span><button type="button" id="to-peak">peak</button><button type="button" id="to-end">end</button></div>
<figure><div id="timeline"></div><figcaption>RSS over time, stacked by cause; the dashed line is what the program asked for and still holds; the vertical line is the slider's moment.</figcaption></figure>
<h2>Arena map</h2><figure><div id="arena-map"></div></figure>
<h2>Heap map</h2><figure><div id="heap-map"></div></figure>
<h2>Page map</h2><figure><div id="page-map"></div></figure>
${sources}${compare}
<h2>Causes at the end</h2>${causesTable("causes-end", j.end.causes, j.end.rssAnon)}
<h2>Causes at the peak (event ${j.peak.event.toLocaleString("en-US")})</h2>${causesTable("causes-peak", j.peak.causes, j.peak.rssAnon)}
<h2>Pins at the end</h2><pre id="pins">${h(page.pins)}</pre>
<h2>Policy events</h2>${events === "" ? "<p>None.</p>" : `<ol id="policy-events">${events}</ol>`}
<div id="tooltip" role="tooltip"></div>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${viewBundle.replace(/<\/script/gi, "<\\/script")}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
