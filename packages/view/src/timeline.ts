import type { RenderOptions, TimelineData, TimelinePoint } from "./api.js";
import { distinctCauseColours, OKABE_ITO } from "./palette.js";
import { bytes, esc, legend, num, svgRoot, text } from "./svg.js";

const MAX_GROUPS = 7;
const MAX_POINTS = 800;
const MAX_MARKERS = 60;
/** Colours of extra series, in order (black solid first: the peak is vermillion, live requested black dashed); each series also has a dash pattern of its own (colour is never the only cue). */
const SERIES_COLOURS = [OKABE_ITO.black, OKABE_ITO.vermillion, OKABE_ITO.blue, OKABE_ITO.reddishPurple, OKABE_ITO.orange, OKABE_ITO.skyBlue];
const SERIES_DASHES = ["none", "8 3 2 3", "2 2", "12 4", "6 2 2 2 2 2", "1 3"];

/** The causes drawn as areas: the largest by their maximum, the rest summed as "other causes". */
export function timelineGroups(samples: readonly TimelinePoint[], max = MAX_GROUPS): string[] {
  const peak = new Map<string, number>();
  for (const s of samples) for (const [c, n] of Object.entries(s.causes)) peak.set(c, Math.max(peak.get(c) ?? 0, n));
  const sorted = [...peak].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([c]) => c);
  return sorted.length <= max ? sorted : [...sorted.slice(0, max - 1), "other causes"];
}

