/** Structural reading of rendered SVG strings (no DOM in Node): counts and attributes. */

/** Shapes drawn: rect, path, circle, line elements (the node budget counts these). */
export function shapeCount(svg: string): number {
  return (svg.match(/<(rect|path|circle|line)\b/g) ?? []).length;
}

/** Elements with `data-state="<state>"`, by state. */
export function countByState(svg: string, element = "rect"): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of svg.matchAll(new RegExp(`<${element}\\b[^>]*data-state="([^"]+)"`, "g"))) out[m[1]!] = (out[m[1]!] ?? 0) + 1;
  return out;
}

/** The fill colours of elements with `data-state="<state>"`. */
export function fillsOf(svg: string, state: string): string[] {
  const out = new Set<string>();
  for (const m of svg.matchAll(/<rect\b([^>]*)>/g)) {
    const attrs = m[1]!;
    if (!attrs.includes(`data-state="${state}"`)) continue;
    const fill = /fill="([^"]+)"/.exec(attrs);
    if (fill) out.add(fill[1]!);
  }
  return [...out];
}

/** Every `<title>` text, in order. */
export function titles(svg: string): string[] {
  return [...svg.matchAll(/<title[^>]*>([^<]*)<\/title>/g)].map((m) => m[1]!);
}

/** The root's text alternative: its first `<title>` and its `<desc>`. */
export function textAlternative(svg: string): { title: string; desc: string } {
  return { title: /<title id="[^"]+">([^<]*)<\/title>/.exec(svg)?.[1] ?? "", desc: /<desc id="[^"]+">([^<]*)<\/desc>/.exec(svg)?.[1] ?? "" };
}
