/**
 * The statistics views of `mem-demo replay`: as text, each in the real system's format
 * (`--stats all` puts a heading over each section), and as structured numbers for `--json`.
 */
import { GlibcMalloc, type Mallinfo2 } from "@mem/libc-malloc";
import type { ReplaySummary } from "./replay.js";
import { libcStatsText, type CPythonStack } from "./stack.js";

/** The statistics a replay can print. */
export const STATS_KINDS = ["pymalloc", "libc", "vm", "all"] as const;
/** One of {@link STATS_KINDS}. */
export type StatsKind = (typeof STATS_KINDS)[number];

/**
 * The statistics that fit a replayed trace when `--stats` is not given: glibc's for a C
 * program's trace (libc events only), pymalloc's otherwise.
 */
export function defaultStatsKind(summary: ReplaySummary): Exclude<StatsKind, "all" | "vm"> {
  const d = summary.domains;
  const python = d.raw + d.mem + d.obj + summary.arenasRecorded;
  return python === 0 && d.libc > 0 ? "libc" : "pymalloc";
}

const HEADINGS: Record<Exclude<StatsKind, "all">, (stack: CPythonStack) => string> = {
  pymalloc: () => "pymalloc: sys._debugmallocstats()",
  libc: (stack) => (stack.libc instanceof GlibcMalloc ? "libc: glibc malloc_stats()" : `libc: ${stack.options.libc} mallinfo2()`),
  vm: (stack) => `kernel: /proc/${stack.process.pid}/status and /proc/${stack.process.pid}/maps`,
};

function section(stack: CPythonStack, kind: Exclude<StatsKind, "all">): string {
  switch (kind) {
    case "pymalloc":
      return stack.pymalloc ? stack.pymalloc.debugMallocStats() : `(no pymalloc: PYTHONMALLOC=${stack.options.pythonMalloc})\n`;
    case "libc":
      return libcStatsText(stack.libc);
    case "vm":
      return stack.process.status() + stack.process.maps();
  }
}

/**
 * - pymalloc: exactly the pymalloc section of `sys._debugmallocstats()`;
 * - libc: glibc's `malloc_stats()` text;
 * - vm: the memory lines of /proc/PID/status, then /proc/PID/maps;
 * - all: the three, each under a `== heading ==` line.
 */
export function statsText(stack: CPythonStack, kind: StatsKind): string {
  if (kind !== "all") return section(stack, kind);
  return (["pymalloc", "libc", "vm"] as const).map((k) => `== ${HEADINGS[k](stack)} ==\n${section(stack, k)}`).join("\n");
}

/** One size class row of `_debugmallocstats`. */
export interface PymallocClassStats {
  /** Size class index. */
  readonly class: number;
  /** Block size in bytes. */
  readonly size: number;
  /** Pools of this class in use. */
  readonly pools: number;
  /** Blocks handed out. */
  readonly blocksInUse: number;
  /** Free blocks in those pools. */
  readonly availBlocks: number;
}

/** pymalloc's statistics as numbers (the fields of `_debugmallocstats`). */
export interface PymallocStats {
  /** `_Py_GetAllocatedBlocks()`. */
  readonly allocatedBlocks: number;
  /** Requests up to this size are pymalloc's. */
  readonly smallBlockThreshold: number;
  /** Size classes with pools in use. */
  readonly classes: readonly PymallocClassStats[];
  /** The `name = value` lines, keyed in camelCase (arenasAllocatedTotal, bytesInAllocatedBlocks, …). */
  readonly totals: Readonly<Record<string, number>>;
}

