/** Tiny DOM helpers: elements from tags, attributes and children. */

/** Creates `<tag>` with attributes (`class`, `data-testid`, `aria-*` ...) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** The element with `id`, or an error naming it. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`playground: no element #${id}`);
  return el as T;
}

/** Replaces the content of `el` with an SVG string produced by @mem/view (escaped by it). */
export function setSvg(el: HTMLElement, svg: string): void {
  el.innerHTML = svg;
}
