/**
 * The few SVG pieces every picture shares: escaping, the root element with its text
 * alternative (`<title>`, `<desc>`, `role="img"`, `aria-labelledby`), a legend, and number
 * formats. Plain strings, no DOM: the same code runs in Node and in a browser.
 */

/** Escapes text for an SVG/XML text node or attribute value. */
export function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** `0x…` lowercase hex of an address. */
export function hex(address: number): string {
  return `0x${address.toString(16)}`;
}

/** Bytes as B, KiB, MiB or GiB with one decimal. */
export function bytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (a >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A number with at most two decimals, for coordinates. */
export function num(x: number): string {
  return String(Math.round(x * 100) / 100);
}

/** A `<rect>` with a `<title>` tooltip (the hover text: address, size, state). */
export function rect(x: number, y: number, w: number, h: number, fill: string, title: string | undefined, extra = ""): string {
  const attrs = `x="${num(x)}" y="${num(y)}" width="${num(Math.max(0, w))}" height="${num(Math.max(0, h))}" fill="${fill}"${extra}`;
  return title === undefined ? `<rect ${attrs}/>` : `<rect ${attrs}><title>${esc(title)}</title></rect>`;
}

/** A `<text>` element. */
export function text(x: number, y: number, content: string, extra = ""): string {
  return `<text x="${num(x)}" y="${num(y)}"${extra}>${esc(content)}</text>`;
}

/** One legend entry: a swatch and its label. */
export interface LegendItem {
  /** Swatch colour. */
  readonly colour: string;
  /** Label. */
  readonly label: string;
  /** Extra attributes of the swatch (a stroke for light colours). */
  readonly swatch?: string;
}

/** A legend laid out in rows across `width`, starting at `y`; returns the markup and its height. */
export function legend(items: readonly LegendItem[], y: number, width: number): { svg: string; height: number } {
  let x = 8;
  let row = 0;
  const parts: string[] = [];
  for (const item of items) {
    const w = 22 + item.label.length * 6.6;
    if (x + w > width - 8 && x > 8) {
      x = 8;
      row++;
    }
    const yy = y + row * 18;
    parts.push(`<rect x="${num(x)}" y="${num(yy)}" width="12" height="12" fill="${item.colour}" stroke="#555" stroke-width="0.5"${item.swatch ?? ""}/>`);
    parts.push(text(x + 16, yy + 10, item.label, ' class="legend"'));
    x += w + 10;
  }
  return { svg: `<g class="legend" role="list" aria-label="legend">${parts.join("")}</g>`, height: (row + 1) * 18 };
}

/**
 * The root `<svg>`: `role="img"` labelled by its `<title>` and described by its `<desc>`
 * (the text alternative), a white background, a font, and `body`.
 */
export function svgRoot(kind: string, width: number, height: number, title: string, desc: string, body: string, id?: string): string {
  const key = id ?? kind;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="mem-view ${kind}" data-kind="${kind}"${id === undefined ? "" : ` id="${esc(id)}"`} ` +
    `width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" role="img" aria-labelledby="${esc(key)}-title ${esc(key)}-desc" ` +
    `font-family="system-ui, sans-serif" font-size="11">` +
    `<title id="${esc(key)}-title">${esc(title)}</title><desc id="${esc(key)}-desc">${esc(desc)}</desc>` +
    `<rect class="background" x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#FFFFFF"/>` +
    body +
    `</svg>`
  );
}
