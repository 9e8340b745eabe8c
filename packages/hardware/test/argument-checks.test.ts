import { describe, expect, it } from "vitest";
import { BusError, InvalidArgumentError, PhysicalMemory } from "../src/index.js";

const MiB = 1024 * 1024;
type Loose = Record<string, (...args: unknown[]) => unknown>;

/** Found by fuzzing (issue 11): coerced or raw-crashing arguments at the public entry points. */
describe("PhysicalMemory: arguments that are not numbers", () => {
  it("refuses a string address on the fast path instead of coercing it (store8('16', 7) wrote address 16)", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.store8(16, 1); // the frame is backed: the store would take the fast path
    const loose = ram as unknown as Loose;
    expect(() => loose.store8!("16", 7)).toThrow(InvalidArgumentError);
    expect(() => loose.store8!("16", 7)).toThrow(/hardware: address must be a number, got string "16"/);
    expect(() => loose.load8!("16")).toThrow(InvalidArgumentError);
    expect(() => loose.store64!("4096", 7)).toThrow(InvalidArgumentError); // slow path: unbacked frame
    expect(ram.load8(16)).toBe(1);
    expect(ram.counters.stores).toBe(1);
  });

  it("refuses BigInt addresses and values with a typed error, not 'Cannot mix BigInt'", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.store64(0, 5);
    const loose = ram as unknown as Loose;
    for (const method of ["load8", "load16", "load32", "load64", "load64Big"]) {
      expect(() => loose[method]!.call(ram, 8n), method).toThrow(InvalidArgumentError);
    }
    for (const method of ["store8", "store16", "store32", "store64"]) {
      expect(() => loose[method]!.call(ram, 8n, 1), method).toThrow(InvalidArgumentError);
      expect(() => loose[method]!.call(ram, 8, 1n), method).toThrow(InvalidArgumentError);
      expect(() => loose[method]!.call(ram, 8, 1n), method).toThrow(/value must be a number, got bigint 1/);
    }
    expect(() => loose.fill!(0, 4, 1n)).toThrow(InvalidArgumentError);
    expect(() => loose.read!(0, 4n)).toThrow(InvalidArgumentError);
    expect(() => loose.store64Big!(0n, 1n)).toThrow(InvalidArgumentError);
    expect(ram.load64(0)).toBe(5);
  });

  it("checks the range of read() before allocating the result (read(0, 2**40))", () => {
    const ram = new PhysicalMemory({ size: MiB });
    expect(() => ram.read(0, 2 ** 40)).toThrow(BusError);
    expect(() => ram.read(MiB - 1, 2)).toThrow(BusError);
  });

  it("keeps the built-in error classes as bases, so existing catch clauses still match", () => {
    const ram = new PhysicalMemory({ size: MiB });
    const loose = ram as unknown as Loose;
    expect(() => loose.load8!("1")).toThrow(TypeError);
    expect(() => ram.store8(0, 300)).toThrow(RangeError);
  });
});
