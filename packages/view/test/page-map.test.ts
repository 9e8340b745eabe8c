import { describe, expect, it } from "vitest";
import { causeColour, collectMaps, GREY, renderPageMap } from "../src/index.js";
import { goldenArenas, goldenHeap } from "./support.js";
import { countByState, fillsOf, textAlternative, titles } from "./svg-support.js";

describe("page map", () => {
  const maps = collectMaps(goldenHeap());
  const data = maps.pages;
  const svg = renderPageMap(data, { id: "pages" });

  it("covers every mapping page by page, and its resident pages are exactly RssAnon", () => {
    let resident = 0;
    for (const m of data.mappings) {
      let pages = 0;
      for (let i = 0; i < m.runs.length; i += 2) {
        pages += m.runs[i + 1]!;
        if (m.runs[i]! >= 2) resident += m.runs[i + 1]!;
      }
      expect(pages * 4096).toBe(m.end - m.start);
    }
    expect(resident * 4096).toBe(maps.account.rssAnon);
  });

  it("gives each resident page the cause holding most of it: the heap's first page in use, the next the top", () => {
    const heap = data.mappings.find((m) => m.name === "[heap]")!;
    expect(heap.runs.slice(0, 4)).toEqual([2 + data.causes.indexOf("glibc.in-use"), 1, 2 + data.causes.indexOf("glibc.top"), 1]);
    const mmapped = data.mappings.find((m) => m.start === maps.heap.mmapped[0]!.address)!;
    expect(data.causes[mmapped.runs[0]! - 2]).toBe("glibc.mmapped");
    expect(data.causes).toContain("other.libc.so.6");
  });

  it("draws the heap's pages as cells with titles, not-resident light grey, causes in their colours", () => {
    const code = String(2 + data.causes.indexOf("glibc.top"));
    expect(fillsOf(svg, code)).toEqual([causeColour("glibc.top", data.causes.indexOf("glibc.top"))]);
    expect(fillsOf(svg, "0")).toContain(GREY.light);
    const t = titles(svg);
    const heapStart = data.mappings.find((m) => m.name === "[heap]")!.start;
    expect(t).toContain(`page 0x${heapStart.toString(16)}: 4.0 KiB, glibc.in-use`);
    expect(countByState(svg)[code]).toBe(1);
  });

  it("has a text alternative and a legend of causes and page states", () => {
    const alt = textAlternative(svg);
    expect(alt.title).toBe("Page map (resident pages by cause)");
    expect(alt.desc).toMatch(/glibc\.in-use 1 pages, glibc\.top 1 pages/);
    expect(svg).toMatch(/class="legend"[^]*not resident[^]*swapped out[^]*glibc\.in-use/);
  });

  it("colours a Python process's arena pages by pool state", () => {
    const p = collectMaps(goldenArenas()).pages;
    expect(p.causes).toEqual(expect.arrayContaining(["pymalloc.used-pools", "pymalloc.empty-pools"]));
  });

  it("matches the committed golden SVG", async () => {
    await expect(svg).toMatchFileSnapshot("__snapshots__/page-map.svg");
  });
});
