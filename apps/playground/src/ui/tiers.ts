/**
 * The tiers drawn side by side: the lit road, then pymalloc's arena map, glibc's heap map,
 * the kernel's page map and the RAM panel, each with its facts in words, and the account.
 * Used by the walk-through, the console and the trace viewer alike.
 */
import { renderArenaMap, renderHeapMap, renderPageMap, type ArenaMapData, type HeapMapData, type PageMapData } from "@mem/view";
import { PATH_LABELS, PATH_TIERS, pathText, type Path } from "../path.js";
import { accountRows, type Panel } from "../view-model.js";
import { h, setSvg } from "./dom.js";

/** What the tier panels draw. */
export interface TierState {
  /** The arena map's data (undefined without pymalloc). */
  readonly arenas: ArenaMapData | undefined;
  /** The heap map's data. */
  readonly heap: HeapMapData;
  /** The page map's data. */
  readonly pages: PageMapData;
  /** RssAnon by cause. */
  readonly causes: Readonly<Record<string, number>>;
  /** Facts in words, by panel. */
  readonly facts?: Partial<Record<Panel, readonly string[]>>;
  /** The road lit by the last call, if any. */
  readonly path?: Path;
}

/** The DOM of one set of tier panels. */
export interface TierView {
  /** The root element. */
  readonly root: HTMLElement;
  /** Draws `state`. */
  draw(state: TierState): void;
}

const WIDTH = 640;

/** Creates the panels; `label` names them for screen readers (e.g. "walk-through"). */
export function tierView(label: string): TierView {
  const road = h("ol", { class: "road", "data-testid": "path", "aria-label": `the road through the tiers (${label})` });
  const roadStops = PATH_TIERS.map((t, i) => {
    const li = h("li", { class: "stop", "data-tier": t, "data-state": "idle", style: `--i: ${i}` }, PATH_LABELS[t]);
    road.append(li);
    return li;
  });
  const roadText = h("p", { class: "visually-hidden", "aria-live": "polite" });
  const panel = (title: string, testid: string | undefined, factsId: string) => {
    const picture = h("div", { class: "picture", ...(testid ? { "data-testid": testid } : {}) });
    const facts = h("ul", { class: "facts", "data-testid": factsId });
    const section = h("section", { class: "tier", "aria-label": `${title} (${label})` }, h("h3", {}, title), picture, facts);
    return { section, picture, facts };
  };
  const py = panel("pymalloc: arenas, pools, blocks", "arena-map", "pymalloc-facts");
  const libc = panel("malloc: glibc's chunks and top", "heap-map", "libc-facts");
  const kernel = panel("kernel: mappings and page table entries", "page-map", "kernel-facts");
  const ram = panel("RAM: physical frames", undefined, "ram-facts");
  const account = h("table", { class: "account", "data-testid": "account", "aria-label": `resident memory by cause (${label})` });
  const root = h("div", { class: "tiers" }, road, roadText, py.section, libc.section, kernel.section, ram.section, h("section", { class: "tier" }, h("h3", {}, "The account: every resident byte by cause"), account));

  const facts = (list: HTMLElement, items: readonly string[] | undefined) => {
    list.replaceChildren(...(items ?? []).map((t) => h("li", {}, t)));
  };
  return {
    root,
    draw(state) {
      if (state.arenas === undefined) py.picture.replaceChildren(h("p", { class: "none" }, "No pymalloc in this configuration: PyObject_Malloc goes to malloc."));
      else setSvg(py.picture, renderArenaMap(state.arenas, { width: WIDTH }));
      setSvg(libc.picture, renderHeapMap(state.heap, { width: WIDTH }));
      setSvg(kernel.picture, renderPageMap(state.pages, { width: WIDTH }));
      facts(py.facts, state.facts?.pymalloc);
      facts(libc.facts, state.facts?.libc);
      facts(kernel.facts, state.facts?.kernel);
      facts(ram.facts, state.facts?.ram?.length ? state.facts.ram : ["Frames are given to pages on their first touch (a minor page fault)."]);
      const rows = accountRows(state.causes);
      const total = Object.values(state.causes).reduce((a, b) => a + b, 0);
      account.replaceChildren(
        h("caption", {}, `RssAnon ${total.toLocaleString("en-US")} bytes`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "cause"), h("th", { scope: "col" }, "bytes"), h("th", { scope: "col" }, "share"))),
        h("tbody", {}, ...rows.map((r) => h("tr", {}, h("td", {}, r.cause), h("td", { title: `${r.bytes} bytes` }, r.shown), h("td", {}, `${r.percent} %`)))),
      );
      for (const [i, t] of PATH_TIERS.entries()) {
        const stop = roadStops[i]!;
        stop.setAttribute("data-state", state.path?.[t] ?? "idle");
        // restart the lighting animation for the new call
        stop.style.animationName = "none";
        void stop.offsetWidth;
        stop.style.animationName = "";
      }
      roadText.textContent = state.path ? `Road: ${pathText(state.path)}` : "";
      road.setAttribute("aria-description", state.path ? pathText(state.path) : "no call yet");
    },
  };
}
