/**
 * The small decisions between the tiers' state and the page, kept out of the DOM code so
 * they are unit-tested: which facts go beside which picture, the account as table rows,
 * which snapshot a jump lands on, how the progress of a large trace reads.
 */
import type { Fact, Tier } from "mem-demo/browser";
import { bytes } from "@mem/view";

/** The panels of the page, one a tier, each with its picture. */
export const PANELS = ["pymalloc", "libc", "kernel", "ram"] as const;
/** One of {@link PANELS}. */
export type Panel = (typeof PANELS)[number];

/** The panel a walk-through fact is shown in: PyMem's facts go with pymalloc's picture. */
export function panelOf(tier: Tier): Panel {
  switch (tier) {
    case "python":
    case "pymem":
    case "pymalloc":
      return "pymalloc";
    case "libc":
      return "libc";
    case "kernel":
      return "kernel";
    case "ram":
      return "ram";
  }
}

/** The facts grouped by panel, in their order. */
export function factsByPanel(facts: readonly Fact[]): Record<Panel, string[]> {
  const out: Record<Panel, string[]> = { pymalloc: [], libc: [], kernel: [], ram: [] };
  for (const f of facts) out[panelOf(f.tier)].push(f.text);
  return out;
}

/** One row of the account table. */
export interface AccountRow {
  /** The cause, e.g. `pymalloc.used-pools`. */
  readonly cause: string;
  /** Its resident bytes. */
  readonly bytes: number;
  /** The bytes as a person reads them. */
  readonly shown: string;
  /** Its share of RssAnon, in percent with one decimal. */
  readonly percent: string;
}

/** The causes with any resident byte, largest first (ties by name), as table rows. */
export function accountRows(causes: Readonly<Record<string, number>>): AccountRow[] {
  const total = Object.values(causes).reduce((a, b) => a + b, 0);
  return Object.entries(causes)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([cause, n]) => ({ cause, bytes: n, shown: bytes(n), percent: total > 0 ? ((100 * n) / total).toFixed(1) : "0.0" }));
}

/**
 * The snapshot a jump to `event` shows: the last one taken at or before it (snapshots are
 * in event order and the first is event 0). Binary search.
 */
export function snapshotIndexFor(events: readonly number[], event: number): number {
  let lo = 0;
  let hi = events.length - 1;
  if (hi < 0) return -1;
  if (event <= events[0]!) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (events[mid]! <= event) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** How far a trace has been read: `412 KB of 1.2 MB (34 %) · 120,331 lines · 60,112 events`. */
export function progressText(read: number, total: number, lines: number, events: number): string {
  const pct = total > 0 ? ` (${Math.min(100, Math.floor((100 * read) / total))} %)` : "";
  return `${bytes(read)} of ${bytes(total)}${pct} · ${lines.toLocaleString("en-US")} lines · ${events.toLocaleString("en-US")} events`;
}

/**
 * The walk-through's story lines (wrapped for a terminal) as paragraphs: a line ending a
 * sentence (`.`, `.)`) ends its paragraph; the others run on into the next line.
 */
export function storyParagraphs(lines: readonly string[]): string[] {
  const out: string[] = [];
  let current = "";
  for (const line of lines) {
    current = current === "" ? line.trim() : `${current} ${line.trim()}`;
    if (/[.!?]\)?$/.test(current)) {
      out.push(current);
      current = "";
    }
  }
  if (current !== "") out.push(current);
  return out;
}
