/**
 * The walk-through under every configuration `mem-demo` offers: each PYTHONMALLOC preset ×
 * C library × pymalloc version. The story is checked against facts computed here on their own
 * (the presets' parameters, CPython's debug overhead) and against the numbers the walk-through
 * itself carries in its JSON form.
 *
 * Measured with python3 (CPython 3.11.7) here: under PYTHONMALLOC=debug and pymalloc_debug,
 * 100 x PyObject_Malloc(78) add 100 blocks to the 112-byte class of sys._debugmallocstats()
 * (78 + 24 = 102 bytes reach pymalloc), the 16 bytes before each are
 * `00 00 00 00 00 00 00 4e 6f fd fd fd fd fd fd fd` and the 8 after `fd` x 8; under
 * malloc_debug no pymalloc class changes and malloc_usable_size(p - 16) is 104.
 * PyObject_Malloc(600) under debug has a second header ('r', size 624) below the first: libc
 * is asked for 648 bytes.
 */
import { PYMEM_DEBUG_EXTRA_BYTES } from "@mem/pymem";
import { PYMALLOC_VERSIONS } from "@mem/small-object";
import { beforeAll, describe, expect, it } from "vitest";
import { renderWalkthrough } from "../src/render.js";
import { LIBC_IMPLEMENTATIONS, PYMALLOC_VERSION_NAMES, PYTHONMALLOC_PRESETS } from "../src/stack.js";
import type { BlockRoute, LibcLayer, PymallocLayer } from "../src/walkthrough-route.js";
import { bytes } from "../src/walkthrough-story.js";
import { runWalkthrough, type Step, type Walkthrough } from "../src/walkthrough.js";

const PAGE = 4096;
const combos = PYTHONMALLOC_PRESETS.flatMap((preset) =>
  LIBC_IMPLEMENTATIONS.flatMap((libc) => PYMALLOC_VERSION_NAMES.map((version) => ({ preset, libc, version }))),
);

const story = (step: Step): string => step.story.join(" ");
const squash = (text: string): string => text.replace(/\s+/g, " ");
const libcOf = (route: BlockRoute): LibcLayer | undefined => route.layers.find((l): l is LibcLayer => l.kind === "libc");
const pymallocOf = (route: BlockRoute): PymallocLayer | undefined => route.layers.find((l): l is PymallocLayer => l.kind === "pymalloc");

