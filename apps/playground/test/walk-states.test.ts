import { describe, expect, it } from "vitest";
import { pathOf, pathText } from "../src/path.js";
import { walkthroughStates } from "../src/walk-states.js";

describe("walkthroughStates", () => {
  it("repeats the walk-through on a twin stack: the same pointers as its routes, every preset", () => {
    for (const pythonMalloc of ["default", "malloc", "debug"] as const) {
      const { walkthrough, states } = walkthroughStates({ pythonMalloc });
      expect(states).toHaveLength(walkthrough.steps.length);
      for (const s of states) expect(s.pointers).toEqual(s.step.routes.map((r) => r.pointer));
    }
  });

  it("draws the default stack's state step by step: a new arena, a second block in the same pool, a brk chunk, an mmapped chunk", () => {
    const { states } = walkthroughStates();
    const [naive, person, person2, medium, large, freed] = states;
    expect(naive!.maps.arenas?.arenas ?? []).toHaveLength(0);
    expect(person!.maps.arenas!.arenas).toHaveLength(1);
    // the first block makes pymalloc allocate its arena table and usedpools (realloc, calloc): malloc works too
    expect(pathText(person!.path)).toBe("PyObject_Malloc → pymalloc → malloc → kernel → RAM");
    expect(person2!.path).toEqual({ api: "active", pymalloc: "active", malloc: "idle", kernel: "idle", ram: "idle" });
    expect(medium!.path.pymalloc).toBe("passed");
    expect(medium!.path.malloc).toBe("active");
    expect(medium!.maps.heap.chunks.some((c) => c.state === "in-use")).toBe(true);
    // pymalloc's arena map (calloc of 256 KiB) has a mapping of its own from step 1 on; the 1 MiB block adds one
    expect(large!.maps.heap.mmapped).toHaveLength(medium!.maps.heap.mmapped.length + 1);
    expect(freed!.maps.heap.mmapped).toHaveLength(medium!.maps.heap.mmapped.length);
    expect(freed!.maps.account.rssAnon).toBeLessThan(large!.maps.account.rssAnon);
  });

  it("has no pymalloc stop under PYTHONMALLOC=malloc", () => {
    const { states } = walkthroughStates({ pythonMalloc: "malloc" });
    expect(states[1]!.path.pymalloc).toBe("idle");
    expect(states[1]!.path.malloc).toBe("active");
    expect(states[1]!.maps.arenas).toBeUndefined();
  });
});

describe("pathOf", () => {
  it("lights malloc alone for a direct malloc served from the heap's top", () => {
    expect(pathOf({ entry: "libc", pymallocPresent: true, pymallocServed: false, calls: [], faults: 0 })).toEqual({ api: "idle", pymalloc: "idle", malloc: "active", kernel: "idle", ram: "idle" });
  });
  it("says pymalloc passed a raw-domain request on only for the obj and mem domains", () => {
    expect(pathOf({ entry: "raw", pymallocPresent: true, pymallocServed: false, calls: [{ tier: "libc", text: "malloc(600) = 0x1" }], faults: 0 }).pymalloc).toBe("idle");
    expect(pathOf({ entry: "mem", pymallocPresent: true, pymallocServed: false, calls: [{ tier: "libc", text: "malloc(600) = 0x1" }], faults: 0 }).pymalloc).toBe("passed");
  });
});