/** At most `max` samples, evenly spread, keeping the first, the last and `keep`. */
export function downsample<T>(samples: readonly T[], max: number, keep?: T): T[] {
  if (samples.length <= max) return [...samples];
  const out: T[] = [];
  const step = (samples.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(samples[Math.round(i * step)]!);
  if (keep !== undefined && !out.includes(keep)) {
    const at = samples.indexOf(keep);
    const j = out.findIndex((s) => samples.indexOf(s) > at);
    out.splice(j < 0 ? out.length : j, 0, keep);
  }
  return out;
}

/**
 * The timeline: RSS (RssAnon) over call events as areas stacked by cause (the largest six
 * causes and the rest), the program's live requested bytes as a line, the peak marked, and
 * policy events (arena released, trim, mmap threshold raised, malloc_trim) as markers on the
 * axis whose `<title>` narrates them; `options.series` adds lines (other configurations' RSS,
 * `mem-demo report --compare`), each in a colour and dash of its own with a legend entry.
 * At most 800 points a series and 60 markers are drawn.
 *
 * ```
 *   MiB ▲        ● peak 48 MiB
 *       │     ▄▄███▄▄▄▄▄▄▄▄▄▄▄       areas: causes
 *       │  ▄▄███████████████████     line: live requested bytes
 *       └──▲──────▲────────────► events
 *          trim   arena released
 * ```
 */
export function renderTimeline(data: TimelineData, options: RenderOptions = {}): string {
  const width = options.width ?? 960;
  const maxNodes = Math.max(16, options.maxNodes ?? 4000);
  const height = 260;
  const left = 64;
  const right = 12;
  const top = 24;
  const plotW = width - left - right;
  const plotH = height - top - 34;
  const all = data.timeline;
  const peakSample = all.find((s) => s.event === data.peak.event && s.rssAnon === data.peak.rssAnon);
  const picked = downsample(all, Math.min(MAX_POINTS, Math.max(2, Math.floor(maxNodes / 2))), peakSample);
  // a single sample (a short trace) is drawn as a band from the first event to it
  const samples = picked.length === 1 ? [{ ...picked[0]!, event: 0 }, picked[0]!] : picked;
  const groups = timelineGroups(all);
  const colours = distinctCauseColours(groups);
  const lastEvent = Math.max(1, all.length > 0 ? all[all.length - 1]!.event : 1);
  const firstEvent = 0;
  const series = options.series ?? [];
  const maxY = Math.max(1, ...all.map((s) => Math.max(s.rssAnon, s.liveRequested)), data.peak.rssAnon, ...series.flatMap((l) => l.points.map((p) => p.value)));
  const x = (event: number) => left + ((event - firstEvent) / (lastEvent - firstEvent)) * plotW;
  const y = (v: number) => top + plotH - (v / maxY) * plotH;
  const parts: string[] = [];
  // axes and ticks
  parts.push(`<path d="M${left} ${top}V${top + plotH}H${left + plotW}" stroke="#333" fill="none" class="axis"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    parts.push(`<path d="M${left - 4} ${num(y(v))}H${left + plotW}" stroke="#DDD" class="grid"/>`);
    parts.push(text(left - 6, y(v) + 4, bytes(Math.round(v)), ' text-anchor="end" class="tick"'));
  }
  for (let i = 0; i <= 5; i++) {
    const e = Math.round((lastEvent * i) / 5);
    parts.push(text(x(e), top + plotH + 14, e.toLocaleString("en-US"), ' text-anchor="middle" class="tick"'));
  }
  parts.push(text(left + plotW, top + plotH + 28, "call events", ' text-anchor="end" class="axis-label"'));
  // stacked areas, bottom first
  const base = samples.map(() => 0);
  const valueOf = (s: TimelinePoint, g: string): number => {
    if (g !== "other causes") return s.causes[g] ?? 0;
    let n = 0;
    for (const [c, v] of Object.entries(s.causes)) if (!groups.includes(c)) n += v;
    return n;
  };
  groups.forEach((g, gi) => {
    if (samples.length === 0) return;
    const upper = samples.map((s, i) => base[i]! + valueOf(s, g));
    let d = `M${num(x(samples[0]!.event))} ${num(y(upper[0]!))}`;
    for (let i = 1; i < samples.length; i++) d += `L${num(x(samples[i]!.event))} ${num(y(upper[i]!))}`;
    for (let i = samples.length - 1; i >= 0; i--) d += `L${num(x(samples[i]!.event))} ${num(y(base[i]!))}`;
    const at = all[all.length - 1];
    const tip = `${g}: ${bytes(at !== undefined ? valueOf(at, g) : 0)} at the end, at most ${bytes(Math.max(...all.map((s) => valueOf(s, g))))}`;
    parts.push(`<path d="${d}Z" fill="${colours[gi]!}" fill-opacity="0.85" class="area" data-cause="${esc(g)}"><title>${esc(tip)}</title></path>`);
    upper.forEach((v, i) => (base[i] = v));
  });
  // live requested bytes
  if (samples.length > 0) {
    let d = "";
    samples.forEach((s, i) => (d += `${i === 0 ? "M" : "L"}${num(x(s.event))} ${num(y(s.liveRequested))}`));
    parts.push(`<path d="${d}" fill="none" stroke="${OKABE_ITO.black}" stroke-width="2" stroke-dasharray="5 3" class="live"><title>live requested bytes (what the program asked for and still holds)</title></path>`);
  }
  // extra series (other configurations' RSS): lines on a white halo (they cross the areas),
  // each with a colour and a dash pattern of its own
  const lineColour = (i: number) => SERIES_COLOURS[i % SERIES_COLOURS.length]!;
  const lineDash = (i: number) => SERIES_DASHES[i % SERIES_DASHES.length]!;
  series.forEach((l, i) => {
    const pts = downsample(l.points, Math.min(MAX_POINTS, Math.max(2, Math.floor(maxNodes / 4))));
    if (pts.length === 0) return;
    let d = "";
    pts.forEach((p, k) => (d += `${k === 0 ? "M" : "L"}${num(x(p.event))} ${num(y(p.value))}`));
    const peak = Math.max(...l.points.map((p) => p.value));
    const last = l.points[l.points.length - 1]!;
    parts.push(
      `<path d="${d}" fill="none" stroke="#FFFFFF" stroke-width="4.5" stroke-opacity="0.85" class="series-halo"/>` +
      `<path d="${d}" fill="none" stroke="${lineColour(i)}" stroke-width="2" stroke-dasharray="${lineDash(i)}" class="series" data-series="${esc(l.label)}"><title>${esc(`${l.label}: peak ${bytes(peak)}, ${bytes(last.value)} at the end`)}</title></path>`,
    );
  });
  // peak
  const px = x(data.peak.event);
  const py = y(data.peak.rssAnon);
  parts.push(
    `<g class="peak"><circle cx="${num(px)}" cy="${num(py)}" r="4" fill="${OKABE_ITO.vermillion}" stroke="#000"><title>${esc(`peak: RSS ${bytes(data.peak.rssAnon)} at event ${data.peak.event}`)}</title></circle>` +
      text(Math.min(px + 6, width - 130), Math.max(12, py - 6), `peak ${bytes(data.peak.rssAnon)} @ ${data.peak.event}`, ' class="peak-label"') +
      "</g>",
  );
  // policy events
  const markers = downsample(data.events, MAX_MARKERS);
  for (const e of markers) {
    const ex = x(e.event);
    parts.push(`<path d="M${num(ex)} ${top + plotH - 1}l-4 7h8z" fill="${OKABE_ITO.reddishPurple}" stroke="#000" stroke-width="0.5" class="event" data-kind="${esc(e.kind)}"><title>${esc(`event ${e.event}: ${e.text}`)}</title></path>`);
  }
  if (options.cursor !== undefined) parts.push(`<path d="M${num(x(options.cursor))} ${top}V${top + plotH}" stroke="#000" stroke-width="1.5" class="cursor"/>`);
  const items = [
    ...groups.map((g, gi) => ({ colour: colours[gi]!, label: g })),
    { colour: "#FFFFFF", label: "- - live requested", swatch: ` stroke="${OKABE_ITO.black}" stroke-dasharray="3 2"` },
    ...series.map((l, i) => ({ colour: lineColour(i), label: `${lineDash(i) === "none" ? "——" : "-·-"} RSS: ${l.label}` })),
    { colour: OKABE_ITO.vermillion, label: "peak" },
    { colour: OKABE_ITO.reddishPurple, label: "policy event" },
  ];
  const lg = legend(items, height, width);
  const end = all[all.length - 1];
  const desc =
    `RSS over ${lastEvent} call events in ${all.length} samples: peak ${bytes(data.peak.rssAnon)} at event ${data.peak.event}` +
    (end !== undefined ? `, ${bytes(end.rssAnon)} at the end with ${bytes(end.liveRequested)} of live requested bytes` : "") +
    `. Areas by cause: ${groups.join(", ")}. ${data.events.length} policy events.` +
    (series.length > 0 ? ` Lines: ${series.map((l) => `${l.label} (peak ${bytes(Math.max(0, ...l.points.map((p) => p.value)))})`).join(", ")}.` : "");
  return svgRoot("timeline", width, height + lg.height + 8, options.title ?? "RSS over time by cause", desc, parts.join("") + lg.svg, options.id);
}