describe("the walk-through under every configuration", () => {
  it("covers all 72 combinations", () => {
    expect(combos).toHaveLength(PYTHONMALLOC_PRESETS.length * LIBC_IMPLEMENTATIONS.length * PYMALLOC_VERSION_NAMES.length);
    expect(combos).toHaveLength(72);
  });

  describe.each(combos)("PYTHONMALLOC=$preset, libc $libc, pymalloc $version", ({ preset, libc, version }) => {
    const params = PYMALLOC_VERSIONS[version];
    const debug = preset.endsWith("debug");
    const usesPymalloc = preset !== "malloc" && preset !== "malloc_debug";
    const extra = debug ? PYMEM_DEBUG_EXTRA_BYTES : 0;
    let walk: Walkthrough;
    let text: string;
    let flat: string;
    let personStep: Step, secondStep: Step, mediumStep: Step, largeStep: Step, freeStep: Step;
    // Run in beforeAll: a configuration that crashes fails its own tests, not the whole file.
    beforeAll(() => {
      walk = runWalkthrough({ ramSize: 64 << 20, pythonMalloc: preset, libc, pymallocVersion: version });
      text = renderWalkthrough(walk, false);
      flat = squash(text);
      [, personStep, secondStep, mediumStep, largeStep, freeStep] = walk.steps as [Step, Step, Step, Step, Step, Step];
    });

    it("runs and names the version in its title", () => {
      expect(walk.steps).toHaveLength(6);
      expect(text.split("\n")[0]).toBe(`The CPython ${version} allocation stack, tier by tier`);
      expect(walk.configuration).toEqual({ pythonMalloc: preset, libc, pymallocVersion: version, ramSize: 64 << 20 });
    });

    it("names the debug hooks' pad bytes exactly when they are there", () => {
      const person = personStep.routes[0]!;
      const first = person.layers[0]!;
      if (debug) {
        expect(first.kind).toBe("debug");
        if (first.kind !== "debug") return;
        expect(first.view).toMatchObject({ apiId: "o", requestedSize: 78, underlyingSize: 78 + extra, intact: true, base: person.pointer - 16 });
        expect(story(personStep)).toContain(`78 + ${extra} = ${78 + extra} bytes`);
        expect(story(personStep)).toMatch(/the API id 'o' and 7 FORBIDDENBYTEs 0xFD\) and 8 more 0xFD bytes after it/);
        expect(story(freeStep)).toContain("DEADBYTE 0xDD");
        expect(story(freeStep)).toContain("the first Person's data now reads 0xDD");
      } else {
        expect(first.kind).not.toBe("debug");
        expect(flat).not.toMatch(/FORBIDDENBYTE|debug hooks/);
      }
    });

    it("tells pymalloc's part with this version's size class, pools, arenas and arena map — or says there is none", () => {
      const personStory = story(personStep);
      const pm = pymallocOf(personStep.routes[0]!);
      if (!usesPymalloc) {
        expect(pm).toBeUndefined();
        expect(personStory).toContain("there is no pymalloc: the request goes straight to the C library's malloc");
        expect(flat).not.toMatch(/size class|arena map|radix/);
        expect(personStep.calls.map((c) => c.text)).toContainEqual(expect.stringMatching(new RegExp(`^malloc\\(${78 + extra}\\) = 0x`)));
        expect(walk.summaries.some((s) => s.tier === "pymalloc")).toBe(false);
        return;
      }
      const blockSize = Math.ceil((78 + extra) / params.alignment) * params.alignment;
      expect(blockSize).toBe(debug ? 112 : 80);
      expect(pm).toMatchObject({ request: 78 + extra, blockSize, poolSize: params.poolSize, arenaSize: params.arenaSize, blocksInUse: 1 });
      expect(personStory).toContain(`rounds ${78 + extra} up to its ${blockSize}-byte size class`);
      expect(story(secondStep)).toContain(`Same ${blockSize}-byte size class`);
      expect(personStory).toContain(`carves a ${bytes(params.poolSize)} pool`);
      expect(personStory).toContain(`arena allocator for ${bytes(params.arenaSize)}`);
      expect(personStep.calls.map((c) => c.text)).toContainEqual(`arena allocator: alloc(${params.arenaSize}) = ${personStep.calls.find((c) => c.text.startsWith("arena allocator"))!.text.split(" = ")[1]}`);
      // nothing of another version's geometry
      for (const other of Object.values(PYMALLOC_VERSIONS)) {
        if (other.poolSize !== params.poolSize) expect(flat).not.toContain(`${bytes(other.poolSize)} pool`);
        if (other.arenaSize !== params.arenaSize) expect(flat).not.toContain(`arena allocator for ${bytes(other.arenaSize)}`);
      }
      if (params.radixTree) {
        expect(personStory).toContain("arena map, a radix tree");
        expect(personStory).not.toContain("no radix tree");
      } else {
        expect(personStory).toContain(`CPython ${version} has no radix tree`);
        expect(personStory).toContain("address_in_range");
        expect(personStory).not.toContain("arena map");
      }
      const stats = walk.summaries.find((s) => s.tier === "pymalloc")!.text;
      expect(Number(/\d+ arenas \* (\d+) bytes\/arena/.exec(stats)![1])).toBe(params.arenaSize);
      const released = freeStep.calls.some((c) => c.text.startsWith("arena allocator: free("));
      expect(released).toBe(!params.keepLastEmptyArena);
      expect(story(freeStep)).toContain(params.keepLastEmptyArena ? "the last one is kept" : `CPython ${version} releases every wholly free arena`);
    });

    it("has the C library report sizes of the pointers it returned, plausible for the request", () => {
      const routes = walk.steps.flatMap((s) => s.routes);
      const served = routes.map(libcOf).filter((l): l is LibcLayer => l !== undefined);
      expect(served.length).toBeGreaterThanOrEqual(2);
      for (const l of served) {
        expect(l.implementation).toBe(libc);
        expect(l.usableSize, `usable size of malloc(${l.request})`).toBeGreaterThanOrEqual(l.request);
        expect(l.usableSize, `usable size of malloc(${l.request})`).toBeLessThan(l.request + (l.region === "heap" ? 64 : PAGE + 64));
      }
      // The C library is asked for the request plus 24 bytes per debug layer: one for OBJ, and
      // one more for RAW when pymalloc passes the request on.
      const mediumRequest = 600 + extra + (usesPymalloc ? extra : 0);
      expect(libcOf(mediumStep.routes[0]!)).toMatchObject({ request: mediumRequest, region: "heap" });
      expect(mediumStep.calls.map((c) => c.text)).toContainEqual(expect.stringMatching(new RegExp(`^malloc\\(${mediumRequest}\\) = 0x`)));
      const large = libcOf(largeStep.routes[0]!)!;
      expect(large).toMatchObject({ request: (1 << 20) + extra + (usesPymalloc ? extra : 0), region: "mapping" });
      expect(large.mapping.end - large.mapping.start).toBe(Math.ceil((large.request + 16) / PAGE) * PAGE);
      expect(story(largeStep)).toContain(`At or above ${libc}'s mmap threshold (${libc === "glibc" ? "128 KiB" : "256 KiB"} now)`);
      expect(story(largeStep)).toContain(`(${bytes(large.mapping.end - large.mapping.start)})`);
      expect(freeStep.calls.map((c) => c.text)).toContainEqual(`munmap(0x${large.mapping.start.toString(16)}, ${large.mapping.end - large.mapping.start}) = 0`);
      if (libc === "tlsf") {
        const told = walk.steps.map((s) => `${story(s)}\n${s.facts.map((f) => f.text).join("\n")}`).join("\n");
        expect(told).not.toMatch(/glibc|chunk|tcache|main_arena/);
      } else {
        expect(libcOf(mediumStep.routes[0]!)!.chunk!.size).toBe(Math.max(32, Math.ceil((mediumRequest + 8) / 16) * 16));
        expect(story(freeStep)).toContain("glibc's tcache for reuse");
      }
    });

    it("prints what its JSON form carries", () => {
      const json = JSON.parse(JSON.stringify(walk)) as typeof walk;
      expect(json).toEqual(walk);
      for (const step of json.steps) {
        expect(flat).toContain(squash(story(step)));
        for (const fact of step.facts) expect(text).toContain(fact.text);
        for (const call of step.calls) expect(text).toContain(call.text);
        for (const route of step.routes) {
          for (const layer of route.layers) {
            if (layer.kind === "libc") expect(text).toContain(`malloc(${layer.request}) = 0x${layer.pointer.toString(16)}, usable size ${layer.usableSize}`);
            if (layer.kind === "pymalloc") expect(text).toContain(`size class ${layer.sizeIndex} (${layer.blockSize}-byte blocks) for ${layer.request} bytes`);
            if (layer.kind === "debug") expect(text).toContain(`the size word says ${layer.view.requestedSize}, API id '${layer.view.apiId}'`);
          }
        }
      }
    });
  });
});
