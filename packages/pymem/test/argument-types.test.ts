import { describe, expect, it } from "vitest";
import { PyMemUsageError } from "../src/index.js";
import { PRESETS, makeStack } from "./support/stack.js";

type Loose = Record<string, (...args: unknown[]) => unknown>;

/** Found by fuzzing (issue 11): BigInt sizes and pointers escaped as raw "Cannot mix BigInt" TypeErrors. */
describe("PyMem: BigInt and string arguments are usage errors under every preset", () => {
  for (const preset of PRESETS) {
    it(preset, () => {
      const { py } = makeStack(preset);
      const loose = py as unknown as Loose;
      for (const domain of ["raw", "mem", "obj"]) {
        const p = py.malloc(domain as "raw", 16);
        expect(() => loose.malloc!.call(py, domain, 16n), `${domain} malloc`).toThrow(PyMemUsageError);
        expect(() => loose.calloc!.call(py, domain, 1n, 16), `${domain} calloc`).toThrow(PyMemUsageError);
        expect(() => loose.calloc!.call(py, domain, 1, "16"), `${domain} calloc`).toThrow(PyMemUsageError);
        expect(() => loose.realloc!.call(py, domain, p, 32n), `${domain} realloc`).toThrow(PyMemUsageError);
        py.free(domain as "raw", p);
      }
    });
  }

  it("the debug hooks refuse a BigInt pointer", () => {
    const { py } = makeStack("debug");
    const loose = py as unknown as Loose;
    const p = py.memMalloc(16);
    expect(() => loose.memFree!.call(py, BigInt(p))).toThrow(PyMemUsageError);
    expect(() => loose.objectRealloc!.call(py, BigInt(p), 8)).toThrow(PyMemUsageError);
    py.memFree(p);
  });
});
