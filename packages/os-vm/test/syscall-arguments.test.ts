import { InvalidArgumentError, PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import { Kernel } from "../src/index.js";

type Loose = Record<string, (...args: unknown[]) => unknown>;

/** Found by fuzzing (issue 11): a BigInt system-call argument escaped as a raw "Cannot mix BigInt" TypeError. */
describe("system calls refuse arguments that are not numbers, before anything changes", () => {
  it("mmap, munmap, mprotect, madvise, mremap, brk and sbrk", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 16 << 20 }) }).createProcess();
    const p = process.mmap(0, 8192, 3, 0x22);
    const maps = process.maps();
    const loose = process as unknown as Loose;
    for (const [call, args] of [
      ["mmap", [0, 4096n, 3, 0x22]],
      ["mmap", ["0", 4096, 3, 0x22]],
      ["munmap", [BigInt(p), 4096]],
      ["mprotect", [p, 4096, 1n]],
      ["madvise", [p, "4096", 4]],
      ["mremap", [p, 8192, 16384n, 1]],
      ["brk", [1n]],
      ["sbrk", [4096n]],
    ] as const) {
      expect(() => loose[call]!.apply(process, args as unknown as unknown[]), call).toThrow(InvalidArgumentError);
      expect(() => loose[call]!.apply(process, args as unknown as unknown[]), call).toThrow(new RegExp(`^os-vm: ${call}: argument \\d must be a number, got (bigint|string)`));
    }
    expect(process.maps()).toBe(maps);
  });
});

describe("memory reads check the range before allocating the result", () => {
  it("read(0, 2**40) is a segmentation fault, not a 1 TiB allocation", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 16 << 20 }) }).createProcess();
    const p = process.mmap(0, 8192, 3, 0x22);
    expect(() => process.memory.read(0, 2 ** 40)).toThrow(/segmentation fault/);
    expect(() => process.memory.read(p, 2 ** 40)).toThrow(/segmentation fault/);
    expect(process.memory.read(p, 8192)).toEqual(new Uint8Array(8192));
  });
});

describe("process memory refuses addresses and values that are not numbers, on the fast path too", () => {
  it("a string address is not coerced, a BigInt is a typed error, and nothing is written", () => {
    const process = new Kernel({ ram: new PhysicalMemory({ size: 16 << 20 }) }).createProcess();
    const p = process.mmap(0, 8192, 3, 0x22);
    process.memory.store8(p, 1); // the page is now in the TLB with a write view: the fast path
    const loose = process.memory as unknown as Loose;
    const text = `0x${p.toString(16)}`;
    for (const w of [8, 16, 32, 64]) {
      expect(() => loose[`store${w}`]!.call(process.memory, text, 7), `store${w}`).toThrow(InvalidArgumentError);
      expect(() => loose[`store${w}`]!.call(process.memory, BigInt(p), 7), `store${w}`).toThrow(InvalidArgumentError);
      expect(() => loose[`store${w}`]!.call(process.memory, p, 7n), `store${w}`).toThrow(InvalidArgumentError);
      expect(() => loose[`load${w}`]!.call(process.memory, text), `load${w}`).toThrow(InvalidArgumentError);
      expect(() => loose[`load${w}`]!.call(process.memory, BigInt(p)), `load${w}`).toThrow(InvalidArgumentError);
    }
    expect(process.memory.load8(p)).toBe(1);
    expect(() => process.memory.store8(p, 256)).toThrow(RangeError);
    expect(() => process.memory.store8(p, 256)).toThrow(/os-vm: store8 value must be an integer in 0\.\.255/);
  });
});
