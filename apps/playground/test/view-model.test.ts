import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accountRows, factsByPanel, progressText, snapshotIndexFor, storyParagraphs } from "../src/view-model.js";

describe("view model", () => {
  it("puts PyMem's and pymalloc's facts beside the arena map, the rest beside their tier", () => {
    const facts = factsByPanel([
      { tier: "pymem", text: "a" },
      { tier: "pymalloc", text: "b" },
      { tier: "libc", text: "c" },
      { tier: "kernel", text: "d" },
      { tier: "ram", text: "e" },
    ]);
    expect(facts).toEqual({ pymalloc: ["a", "b"], libc: ["c"], kernel: ["d"], ram: ["e"] });
  });

  it("lists the causes largest first with their share, leaving out the empty ones", () => {
    expect(accountRows({ "glibc.top": 4096, "pymalloc.used-pools": 12288, "other.stack": 0 })).toEqual([
      { cause: "pymalloc.used-pools", bytes: 12288, shown: "12.0 KiB", percent: "75.0" },
      { cause: "glibc.top", bytes: 4096, shown: "4.0 KiB", percent: "25.0" },
    ]);
  });

  it("jumps to the last snapshot at or before an event", () => {
    const events = [0, 10, 20, 40];
    expect([-5, 0, 9, 10, 11, 39, 40, 1000].map((e) => snapshotIndexFor(events, e))).toEqual([0, 0, 0, 1, 1, 2, 3, 3]);
    expect(snapshotIndexFor([], 3)).toBe(-1);
  });

  it("jumps like a linear scan would (property)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(1000), { minLength: 1 }), fc.integer({ min: -10, max: 1100 }), (raw, e) => {
        const events = [0, ...raw.filter((x) => x > 0).sort((a, b) => a - b)];
        let expected = 0;
        events.forEach((x, i) => {
          if (x <= e) expected = i;
        });
        expect(snapshotIndexFor(events, e)).toBe(expected);
      }),
    );
  });

  it("says how far a trace has been read", () => {
    expect(progressText(512 * 1024, 2 * 1024 * 1024, 120331, 60112)).toBe("512.0 KiB of 2.0 MiB (25 %) · 120,331 lines · 60,112 events");
  });

  it("joins the story's wrapped lines into paragraphs at the ends of sentences", () => {
    expect(storyParagraphs(["The object needs 78 bytes.", "To tell its blocks apart, an arena map, a radix tree whose", "mid nodes come from PyMem_RawCalloc.", "a trailing clause"])).toEqual([
      "The object needs 78 bytes.",
      "To tell its blocks apart, an arena map, a radix tree whose mid nodes come from PyMem_RawCalloc.",
      "a trailing clause",
    ]);
  });
});
