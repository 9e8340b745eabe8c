import { describe, expect, it } from "vitest";
import { MemtraceSyntaxError, TraceRecord, parseLine, parseLineInto } from "../src/index.js";

describe("parseLine: every event kind", () => {
  it("reads malloc, calloc, realloc, free, memalign in each domain", () => {
    expect(parseLine("m obj 78 0x7f3a10e8a030")).toEqual({ kind: "malloc", domain: "obj", size: 78, result: 0x7f3a10e8a030 });
    expect(parseLine("c raw 1 133 0x55d0c3a2e2a0")).toEqual({ kind: "calloc", domain: "raw", nelem: 1, elsize: 133, result: 0x55d0c3a2e2a0 });
    expect(parseLine("r mem 0x0 32 0x10")).toEqual({ kind: "realloc", domain: "mem", ptr: 0, size: 32, result: 0x10 });
    expect(parseLine("r libc 0x10 0 0x0")).toEqual({ kind: "realloc", domain: "libc", ptr: 0x10, size: 0, result: 0 });
    expect(parseLine("f libc 0x0")).toEqual({ kind: "free", domain: "libc", ptr: 0 });
    expect(parseLine("a libc 4096 5000 0x5564f283a000")).toEqual({ kind: "memalign", domain: "libc", alignment: 4096, size: 5000, result: 0x5564f283a000 });
  });

  it("reads arena observations, writes, heap-start and comments", () => {
    expect(parseLine("A 1048576 0x7fee87ee7000")).toEqual({ kind: "arena-alloc", size: 1048576, result: 0x7fee87ee7000 });
    expect(parseLine("D 0x7fee87ee7000 1048576")).toEqual({ kind: "arena-free", ptr: 0x7fee87ee7000, size: 1048576 });
    expect(parseLine("w 0x1000 16 00ff7a")).toEqual({ kind: "write", ptr: 0x1000, offset: 16, bytes: new Uint8Array([0, 255, 0x7a]) });
    expect(parseLine("# heap-start 0x55d0c3a2e000")).toEqual({ kind: "heap-start", address: 0x55d0c3a2e000 });
    expect(parseLine("# memtrace v1")).toEqual({ kind: "comment", text: " memtrace v1" });
    expect(parseLine("#")).toEqual({ kind: "comment", text: "" });
    expect(parseLine("# heap-starts here")).toEqual({ kind: "comment", text: " heap-starts here" });
  });

  it("accepts the largest safe numbers and a CRLF line end", () => {
    expect(parseLine("m raw 9007199254740991 0x1fffffffffffff")).toEqual({ kind: "malloc", domain: "raw", size: 2 ** 53 - 1, result: 2 ** 53 - 1 });
    expect(parseLine("f obj 0x10\r")).toEqual({ kind: "free", domain: "obj", ptr: 16 });
  });

  it("parses a line in the middle of a larger text without copying it", () => {
    const text = "xxm obj 16 0x20yy";
    const rec = new TraceRecord();
    parseLineInto(text, 2, text.length - 2, 7, rec);
    expect(rec.toEvent()).toEqual({ kind: "malloc", domain: "obj", size: 16, result: 0x20 });
  });
});

describe("parseLine: errors name the line and what is wrong", () => {
  const cases: [string, string][] = [
    ["r raw 0x10 32", "realloc needs 3 fields after the domain, got 2"],
    ["m obj 1 0x10 0x20", "malloc needs 2 fields after the domain, got 3"],
    ["f", "free needs a domain and 1 field after it, got none"],
    ["A 1048576", "arena-alloc (A) needs 2 fields, got 1"],
    ["D 0x10 1048576 7", "arena-free (D) needs 2 fields, got 3"],
    ["w 0x10 0", "write (w) needs 3 fields, got 2"],
    ["q raw 1 0x0", 'unknown event "q" (expected m, c, r, f, a, A, D, w, t, n, x, or # for a comment)'],
    ["malloc raw 1 0x0", 'unknown event "malloc" (expected m, c, r, f, a, A, D, w, t, n, x, or # for a comment)'],
    ["m heap 1 0x0", 'unknown domain "heap" (expected raw, mem, obj or libc)'],
    ["m raw 12a 0x0", 'malloc size "12a" is not a decimal number'],
    ["m raw -1 0x0", 'malloc size "-1" is not a decimal number'],
    ["m raw 12 7f00", 'malloc result "7f00" is not a hex pointer (0x followed by hex digits)'],
    ["m raw 12 0x", 'malloc result "0x" is not a hex pointer (0x followed by hex digits)'],
    ["f raw 0xzz", 'free ptr "0xzz" is not a hex pointer (0x followed by hex digits)'],
    ["c raw 1 x 0x0", 'calloc elsize "x" is not a decimal number'],
    ["m raw 9007199254740992 0x0", "malloc size 9007199254740992 is above 2^53-1, the largest number the stack handles"],
    ["m raw 1 0x20000000000000", "malloc result 0x20000000000000 is above 2^53-1, the largest address the stack handles"],
    ["m raw  1 0x0", 'empty field in "m raw  1 0x0" (fields are separated by exactly one space)'],
    ["f raw 0x0 ", 'empty field in "f raw 0x0 " (fields are separated by exactly one space)'],
    ["w 0x10 0 abc", 'write bytes "abc" have an odd number of hex digits'],
    ["w 0x10 0 zz", 'write bytes "zz" are not hex digits'],
    ["# heap-start 55d0", 'heap-start "55d0" is not a hex pointer (0x followed by hex digits)'],
    ["", "empty line (comments start with #)"],
  ];
  it.each(cases)("%j", (text, reason) => {
    let caught: unknown;
    try {
      parseLine(text, 12);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MemtraceSyntaxError);
    const err = caught as MemtraceSyntaxError;
    expect(err.message).toBe(`memtrace: line 12: ${reason}`);
    expect(err.line).toBe(12);
    expect(err.reason).toBe(reason);
  });
});
