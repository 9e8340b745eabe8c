/**
 * The playground's page: three tabs (walk-through, console, trace) and the switches that
 * rebuild the stack (PYTHONMALLOC preset, C library, pymalloc version).
 */
import { LIBC_IMPLEMENTATIONS, PYMALLOC_VERSION_NAMES, PYTHONMALLOC_PRESETS, type LibcImplementation } from "mem-demo/browser";
import type { PythonMallocPreset } from "@mem/pymem";
import type { PymallocVersion } from "@mem/small-object";
import { byId, h } from "./ui/dom.js";
import { consoleView } from "./ui/console.js";
import { traceView } from "./ui/trace.js";
import { walkView } from "./ui/walk.js";
import type { PlaygroundOptions } from "./walk-states.js";
import "./style.css";

const options: PlaygroundOptions = { pythonMalloc: "default", libc: "glibc", pymallocVersion: "3.11" };

const select = (id: string, label: string, values: readonly string[], value: string) =>
  h("label", {}, `${label} `, h("select", { id, "data-testid": id, "aria-label": label }, ...values.map((v) => h("option", { value: v, ...(v === value ? { selected: "" } : {}) }, v))));
byId("settings").append(
  select("pythonmalloc", "PYTHONMALLOC", PYTHONMALLOC_PRESETS, "default"),
  select("libc", "libc", LIBC_IMPLEMENTATIONS, "glibc"),
  select("pymalloc-version", "pymalloc of CPython", PYMALLOC_VERSION_NAMES, "3.11"),
);

const walk = walkView(byId("walk"), options);
const console_ = consoleView(byId("console"), options);
traceView(byId("trace"));

for (const id of ["pythonmalloc", "libc", "pymalloc-version"]) {
  byId<HTMLSelectElement>(id).addEventListener("change", () => {
    options.pythonMalloc = byId<HTMLSelectElement>("pythonmalloc").value as PythonMallocPreset;
    options.libc = byId<HTMLSelectElement>("libc").value as LibcImplementation;
    options.pymallocVersion = byId<HTMLSelectElement>("pymalloc-version").value as PymallocVersion;
    walk.rebuild(options);
    console_.rebuild(options);
  });
}

// tabs: buttons with aria-selected; arrow keys move between them
const tabs = [...document.querySelectorAll<HTMLButtonElement>("[role=tab]")];
const select_ = (tab: HTMLButtonElement) => {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    byId(t.getAttribute("aria-controls") ?? "").hidden = !on;
  }
  history.replaceState(null, "", `#${tab.getAttribute("aria-controls") ?? ""}`);
};
for (const [i, tab] of tabs.entries()) {
  tab.addEventListener("click", () => select_(tab));
  tab.addEventListener("keydown", (event) => {
    const to = event.key === "ArrowRight" ? tabs[(i + 1) % tabs.length] : event.key === "ArrowLeft" ? tabs[(i + tabs.length - 1) % tabs.length] : undefined;
    if (to) {
      event.preventDefault();
      select_(to);
      to.focus();
    }
  });
}
const initial = tabs.find((t) => `#${t.getAttribute("aria-controls") ?? ""}` === location.hash) ?? tabs[0];
if (initial) select_(initial);

// ← → step the walk-through when it is shown and no field has the focus
document.addEventListener("keydown", (event) => {
  const target = event.target as HTMLElement;
  if (byId("walk").hidden || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName) || target.getAttribute("role") === "tab") return;
  if (event.key === "ArrowRight") walk.move(1);
  else if (event.key === "ArrowLeft") walk.move(-1);
});

document.body.dataset.ready = "true";
// milliseconds since the navigation started (performance.now() counts from it)
document.body.dataset.firstRenderMs = String(Math.round(performance.now()));
