import type { Causes } from "./api.js";
import { narrate } from "./narrate.js";
import type { Snapshot, TimelineResult } from "./timeline.js";
import { mib } from "./timeline.js";

const BARS = "▁▂▃▄▅▆▇█";

/** A sparkline of `values` in at most `width` characters (each the maximum of its bucket). */
export function sparkline(values: readonly number[], width = 60): string {
  if (values.length === 0) return "";
  const buckets: number[] = [];
  const per = Math.max(1, Math.ceil(values.length / width));
  for (let i = 0; i < values.length; i += per) buckets.push(Math.max(...values.slice(i, i + per)));
  const max = Math.max(...buckets);
  const min = Math.min(...buckets);
  return buckets.map((v) => BARS[max === min ? BARS.length - 1 : Math.round(((v - min) / (max - min)) * (BARS.length - 1))]).join("");
}

/** The table of causes: bytes, MiB and share of RssAnon, largest first; the sum is the last row. */
export function causesTable(causes: Causes, rssAnon: number, outside: Causes = {}): string {
  const rows = Object.entries(causes).sort((x, y) => y[1] - x[1]);
  const width = Math.max(24, ...rows.map(([name]) => name.length));
  let out = `${"cause".padEnd(width)}  ${"bytes".padStart(12)}  ${"".padStart(10)}  share\n`;
  for (const [name, bytes] of rows) {
    out += `${name.padEnd(width)}  ${String(bytes).padStart(12)}  ${mib(bytes).padStart(10)}  ${((100 * bytes) / Math.max(1, rssAnon)).toFixed(1).padStart(5)}%\n`;
  }
  out += `${"= RssAnon".padEnd(width)}  ${String(rssAnon).padStart(12)}  ${mib(rssAnon).padStart(10)}\n`;
  for (const [name, bytes] of Object.entries(outside)) out += `${`(${name}, not in RssAnon)`.padEnd(width)}  ${String(bytes).padStart(12)}  ${mib(bytes).padStart(10)}\n`;
  return out;
}

/** The pins, as text. */
export function pinsText(s: Snapshot): string {
  let out = "";
  for (const a of s.pins.arenas.slice(0, 5)) {
    out += `  pymalloc arena 0x${a.arena.toString(16)}: ${mib(a.residentBytes)} resident, kept by ${a.liveBlocks} live block${a.liveBlocks === 1 ? "" : "s"} (${mib(a.liveBytes)})`;
    out += a.blocks.length > 0 ? `: ${a.blocks.slice(0, 4).map((b) => `0x${b.address.toString(16)} (${b.size})`).join(", ")}${a.liveBlocks > 4 ? ", ..." : ""}\n` : "\n";
  }
  if (s.pins.keptEmptyArenas > 0) out += `  ${s.pins.keptEmptyArenas} wholly free pymalloc arena(s) kept\n`;
  const t = s.pins.top;
  if (t !== undefined) {
    out += `  glibc top: the ${t.state} chunk 0x${t.chunk.toString(16)} (${t.size} bytes) has ${mib(t.freeAbove)} free above it; `;
    out += t.wouldTrim > 0 ? `freeing it would trim ${mib(t.wouldTrim)}\n` : `freeing it would not reach the trim threshold (${mib(t.trimThreshold)})\n`;
  }
  const trim = s.pins.trim;
  if (trim !== undefined) {
    out += `  malloc_trim(0) would drop ${mib(trim.rssDrop)} of RSS (${mib(trim.madviseBytes)} by madvise in ${trim.ranges.length} free chunk(s), ${mib(trim.topTrimResident)} by lowering the break ${mib(trim.topTrimBytes)})`;
    out += trim.unreachablePymalloc > 0 ? `; it cannot reach the ${mib(trim.unreachablePymalloc)} free inside pymalloc's arenas\n` : "\n";
  }
  return out === "" ? "  (nothing pinned)\n" : out;
}

/** Options of {@link renderReport}. */
export interface ReportOptions {
  /** Which snapshot leads: the end, the peak, or an event. @defaultValue "end" */
  focus?: "end" | "peak" | "at";
  /** Said after "stopped" when the trace failed. */
  stopped?: string;
}

/** The terminal report of `mem-demo explain`: paragraph, causes, pins, sparkline, policy events. */
export function renderReport(result: TimelineResult, options: ReportOptions = {}): string {
  const focus = options.focus ?? "end";
  const s = focus === "peak" ? result.peak : focus === "at" && result.at !== undefined ? result.at : result.end;
  const where = focus === "peak" ? `at its peak (event ${s.event})` : focus === "at" ? `at event ${s.event}` : options.stopped !== undefined ? `where the replay stopped (event ${s.event})` : "at the end";
  let out = wrap(narrate(s, where), 100) + "\n\n";
  if (options.stopped !== undefined) out += `The replay stopped: ${options.stopped}\n\n`;
  out += causesTable(s.causes, s.rssAnon, s.account.outside) + "\n";
  out += "Pins\n" + pinsText(s) + "\n";
  const rss = result.timeline.map((x) => x.rssAnon);
  out += `RSS over ${s === result.end ? s.event : result.end.event} events (every ${result.every}): ${sparkline(rss)}  peak ${mib(result.peak.rssAnon)} at event ${result.peak.event}, live peak ${mib(result.peakLive.liveRequested)} at event ${result.peakLive.event}\n`;
  if (result.events.length > 0) {
    out += "\nPolicy events\n";
    for (const e of result.events.slice(0, 20)) out += `  event ${e.event}: ${e.text}\n`;
    const more = result.events.length - 20 + result.eventsDropped;
    if (more > 0) out += `  ... and ${more} more\n`;
  }
  return out;
}

function wrap(text: string, width: number): string {
  const words = text.split(" ");
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line.length + w.length + 1 > width && line !== "") {
      lines.push(line);
      line = w;
    } else line = line === "" ? w : `${line} ${w}`;
  }
  if (line !== "") lines.push(line);
  return lines.join("\n");
}