/** Reads `_debugmallocstats` text (this project's exact CPython format) into numbers. */
export function parsePymallocStats(text: string, allocatedBlocks: number): PymallocStats {
  const classes: PymallocClassStats[] = [];
  const totals: Record<string, number> = {};
  let smallBlockThreshold = 0;
  let section = "";
  for (const line of text.split("\n")) {
    const head = /^Small block threshold = (\d+)/.exec(line);
    if (head) smallBlockThreshold = Number(head[1]);
    const row = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (row) {
      const [c, size, pools, used, avail] = row.slice(1).map(Number) as [number, number, number, number, number];
      classes.push({ class: c, size, pools, blocksInUse: used, availBlocks: avail });
      continue;
    }
    if (line === "arena map counts") section = "arenaMap";
    const pair = /^(.*?)\s*=\s*([\d,]+)$/.exec(line);
    if (!pair) continue;
    const value = Number(pair[2]!.replaceAll(",", ""));
    const label = pair[1]!;
    const arenas = /^(\d+) arenas \* (\d+) bytes\/arena$/.exec(label);
    const pools = /^(\d+) unused pools \* (\d+) bytes$/.exec(label);
    if (arenas) {
      totals.arenaSize = Number(arenas[2]);
      totals.arenaBytes = value;
    } else if (pools) {
      totals.unusedPools = Number(pools[1]);
      totals.poolSize = Number(pools[2]);
      totals.unusedPoolBytes = value;
    } else {
      const key = camel(label.replace(/^# /, ""));
      totals[key === "total" && section === "arenaMap" ? "arenaMapTotal" : key] = value;
    }
  }
  return { allocatedBlocks, smallBlockThreshold, classes, totals };
}

function camel(label: string): string {
  const words = label.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  return words.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join("");
}

/** The C library's statistics as numbers. */
export interface LibcStats {
  /** Which implementation. */
  readonly implementation: string;
  /** `mallinfo2()`. */
  readonly mallinfo2: Mallinfo2;
  /** glibc's `malloc_stats()` figures (glibc only). */
  readonly mallocStats?: { systemBytes: number; inUseBytes: number; maxMmapRegions: number; maxMmapBytes: number };
}

/** One line of /proc/PID/maps. */
export interface MappingStats {
  /** Start and end addresses, lowercase hex with `0x` (the vsyscall page lies above 2^53). */
  readonly start: string;
  readonly end: string;
  /** Length in bytes. */
  readonly size: number;
  /** `rw-p` and the like. */
  readonly perms: string;
  /** File offset in bytes. */
  readonly offset: number;
  /** The file or `[heap]`, `[stack]`…, or "" for anonymous memory. */
  readonly path: string;
}

/** The kernel's view of the process. */
export interface VmStats {
  /** The /proc/PID/status memory lines in bytes (VmPeak, VmHWM, VmRSS, RssAnon, …). */
  readonly status: Readonly<Record<string, number>>;
  /** /proc/PID/maps. */
  readonly maps: readonly MappingStats[];
}

/** Every statistic as numbers. */
export interface StatsJson {
  /** pymalloc's, or null when the preset has no pymalloc. */
  pymalloc?: PymallocStats | null;
  /** The C library's. */
  libc?: LibcStats;
  /** The kernel's. */
  vm?: VmStats;
}

/** The statistics of `kind` as numbers, for `--json`. */
export function statsJson(stack: CPythonStack, kind: StatsKind): StatsJson {
  const out: StatsJson = {};
  if (kind === "pymalloc" || kind === "all") {
    out.pymalloc = stack.pymalloc ? parsePymallocStats(stack.pymalloc.debugMallocStats(), stack.pymalloc.allocatedBlocks()) : null;
  }
  if (kind === "libc" || kind === "all") out.libc = libcStats(stack);
  if (kind === "vm" || kind === "all") out.vm = vmStats(stack);
  return out;
}

function libcStats(stack: CPythonStack): LibcStats {
  const libc = stack.libc;
  const stats: LibcStats = { implementation: stack.options.libc, mallinfo2: { ...libc.mallinfo2() } };
  if (!(libc instanceof GlibcMalloc)) return stats;
  // malloc_stats(): the "Total (incl. mmap)" figures and the mmap peaks.
  const text = libc.mallocStats();
  const total = text.slice(text.indexOf("Total"));
  const field = (source: string, name: string) => Number(new RegExp(`^${name}\\s*=\\s*(\\d+)$`, "m").exec(source)?.[1] ?? NaN);
  return {
    ...stats,
    mallocStats: {
      systemBytes: field(total, "system bytes"),
      inUseBytes: field(total, "in use bytes"),
      maxMmapRegions: field(total, "max mmap regions"),
      maxMmapBytes: field(total, "max mmap bytes"),
    },
  };
}

function vmStats(stack: CPythonStack): VmStats {
  const status: Record<string, number> = {};
  for (const line of stack.process.status().split("\n")) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m) status[m[1]!] = Number(m[2]) * 1024;
  }
  const maps: MappingStats[] = [];
  for (const line of stack.process.maps().split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    const end = BigInt(`0x${m[2]}`);
    maps.push({ start: `0x${m[1]}`, end: `0x${m[2]}`, size: Number(end - start), perms: m[3]!, offset: Number.parseInt(m[4]!, 16), path: m[5]!.trim() });
  }
  return { status, maps };
}

/**
 * The replay's summary as text: calls, live blocks and their peak, divergences, placements,
 * and the kernel's peaks (VmHWM, VmPeak).
 */
export function summaryText(summary: ReplaySummary, stack: CPythonStack): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const d = summary.domains;
  const byDomain = (["obj", "mem", "raw", "libc"] as const).filter((k) => d[k] > 0).map((k) => `${k} ${n(d[k])}`).join(", ");
  const lines = [
    `calls            ${n(summary.calls)}${byDomain ? ` (${byDomain})` : ""} in ${n(summary.lines)} lines`,
    `live blocks      ${n(summary.live)} at the end, ${n(summary.peakLive)} at the peak`,
  ];
  if (summary.arenasRecorded > 0) lines.push(`recorded arenas  ${n(summary.arenasRecorded)} obtained, ${n(summary.arenasReleasedRecorded)} released`);
  if (summary.writes > 0) lines.push(`writes           ${n(summary.writes)}`);
  const reused = summary.reusedLive > 0 ? ` (${n(summary.reusedLive)} pointers returned again while live)` : "";
  lines.push(`divergences      ${n(summary.divergences)}${reused}`);
  const p = summary.placements;
  if (p.compared > 0) {
    lines.push(
      `placements       ${n(p.compared - p.moved)} of ${n(p.compared)} libc results where glibc put them` +
        (p.firstMovedLine !== null ? `; first moved at line ${n(p.firstMovedLine)}` : ""),
    );
  }
  const vm = vmStats(stack).status;
  if (vm.VmHWM !== undefined) lines.push(`peak memory      VmHWM ${n(vm.VmHWM / 1024)} kB, VmPeak ${n((vm.VmPeak ?? 0) / 1024)} kB`);
  return lines.join("\n") + "\n";
}
