/**
 * The walk-through, one step at a time: Next / Back (and the arrow keys), the step's story
 * and calls beside the tiers' pictures after it, the road it took lit up.
 */
import { walkthroughStates, type PlaygroundOptions, type WalkState } from "../walk-states.js";
import { factsByPanel, storyParagraphs } from "../view-model.js";
import { h } from "./dom.js";
import { tierView } from "./tiers.js";

/** The walk-through's section. */
export interface WalkView {
  /** Rebuilds the walk-through with new options, keeping the step. */
  rebuild(options: PlaygroundOptions): void;
  /** Moves by `delta` steps. */
  move(delta: number): void;
}

/** Fills `root` with the walk-through. */
export function walkView(root: HTMLElement, options: PlaygroundOptions): WalkView {
  const back = h("button", { type: "button", "data-testid": "back", "aria-label": "previous step" }, "◀ Back");
  const next = h("button", { type: "button", "data-testid": "next", "aria-label": "next step" }, "Next ▶");
  const counter = h("span", { class: "counter", "aria-live": "polite", "data-testid": "step-counter" });
  const title = h("h2", { "data-testid": "step-title", tabindex: "-1" });
  const story = h("div", { class: "story", "data-testid": "story" });
  const calls = h("pre", { class: "calls", "data-testid": "calls", "aria-label": "the calls that crossed a tier boundary" });
  const tiers = tierView("walk-through");
  root.append(
    h("div", { class: "controls" }, back, counter, next, h("span", { class: "hint" }, "← → keys move too")),
    h("div", { class: "split" }, h("div", { class: "text" }, title, story, h("h3", {}, "Calls across the tiers"), calls), tiers.root),
  );
  let states: readonly WalkState[] = [];
  let index = 0;

  const show = () => {
    const s = states[index];
    if (s === undefined) return;
    title.textContent = s.step.title;
    story.replaceChildren(...storyParagraphs(s.step.story).map((p) => h("p", {}, p)));
    calls.textContent = s.step.calls.length ? s.step.calls.map((c) => `${c.tier.padEnd(6)} ${c.text}`).join("\n") : "(no call crossed a tier boundary: served from memory the process already had)";
    counter.textContent = `Step ${index + 1} of ${states.length}`;
    back.disabled = index === 0;
    next.disabled = index === states.length - 1;
    const { arenas, heap, pages, account } = s.maps;
    tiers.draw({ arenas, heap, pages, causes: account.causes, facts: factsByPanel(s.step.facts), path: s.path });
  };
  const move = (delta: number) => {
    const to = Math.max(0, Math.min(states.length - 1, index + delta));
    if (to === index) return;
    index = to;
    show();
  };
  back.addEventListener("click", () => move(-1));
  next.addEventListener("click", () => move(1));
  const rebuild = (o: PlaygroundOptions) => {
    states = walkthroughStates(o).states;
    index = Math.min(index, states.length - 1);
    show();
  };
  rebuild(options);
  return { rebuild, move };
}
