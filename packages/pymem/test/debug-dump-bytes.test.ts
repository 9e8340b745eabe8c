import { describe, expect, it } from "vitest";
import { PyFatalError, dumpDebugBlock, reportBytes } from "../src/index.js";
import { makeStack } from "./support/stack.js";

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

function indexOfBytes(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Found by fuzzing (issue 11). CPython prints the API id with `%c`: one raw byte. Measured on
 * this machine (CPython 3.11.7, PYTHONMALLOC=debug, the id byte of a PyMem block set to 0xe9,
 * then PyMem_Free): stderr holds `API '` 0xe9 `'` in the dump and `Allocated using API '` 0xe9
 * `', verified using API 'm'` in the fatal error, never the UTF-8 pair 0xc3 0xa9.
 */
describe("debug dumps: an API byte of 0x80 or more is one raw byte", () => {
  it("the report is a binary string (one character per byte) and reportBytes gives the bytes CPython writes", () => {
    const { py } = makeStack("debug");
    const p = py.memMalloc(16);
    py.memory.store8(p - 8, 0xe9);
    const dump = dumpDebugBlock(py.memory, p);
    expect(dump.startsWith(`Debug memory block at address p=0x${p.toString(16)}: API '\xe9'\n    16 bytes originally requested\n`)).toBe(true);
    let error: unknown;
    try {
      py.memFree(p);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PyFatalError);
    const fatal = error as PyFatalError;
    expect(fatal.reason).toBe("bad ID: Allocated using API '\xe9', verified using API 'm'");
    const bytes = fatal.reportBytes;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes.length).toBe(fatal.report.length);
    expect(indexOfBytes(bytes, [...ascii(": API '"), 0xe9, ...ascii("'\n")])).toBeGreaterThan(0);
    expect(indexOfBytes(bytes, [...ascii("Allocated using API '"), 0xe9, ...ascii("', verified using API 'm'")])).toBeGreaterThan(0);
    expect(indexOfBytes(bytes, [0xc3, 0xa9])).toBe(-1);
  });

  it("reportBytes encodes one byte per character (a caller's character above 0xff as UTF-8)", () => {
    expect(Array.from(reportBytes("A\xdd\x80z"))).toEqual([0x41, 0xdd, 0x80, 0x7a]);
    expect(Array.from(reportBytes("\u20ac"))).toEqual([0xe2, 0x82, 0xac]);
  });
});
