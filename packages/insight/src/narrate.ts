import type { Snapshot } from "./timeline.js";
import { mib } from "./timeline.js";

const PYMALLOC_WASTE = ["pymalloc.free-blocks", "pymalloc.empty-pools", "pymalloc.never-carved", "pymalloc.quantization", "pymalloc.pool-headers", "pymalloc.arena-alignment", "pymalloc.uncarved-pools"];
const GLIBC_FREE = ["glibc.tcache", "glibc.fastbins", "glibc.unsorted", "glibc.small-bins", "glibc.large-bins", "glibc.top"];
const LIVE = ["pymalloc.live-blocks", "glibc.in-use", "glibc.mmapped-payload", "libc.in-use"];

function total(causes: Record<string, number>, names: readonly string[]): number {
  let n = 0;
  for (const name of names) n += causes[name] ?? 0;
  return n;
}

/**
 * The plain-language paragraph that leads the report: how much is resident, how much of it
 * the program's live objects explain, and where the rest is, the largest part first, with
 * the pins that hold it ("39 MiB are 52 pymalloc arenas kept by 1–4 surviving 64-byte objects
 * each") and what malloc_trim(0) would give back.
 */
export function narrate(s: Snapshot, where: string): string {
  const c = s.causes;
  const live = s.liveRequested > 0 ? s.liveRequested : s.liveUsable;
  const parts: [number, string][] = [];
  const pyWaste = total(c, PYMALLOC_WASTE);
  if (pyWaste > 0) {
    const sparse = s.pins.sparseArenas;
    let text = `${mib(pyWaste)} are free space inside ${s.pymallocArenas} pymalloc arena${s.pymallocArenas === 1 ? "" : "s"}`;
    if (sparse.count > 0) {
      const sizes = [...new Set(s.pins.arenas.flatMap((a) => a.blocks.map((b) => b.size)))].sort((x, y) => x - y);
      const range = sparse.minLiveBlocks === sparse.maxLiveBlocks ? `${sparse.minLiveBlocks}` : `${sparse.minLiveBlocks}–${sparse.maxLiveBlocks}`;
      text += ` (${mib(sparse.residentBytes)} are ${sparse.count} arena${sparse.count === 1 ? "" : "s"} kept by ${range} surviving ${sizes.slice(0, 3).join("/")}-byte object${sparse.maxLiveBlocks === 1 ? "" : "s"} each)`;
    }
    if (s.pins.keptEmptyArenas > 0) text += `, ${s.pins.keptEmptyArenas} of them wholly free but kept`;
    parts.push([pyWaste, text + "; malloc_trim cannot reach it"]);
  }
  const glibcFree = total(c, GLIBC_FREE);
  if (glibcFree > 0) {
    let text = `${mib(glibcFree)} are free chunks glibc keeps (top ${mib(c["glibc.top"] ?? 0)}, bins ${mib(glibcFree - (c["glibc.top"] ?? 0) - (c["glibc.tcache"] ?? 0) - (c["glibc.fastbins"] ?? 0))}, tcache and fastbins ${mib((c["glibc.tcache"] ?? 0) + (c["glibc.fastbins"] ?? 0))})`;
    if (s.pins.trim !== undefined) text += `; malloc_trim(0) would return ${mib(s.pins.trim.rssDrop)}`;
    if (s.pins.top !== undefined && s.pins.top.wouldTrim > 0) text += `; a ${s.pins.top.size}-byte ${s.pins.top.state} chunk at 0x${s.pins.top.chunk.toString(16)} keeps ${mib(s.pins.top.wouldTrim)} from being trimmed`;
    parts.push([glibcFree, text]);
  }
  const tlsfFree = c["libc.free"] ?? 0;
  if (tlsfFree > 0) parts.push([tlsfFree, `${mib(tlsfFree)} are free blocks of the C library's heap`]);
  const debug = (c["debug.pad"] ?? 0) + (c["debug.size"] ?? 0);
  if (debug > 0) parts.push([debug, `${mib(debug)} are the debug hooks' pad and size bytes`]);
  const slack = c["glibc.mmapped-slack"] ?? 0;
  if (slack > 0) parts.push([slack, `${mib(slack)} are page slack of mmapped chunks`]);
  const known = pyWaste + glibcFree + tlsfFree + debug + slack + total(c, LIVE);
  const rest = s.rssAnon - known;
  if (rest > 0) parts.push([rest, `${mib(rest)} are allocator structures and other pages (see the table)`]);
  parts.sort((x, y) => y[0] - x[0]);
  const lead =
    live < s.rssAnon
      ? `RSS is ${mib(s.rssAnon)} ${where} although only ${mib(live)} of objects are live (${s.account.liveBlocks} blocks)`
      : `RSS is ${mib(s.rssAnon)} ${where} while ${mib(live)} of objects are live (${s.account.liveBlocks} blocks; pages of them never written are not resident)`;
  return parts.length === 0 ? `${lead}.` : `${lead}: ${parts.map((p) => p[1]).join("; ")}.`;
}
