import { describe, expect, it } from "vitest";
import { renderWalkthrough } from "../src/render.js";
import { runWalkthrough } from "../src/walkthrough.js";

describe("the walk-through", () => {
  const walk = runWalkthrough({ ramSize: 256 << 20 });
  const text = renderWalkthrough(walk, false);

  it("shows the naive picture: one mmap'd page per 78-byte object", () => {
    const naive = walk.steps[0]!;
    expect(naive.calls.map((c) => c.text)).toEqual([
      expect.stringMatching(/^mmap\(NULL, 78, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = 0x7f[0-9a-f]+000$/),
      expect.stringMatching(/^munmap\(0x7f[0-9a-f]+000, 78\) = 0$/),
    ]);
  });

  it("follows the Person object from PyObject_Malloc down to a physical frame", () => {
    const person = walk.steps[1]!;
    const calls = person.calls.map((c) => `${c.tier} ${c.text}`);
    expect(calls).toContainEqual(expect.stringMatching(/^kernel mmap\(NULL, 1048576, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\) = 0x/));
    expect(calls).toContainEqual(expect.stringMatching(/^pymem arena allocator: alloc\(1048576\) = 0x/));
    const facts = person.facts.map((f) => `${f.tier} ${f.text}`).join("\n");
    expect(facts).toMatch(/pymalloc size class 4 \(80-byte blocks\)/);
    expect(facts).toMatch(/pool header says 1 block\(s\) in use/);
    expect(facts).toMatch(/ram virtual 0x[0-9a-f]+ → page 0x[0-9a-f]+000 → physical 0x[0-9a-f]+/);
  });

  it("the second object shares the pool: no system call, no page fault", () => {
    const second = walk.steps[2]!;
    expect(second.calls).toEqual([]);
    const facts = second.facts.map((f) => f.text).join("\n");
    expect(facts).toMatch(/pool header says 2 block\(s\) in use/);
    const faults = /page faults (\d+) → (\d+)/.exec(facts)!;
    expect(faults[1]).toBe(faults[2]);
  });

  it("600 bytes go to glibc's brk heap and 1 MiB to its own mmap", () => {
    expect(walk.steps[3]!.calls.map((c) => c.text)).toContainEqual(expect.stringMatching(/^malloc\(600\) = 0x5555/));
    // glibc's heap was set up by pymalloc's first bookkeeping malloc (step 2): a brk there, none here.
    expect(walk.steps[1]!.calls.some((c) => c.tier === "kernel" && c.text.startsWith("brk("))).toBe(true);
    expect(walk.steps[3]!.calls.some((c) => c.tier === "kernel")).toBe(false);
    const libcFact = walk.steps[3]!.facts.find((f) => f.tier === "libc")!.text;
    expect(libcFact).toMatch(/^malloc\(600\) = 0x5555[0-9a-f]+, usable size 600; chunk at 0x5555[0-9a-f]+ \(heap start \+ \d+\), 608 bytes;/);
    expect(walk.steps[4]!.calls.map((c) => c.text)).toContainEqual(expect.stringMatching(/^mmap\(NULL, 1052672, /));
    // where glibc 2.36 keeps main_arena (packages/libc-malloc/test/fixtures/main-arena.txt)
    expect(walk.steps[3]!.facts.map((f) => f.text)).toContainEqual(expect.stringMatching(/main_arena.* at 0x7ffff7fa8c60, in libc\.so\.6's data segment$/));
  });

  it("freeing returns the large chunk to the kernel and RSS falls", () => {
    const free = walk.steps[5]!;
    expect(free.calls.map((c) => c.text)).toContainEqual(expect.stringMatching(/^munmap\(0x[0-9a-f]+, 1052672\) = 0$/));
    const rss = /VmRSS (\d+) kB → (\d+) kB/.exec(free.facts.map((f) => f.text).join("\n"))!;
    expect(Number(rss[2])).toBeLessThan(Number(rss[1]));
  });

  it("ends with each tier's own account, in the real formats", () => {
    expect(text).toContain("Small block threshold = 512, in 32 size classes.");
    expect(text).toMatch(/Arena 0:\nsystem bytes\s+=/);
    expect(text).toMatch(/VmRSS:\s+\d+ kB/);
    expect(text).toMatch(/MemTotal:\s+\d+ kB/);
    expect(text).not.toContain("\u001b[");
  });

  it("tells the same story without pymalloc under PYTHONMALLOC=malloc", () => {
    const plain = runWalkthrough({ ramSize: 256 << 20, pythonMalloc: "malloc" });
    expect(plain.steps[1]!.calls.map((c) => c.text)).toContainEqual(expect.stringMatching(/^malloc\(78\) = 0x5555/));
    expect(plain.summaries.some((s) => s.tier === "pymalloc")).toBe(false);
  });
});

describe("the walk-through with the second C library", () => {
  it("runs over TLSF, whose summary is its mallinfo2()", () => {
    const walk = runWalkthrough({ ramSize: 256 << 20, libc: "tlsf" });
    const libc = walk.summaries.find((s) => s.tier === "libc")!;
    expect(libc.title).toBe("tlsf: mallinfo2()");
    expect(libc.text).toMatch(/^arena {4}= +\d+$/m);
    // glibc's chunk layout is not claimed for another allocator: TLSF's usable size of the pointer it returned.
    const libcFact = walk.steps[3]!.facts.find((f) => f.tier === "libc")!.text;
    expect(libcFact).toMatch(/^malloc\(600\) = 0x5555[0-9a-f]+, usable size 608; block at heap start \+ \d+;/);
    expect(walk.steps[3]!.story.join(" ")).toContain("tlsf's main heap");
    expect(walk.steps[3]!.facts.some((f) => f.text.includes("main_arena"))).toBe(false);
  });
});
