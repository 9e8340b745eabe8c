import { describe, expect, it } from "vitest";
import { PYMEM_DEBUG_EXTRA_BYTES, PYMEM_FORBIDDENBYTE } from "../src/index.js";
import { makeStack } from "./support/stack.js";

// python3 (3.11.7), PYTHONMALLOC=debug: PyObject_Malloc(78) shows, from p-16 to p+86,
// 00 00 00 00 00 00 00 4e 6f fd fd fd fd fd fd fd | cd x 78 | fd x 8, and 100 such blocks
// land in the 112-byte class of sys._debugmallocstats() (78 + 24 = 102 bytes asked of pymalloc).
describe("PyMem.debugBlock: the debug hooks' decoration, read back from memory", () => {
  it("reads the size word, API id and pad bytes of an OBJ block", () => {
    const { py } = makeStack("debug");
    const p = py.objectMalloc(78);
    const view = py.debugBlock("obj", p)!;
    expect(view).toEqual({
      domain: "obj",
      pointer: p,
      base: p - 16,
      requestedSize: 78,
      underlyingSize: 78 + PYMEM_DEBUG_EXTRA_BYTES,
      sizeWordBytes: 8,
      apiId: "o",
      forbiddenByte: PYMEM_FORBIDDENBYTE,
      leadingPadBytes: 7,
      trailingPadBytes: 8,
      headerBytes: 16,
      trailerBytes: 8,
      intact: true,
    });
  });

  it("names the RAW domain's id and notices a broken pad", () => {
    const { py } = makeStack("malloc_debug");
    const p = py.rawMalloc(5);
    expect(py.debugBlock("raw", p)).toMatchObject({ apiId: "r", requestedSize: 5, intact: true });
    py.memory.store8(p + 5, 0);
    expect(py.debugBlock("raw", p)).toMatchObject({ intact: false });
  });

  it("is null for a domain without debug hooks, and never changes memory", () => {
    const { py } = makeStack("default");
    const p = py.objectMalloc(78);
    expect(py.debugBlock("obj", p)).toBeNull();
    const hooked = makeStack("pymalloc_debug").py;
    const q = hooked.memMalloc(3);
    const before = hooked.memory.read(q - 16, 27);
    hooked.debugBlock("mem", q);
    expect(hooked.memory.read(q - 16, 27)).toEqual(before);
  });
});
