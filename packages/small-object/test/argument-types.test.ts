import { describe, expect, it } from "vitest";
import { PymallocError } from "../src/index.js";
import { makeStack } from "./helpers/stack.js";

type Loose = Record<string, (...args: unknown[]) => unknown>;

/** Found by fuzzing (issue 11): BigInt arguments escaped as raw "Cannot mix BigInt" TypeErrors. */
describe("pymalloc: arguments that are not numbers get a typed error", () => {
  it("malloc, calloc, realloc and free of BigInts and strings throw PymallocError and change nothing", () => {
    const pm = makeStack().pm!;
    const p = pm.malloc(16);
    const stats = pm.debugMallocStats();
    const loose = pm as unknown as Loose;
    for (const [call, args] of [
      ["malloc", [16n]],
      ["malloc", ["16"]],
      ["calloc", [1n, 16n]],
      ["realloc", [p, 32n]],
      ["realloc", [BigInt(p), 32]],
      ["free", [BigInt(p)]],
      ["free", [String(p)]],
    ] as const) {
      expect(() => loose[call]!.apply(pm, args as unknown as unknown[]), `${call}(${String(args)})`).toThrow(PymallocError);
    }
    expect(pm.debugMallocStats()).toBe(stats);
    pm.check();
  });
});
