/**
 * The trace viewer: drop (or choose) a `.memtrace` / `.memtrace.gz`; a Web Worker replays it
 * while the page shows how far it has got; then step through the snapshots, jump to an
 * event, or play at a speed, with the insight layer's timeline and account beside the maps.
 */
import { renderTimeline, unpackMaps } from "@mem/view";
import type { TraceReplay, TraceSnapshot } from "../trace-replay.js";
import type { WorkerMessage } from "../trace-worker.js";
import { progressText, snapshotIndexFor } from "../view-model.js";
import { h, setSvg } from "./dom.js";
import { tierView } from "./tiers.js";

/** Fills `root` with the trace viewer. */
export function traceView(root: HTMLElement): void {
  const file = h("input", { type: "file", accept: ".memtrace,.gz,.memtrace.gz,text/plain", "data-testid": "trace-input", "aria-label": "choose a .memtrace or .memtrace.gz file" });
  const drop = h("div", { class: "drop", "data-testid": "trace-drop", tabindex: "0", role: "button", "aria-label": "drop a trace file here, or press Enter to choose one" }, "Drop a .memtrace or .memtrace.gz recorded with mem-demo record here, or ", h("label", {}, "choose one: ", file));
  const bar = h("progress", { max: "1", value: "0", "aria-label": "replay progress" });
  const status = h("p", { class: "status", "data-testid": "trace-progress", "aria-live": "polite" }, "No trace open.");
  const error = h("p", { class: "stderr", role: "alert", "data-testid": "trace-error", hidden: "" });
  const first = h("button", { type: "button", "aria-label": "first snapshot", "data-testid": "trace-first" }, "|◀");
  const prev = h("button", { type: "button", "aria-label": "previous snapshot", "data-testid": "trace-back" }, "◀");
  const slider = h("input", { type: "range", min: "0", max: "0", value: "0", "aria-label": "snapshot", "data-testid": "trace-slider" });
  const nextB = h("button", { type: "button", "aria-label": "next snapshot", "data-testid": "trace-next" }, "▶");
  const last = h("button", { type: "button", "aria-label": "last snapshot", "data-testid": "trace-last" }, "▶|");
  const jump = h("input", { type: "number", min: "0", value: "0", "aria-label": "jump to call event", "data-testid": "trace-jump" });
  const jumpForm = h("form", { class: "jump" }, h("label", {}, "event ", jump), h("button", { type: "submit" }, "Jump"));
  const play = h("button", { type: "button", "aria-pressed": "false", "data-testid": "trace-play" }, "Play");
  const speed = h("select", { "aria-label": "play speed (snapshots a second)", "data-testid": "trace-speed" }, ...["1", "2", "5", "10", "25"].map((s) => h("option", { value: s, ...(s === "5" ? { selected: "" } : {}) }, `${s}/s`)));
  const at = h("p", { class: "at", "aria-live": "polite", "data-testid": "trace-at" });
  const controls = h("div", { class: "controls", hidden: "" }, first, prev, slider, nextB, last, jumpForm, play, speed);
  const timeline = h("div", { class: "picture", "data-testid": "timeline" });
  const paragraph = h("p", { class: "paragraph", "data-testid": "trace-paragraph" });
  const notes = h("ul", { class: "facts" });
  const tiers = tierView("trace");
  tiers.root.hidden = true;
  root.append(
    h("div", { class: "text" }, h("h2", {}, "Open a trace"), drop, bar, status, error, notes, controls, at, timeline, paragraph),
    tiers.root,
  );

  let replay: TraceReplay | undefined;
  let index = 0;
  let timer: number | undefined;
  let worker: Worker | undefined;

  const draw = (s: TraceSnapshot, where: string) => {
    if (!replay) return;
    const maps = unpackMaps(s.maps);
    at.textContent = `${where}: after call event ${s.event.toLocaleString("en-US")}; RssAnon ${s.account.rssAnon.toLocaleString("en-US")} bytes, ${s.account.liveBlocks.toLocaleString("en-US")} live blocks`;
    setSvg(timeline, renderTimeline(replay.timeline, { width: 640, cursor: s.event }));
    tiers.draw({ arenas: maps.arenas, heap: maps.heap, pages: maps.pages, causes: s.account.causes });
  };
  const show = () => {
    const s = replay?.snapshots[index];
    if (!replay || s === undefined) return;
    slider.value = String(index);
    draw(s, `Snapshot ${index + 1} of ${replay.snapshots.length}`);
  };
  const goto = (i: number) => {
    if (!replay) return;
    index = Math.max(0, Math.min(replay.snapshots.length - 1, i));
    show();
  };
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    play.textContent = "Play";
    play.setAttribute("aria-pressed", "false");
  };
  first.addEventListener("click", () => goto(0));
  prev.addEventListener("click", () => goto(index - 1));
  nextB.addEventListener("click", () => goto(index + 1));
  last.addEventListener("click", () => goto(Number.MAX_SAFE_INTEGER));
  slider.addEventListener("input", () => goto(Number(slider.value)));
  jumpForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!replay) return;
    stop();
    const wanted = Math.max(0, Math.min(replay.json.end.event, Math.floor(Number(jump.value))));
    const i = snapshotIndexFor(replay.snapshots.map((s) => s.event), wanted);
    if (replay.snapshots[i]?.event === wanted || worker === undefined) return goto(i);
    // between two snapshots: the worker replays the trace again up to exactly that event
    status.textContent = `Replaying to call event ${wanted.toLocaleString("en-US")} …`;
    worker.postMessage({ at: wanted });
  });
  play.addEventListener("click", () => {
    if (timer !== undefined) return stop();
    if (replay && index >= replay.snapshots.length - 1) goto(0);
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
    timer = window.setInterval(() => {
      if (!replay || index >= replay.snapshots.length - 1) return stop();
      goto(index + 1);
    }, 1000 / Number(speed.value));
  });
  speed.addEventListener("change", () => {
    if (timer !== undefined) {
      stop();
      play.click();
    }
  });

  let pending: Worker | undefined;
  const open = (blob: Blob, name: string) => {
    stop();
    pending?.terminate();
    error.hidden = true;
    bar.value = 0;
    status.textContent = `Reading ${name} …`;
    // the worker of the trace shown stays until the new one has replayed (it answers exact jumps)
    const w = new Worker(new URL("../trace-worker.ts", import.meta.url), { type: "module", name: "trace-replay" });
    pending = w;
    w.onmessage = (event: MessageEvent<WorkerMessage>) => {
      const m = event.data;
      if (m.type === "progress") {
        bar.value = m.total > 0 ? m.read / m.total : 0;
        status.textContent = `Replaying ${name}: ${progressText(m.read, m.total, m.lines, m.events)}`;
      } else if (m.type === "at") {
        index = snapshotIndexFor(replay?.snapshots.map((s) => s.event) ?? [], m.snapshot.event);
        slider.value = String(index);
        status.textContent = `Replayed again to call event ${m.snapshot.event.toLocaleString("en-US")} in ${(m.ms / 1000).toFixed(2)} s`;
        draw(m.snapshot, "Exactly");
      } else if (m.type === "error") {
        // the trace shown before (if any) stays as it was
        error.hidden = false;
        error.textContent = `${name}: ${m.message}`;
        status.textContent = replay ? "The trace opened before is still shown." : "No trace open.";
        if (w === pending) {
          w.terminate();
          pending = undefined;
        }
      } else {
        if (worker !== w) worker?.terminate();
        worker = w;
        pending = undefined;
        replay = m.replay;
        bar.value = 1;
        status.textContent = `${name}: ${m.replay.json.end.event.toLocaleString("en-US")} call events, ${m.replay.lines.toLocaleString("en-US")} lines replayed in ${(m.ms / 1000).toFixed(2)} s`;
        if (m.replay.failure) {
          error.hidden = false;
          error.textContent = `The replay stopped at line ${m.replay.failure.line}: ${m.replay.failure.message} (everything up to it is shown)`;
        }
        notes.replaceChildren(...m.replay.notes.map((n) => h("li", {}, n)));
        paragraph.textContent = m.replay.paragraph;
        slider.max = String(m.replay.snapshots.length - 1);
        jump.max = String(m.replay.json.end.event);
        controls.hidden = false;
        tiers.root.hidden = false;
        goto(m.replay.snapshots.length - 1);
        // the worker keeps the file for exact jumps
      }
    };
    w.onerror = (event) => {
      error.hidden = false;
      error.textContent = `${name}: ${event.message}`;
    };
    w.postMessage({ file: blob });
  };
  file.addEventListener("change", () => {
    const f = file.files?.[0];
    if (f) open(f, f.name);
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      file.click();
    }
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const f = event.dataTransfer?.files[0];
    if (f) open(f, f.name);
  });
  root.addEventListener("keydown", (event) => {
    if (!replay || (event.target as HTMLElement).tagName === "INPUT") return;
    if (event.key === "ArrowRight") goto(index + 1);
    else if (event.key === "ArrowLeft") goto(index - 1);
  });
}
