/**
 * CPython 3.12+ sub-interpreters with their own obmalloc state (PEP 684) through the whole
 * stack: real 3.12.1 and 3.13.0 recordings of a program that runs code in an isolated
 * sub-interpreter (`# obmalloc-state <id>` lines, packages/small-object/test/fixtures/versions)
 * replay with one pymalloc per state, and the main interpreter's statistics equal the real ones.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { obmallocStateOf, obmallocStates, ObmallocStateError, selectObmallocState } from "../src/obmalloc-states.js";
import { readTraceHeader, replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";
import { pymallocVersionOf } from "../src/trace-settings.js";

const dir = fileURLToPath(new URL("../../../packages/small-object/test/fixtures/versions/", import.meta.url));

describe("one pymalloc per obmalloc state", () => {
  for (const version of ["3.12.1", "3.13.0"]) {
    it(`subinterpreter-${version}: the main interpreter's statistics, line for line`, { timeout: 120_000 }, async () => {
      const file = `${dir}subinterpreter-${version}.memtrace.gz`;
      const header = await readTraceHeader(file);
      const stack = createStack({ pymallocVersion: pymallocVersionOf(header.python!) });
      const summary = await replayFile(stack, file);
      expect(summary.divergences).toBe(0);
      expect(stack.pymalloc!.debugMallocStats()).toBe(readFileSync(`${dir}subinterpreter-${version}.stats.txt`, "utf8"));
      const states = obmallocStates(stack);
      expect(states.length).toBe(2);
      expect(states[0]).toBe(stack.pymalloc);
      expect(states[1]!.narenasCurrentlyAllocated).toBeGreaterThan(0); // the sub-interpreter's own arenas
      for (const pm of states) pm.check();
    });
  }

  it("reads the comment; without pymalloc the lines change nothing; under debug hooks they are refused", () => {
    expect(obmallocStateOf(" obmalloc-state 3")).toBe(3);
    expect(obmallocStateOf(" obmalloc-state x")).toBeUndefined();
    expect(obmallocStateOf(" end atexit")).toBeUndefined();
    expect(selectObmallocState(createStack({ pythonMalloc: "malloc" }), 1)).toBeUndefined();
    const debug = createStack({ pythonMalloc: "debug" });
    expect(() => selectObmallocState(debug, 1)).toThrow(ObmallocStateError);
    expect(() => selectObmallocState(debug, 1)).toThrow("under PYTHONMALLOC=debug hooks sit above pymalloc");
    const plain = createStack({ pymallocVersion: "3.13" });
    const one = selectObmallocState(plain, 1)!;
    expect(one).not.toBe(plain.pymalloc);
    expect(one.params.name).toBe("3.13");
    expect(selectObmallocState(plain, 0)).toBe(plain.pymalloc);
    expect(selectObmallocState(plain, 1)).toBe(one);
  });
});
