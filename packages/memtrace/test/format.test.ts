import { describe, expect, it } from "vitest";
import { formatBytes, formatEvent, formatPointer, formatTraceWithHeader } from "../src/index.js";

describe("format", () => {
  it("prints pointers as 0x + lowercase hex on both sides of 2^32", () => {
    expect(formatPointer(0)).toBe("0x0");
    expect(formatPointer(0xffffffff)).toBe("0xffffffff");
    expect(formatPointer(2 ** 32)).toBe("0x100000000");
    expect(formatPointer(2 ** 32 + 0xab)).toBe("0x1000000ab");
    expect(formatPointer(0x7fee87ee8030)).toBe("0x7fee87ee8030");
    expect(formatPointer(2 ** 53 - 1)).toBe("0x1fffffffffffff");
  });

  it("prints each event kind as its line", () => {
    expect(formatEvent({ kind: "malloc", domain: "obj", size: 78, result: 0x7f3a10e8a030 })).toBe("m obj 78 0x7f3a10e8a030");
    expect(formatEvent({ kind: "calloc", domain: "raw", nelem: 1, elsize: 133, result: 0 })).toBe("c raw 1 133 0x0");
    expect(formatEvent({ kind: "realloc", domain: "mem", ptr: 0x10, size: 600, result: 0x20 })).toBe("r mem 0x10 600 0x20");
    expect(formatEvent({ kind: "free", domain: "libc", ptr: 0 })).toBe("f libc 0x0");
    expect(formatEvent({ kind: "memalign", domain: "libc", alignment: 64, size: 200, result: 0x40 })).toBe("a libc 64 200 0x40");
    expect(formatEvent({ kind: "arena-alloc", size: 1048576, result: 0x7fee87ee7000 })).toBe("A 1048576 0x7fee87ee7000");
    expect(formatEvent({ kind: "arena-free", ptr: 0x7fee87ee7000, size: 1048576 })).toBe("D 0x7fee87ee7000 1048576");
    expect(formatEvent({ kind: "write", ptr: 0x10, offset: 78, bytes: new Uint8Array([0xde, 0xad, 0x0b]) })).toBe("w 0x10 78 dead0b");
    expect(formatEvent({ kind: "heap-start", address: 0x55d0c3a2e000 })).toBe("# heap-start 0x55d0c3a2e000");
    expect(formatEvent({ kind: "comment", text: " hello" })).toBe("# hello");
    expect(formatBytes(new Uint8Array([1, 0x10]))).toBe("0110");
    expect(formatTraceWithHeader([{ kind: "free", domain: "obj", ptr: 0 }])).toBe("# memtrace v1\nf obj 0x0\n");
  });
});
