import { Timeline } from "@mem/insight";
import { describe, expect, it } from "vitest";
import { bytes, distinctCauseColours, renderTimeline, timelineGroups } from "../src/index.js";
import { makeStack } from "./support.js";
import { textAlternative, titles } from "./svg-support.js";

/** 1,000 objects of 24–120 bytes and every 50th of 200,000 bytes, then 90% freed. */
function golden() {
  const s = makeStack();
  const t = new Timeline(s, { every: 100 });
  const live: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const size = i % 50 === 0 ? 200_000 : 24 + (i % 13) * 8;
    const p = s.pymem.objectMalloc(size);
    live.push(p);
    t.allocated(p, size);
    t.afterCall();
  }
  live.forEach((p, i) => {
    if (i % 10 === 0) return;
    s.pymem.objectFree(p);
    t.released(p);
    t.afterCall();
  });
  t.narrate("malloc-trim", "the program called malloc_trim(0)");
  return t.finish();
}

describe("timeline", () => {
  const result = golden();
  const svg = renderTimeline(result, { id: "timeline" });

  it("stacks one area per cause group, in the causes' colours, with the live line and the peak", () => {
    const groups = timelineGroups(result.timeline);
    const areas = [...svg.matchAll(/<path [^>]*fill="([^"]+)"[^>]*class="area" data-cause="([^"]+)"/g)].map((m) => [m[2], m[1]]);
    expect(areas.map((a) => a[0])).toEqual(groups);
    expect(groups.length).toBeLessThanOrEqual(7);
    expect(areas.map((a) => a[1])).toEqual(distinctCauseColours(groups));
    expect(new Set(areas.map((a) => a[1])).size).toBe(areas.length); // no two areas share a colour
    expect((svg.match(/class="live"/g) ?? []).length).toBe(1);
    expect(titles(svg)).toContain(`peak: RSS ${bytes(result.peak.rssAnon)} at event ${result.peak.event}`);
  });

  it("marks the policy events, each narrated in its title", () => {
    const markers = svg.match(/class="event"/g) ?? [];
    expect(markers.length).toBe(result.events.length);
    expect(titles(svg)).toContain(`event ${result.events.at(-1)!.event}: the program called malloc_trim(0)`);
  });

  it("draws the slider's cursor when asked", () => {
    expect(svg).not.toContain('class="cursor"');
    expect(renderTimeline(result, { cursor: 500 })).toContain('class="cursor"');
  });

  it("has a text alternative and a legend", () => {
    const alt = textAlternative(svg);
    expect(alt.title).toBe("RSS over time by cause");
    expect(alt.desc).toMatch(new RegExp(`^RSS over ${result.end.event} call events in ${result.timeline.length} samples: peak`));
    expect(svg).toMatch(/class="legend"[^]*live requested[^]*peak[^]*policy event/);
  });

  it("matches the committed golden SVG", async () => {
    await expect(svg).toMatchFileSnapshot("__snapshots__/timeline.svg");
  });
});

describe("timeline of a single sample", () => {
  it("draws the sample as a band from event 0, not an invisible sliver", () => {
    const svg = renderTimeline({ timeline: [{ event: 3, rssAnon: 8192, liveRequested: 40, causes: { "glibc.top": 4096, "other.[stack]": 4096 } }], peak: { event: 3, rssAnon: 8192 }, events: [] });
    const d = /<path d="([^"]+)"[^>]*class="area" data-cause="glibc.top"/.exec(svg)![1]!;
    const xs = [...d.matchAll(/[ML]([\d.]+) /g)].map((m) => Number(m[1]));
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(800);
  });
});

describe("timeline with other configurations' RSS", () => {
  it("draws each series as a line with its own colour, a legend entry and a title, on a scale that holds it", () => {
    const data = { timeline: [{ event: 10, rssAnon: 8192, liveRequested: 40, causes: { "glibc.top": 8192 } }, { event: 20, rssAnon: 4096, liveRequested: 40, causes: { "glibc.top": 4096 } }], peak: { event: 10, rssAnon: 8192 }, events: [] };
    const series = [
      { label: "PYTHONMALLOC=malloc", points: [{ event: 10, value: 16384 }, { event: 20, value: 12288 }] },
      { label: "libc=tlsf", points: [{ event: 10, value: 4096 }, { event: 20, value: 4096 }] },
    ];
    const svg = renderTimeline(data, { series });
    const lines = [...svg.matchAll(/<path [^>]*stroke="([^"]+)"[^>]*class="series" data-series="([^"]+)"/g)].map((m) => [m[2], m[1]]);
    expect(lines.map((l) => l[0])).toEqual(["PYTHONMALLOC=malloc", "libc=tlsf"]);
    expect(new Set(lines.map((l) => l[1])).size).toBe(2);
    const dashes = [...svg.matchAll(/stroke-dasharray="([^"]+)" class="series"/g)].map((m) => m[1]);
    expect(new Set(dashes).size).toBe(2); // colour is not the only cue
    expect((svg.match(/class="series-halo"/g) ?? []).length).toBe(2);
    expect(titles(svg)).toContain("PYTHONMALLOC=malloc: peak 16.0 KiB, 12.0 KiB at the end");
    expect(svg).toMatch(/class="legend"[^]*RSS: PYTHONMALLOC=malloc[^]*RSS: libc=tlsf/);
    expect(svg).toContain(">16.0 KiB</text>"); // the top tick is the highest series
    expect(textAlternative(svg).desc).toMatch(/Lines: PYTHONMALLOC=malloc \(peak 16\.0 KiB\), libc=tlsf \(peak 4\.0 KiB\)\.$/);
    expect(renderTimeline(data)).not.toContain('class="series"');
  });
});
