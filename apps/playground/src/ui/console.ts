/**
 * The console: a person types calls, each tier's picture changes, errors read as glibc and
 * CPython print them. Up / Down recall earlier lines.
 */
import { collectMaps } from "@mem/view";
import { ConsoleSession, type Outcome } from "../session.js";
import type { PlaygroundOptions } from "../walk-states.js";
import { h } from "./dom.js";
import { tierView } from "./tiers.js";

/** The console's section. */
export interface ConsoleView {
  /** Starts over on a new stack built with `options`. */
  rebuild(options: PlaygroundOptions): void;
  /** Runs one line as if typed. */
  run(line: string): Outcome;
}

const EXAMPLES = ["p = PyObject_Malloc(78)", "q = malloc(600)", "free(q)", "free(q)", "r = PyMem_RawMalloc(100000)", "PyObject_Free(p)"];

/** Fills `root` with the console. */
export function consoleView(root: HTMLElement, options: PlaygroundOptions): ConsoleView {
  const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "console output", "data-testid": "console-log" });
  const input = h("input", { type: "text", "data-testid": "console-input", "aria-label": "a call, e.g. p = PyObject_Malloc(78)", placeholder: "p = PyObject_Malloc(78)", autocomplete: "off", spellcheck: "false" });
  const form = h("form", { class: "prompt" }, h("label", {}, ">>> ", input), h("button", { type: "submit" }, "Run"));
  const vars = h("p", { class: "vars", "data-testid": "console-vars" });
  const examples = h("p", { class: "examples" }, "Try: ", ...EXAMPLES.map((e) => h("button", { type: "button", class: "example" }, e)));
  const tiers = tierView("console");
  root.append(h("div", { class: "split" }, h("div", { class: "text" }, h("h2", {}, "Drive it yourself"), examples, log, form, vars), tiers.root));
  let session = new ConsoleSession(options);
  const history: string[] = [];
  let recall = 0;

  const draw = (outcome?: Outcome) => {
    const maps = collectMaps(session.stack);
    tiers.draw({ arenas: maps.arenas, heap: maps.heap, pages: maps.pages, causes: maps.account.causes, path: outcome?.path, facts: outcome?.frame ? { ram: [outcome.frame] } : {} });
    vars.textContent = session.variables.length ? `Names: ${session.variables.map((v) => `${v.name} = 0x${v.pointer.toString(16)} (${v.size} B${v.freed ? ", freed" : ""})`).join(", ")}` : "No names assigned yet.";
  };
  const run = (line: string): Outcome => {
    const outcome = session.run(line);
    const entry = h("div", { class: `entry ${outcome.status}`, "data-status": outcome.status }, h("div", { class: "typed" }, `>>> ${line}`));
    if (outcome.calls.length) entry.append(h("pre", { class: "calls" }, outcome.calls.map((c) => `${c.tier.padEnd(6)} ${c.text}`).join("\n")));
    if (outcome.text) entry.append(h("pre", { class: outcome.status === "ok" ? "result" : "stderr", ...(outcome.status === "ok" ? {} : { role: "alert" }) }, outcome.text));
    log.append(entry);
    log.scrollTop = log.scrollHeight;
    if (outcome.status !== "error") draw(outcome);
    return outcome;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const line = input.value;
    if (line.trim() !== "") history.push(line);
    recall = history.length;
    input.value = "";
    run(line);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowUp" && recall > 0) input.value = history[--recall] ?? "";
    else if (event.key === "ArrowDown" && recall < history.length) input.value = history[++recall] ?? "";
    else return;
    event.preventDefault();
  });
  examples.addEventListener("click", (event) => {
    const target = event.target as HTMLElement;
    if (target.classList.contains("example")) {
      input.value = target.textContent ?? "";
      input.focus();
    }
  });
  const rebuild = (o: PlaygroundOptions) => {
    session = new ConsoleSession(o);
    log.append(h("div", { class: "entry note" }, `— a new stack: PYTHONMALLOC=${o.pythonMalloc ?? "default"}, libc ${o.libc ?? "glibc"}, pymalloc ${o.pymallocVersion ?? "3.11"} —`));
    draw();
  };
  log.append(h("div", { class: "entry note" }, "Type help for the calls. Each call runs on the simulated stack; the pictures show every tier after it."));
  draw();
  return { rebuild, run };
}
