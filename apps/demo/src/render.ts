/**
 * Renders walk-through steps for a terminal (coloured when it is one, plain when piped).
 */
import pc from "picocolors";
import type { Tier } from "./observe.js";
import type { Walkthrough } from "./walkthrough.js";

type Paint = (text: string) => string;

/** Colours of the tier labels, bottom tier darkest. */
function tierPaint(colors: ReturnType<typeof pc.createColors>): Record<Tier, Paint> {
  return {
    python: colors.magenta,
    pymem: colors.blue,
    pymalloc: colors.cyan,
    libc: colors.green,
    kernel: colors.yellow,
    ram: colors.red,
  };
}

/** Width of the story's lines (the indent not counted). */
const STORY_WIDTH = 100;

/** Breaks `text` into lines of at most `width` characters at spaces (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** Renders a walk-through as text; `color` decides whether ANSI colours are used. */
export function renderWalkthrough(walk: Walkthrough, color: boolean): string {
  const colors = pc.createColors(color);
  const paint = tierPaint(colors);
  const label = (tier: Tier) => paint[tier](tier.padEnd(9));
  const out: string[] = [];
  const c = walk.configuration;
  out.push(colors.bold(`The CPython ${c.pymallocVersion} allocation stack, tier by tier`));
  out.push(
    colors.dim(
      `PYTHONMALLOC=${c.pythonMalloc}, libc ${c.libc}, pymalloc ${c.pymallocVersion} parameters, ${c.ramSize / 1024 / 1024} MiB of RAM`,
    ),
  );
  walk.steps.forEach((step, i) => {
    out.push("", colors.bold(`${i + 1}. ${step.title}`));
    for (const line of wrap(step.story.join(" "), STORY_WIDTH)) out.push(`   ${line}`);
    if (step.calls.length) {
      out.push(colors.dim("   calls across the tiers:"));
      for (const call of step.calls) out.push(`     ${label(call.tier)} ${call.text}`);
    }
    out.push(colors.dim("   afterwards:"));
    for (const fact of step.facts) out.push(`     ${label(fact.tier)} ${fact.text}`);
  });
  out.push("", colors.bold("Each tier's own account at the end"));
  for (const summary of walk.summaries) {
    out.push("", `${label(summary.tier)} ${colors.bold(summary.title)}`);
    out.push(summary.text.replace(/\n$/, ""));
  }
  return out.join("\n") + "\n";
}
