import { describe, expect, it } from "vitest";
import { AlignmentError, BusError, PhysicalMemory } from "../src/index.js";

const MiB = 1024 * 1024;

describe("PhysicalMemory: loads and stores", () => {
  it("stores little-endian values and reads them back at every width", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.store64(0x100, 0x0011_2233_4455_6677);
    expect(ram.load8(0x100)).toBe(0x77);
    expect(ram.load16(0x100)).toBe(0x6677);
    expect(ram.load32(0x100)).toBe(0x4455_6677);
    expect(ram.load32(0x104)).toBe(0x0011_2233);
    expect(ram.load64(0x100)).toBe(0x0011_2233_4455_6677);
    expect(ram.load64Big(0x100)).toBe(0x0011_2233_4455_6677n);
    expect(Array.from(ram.read(0x100, 8))).toEqual([0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00]);
  });

  it("reads never-written memory as zeros without materialising it", () => {
    const ram = new PhysicalMemory({ size: 64 * MiB });
    expect(ram.load64(5 * MiB)).toBe(0);
    expect(ram.read(10 * MiB - 3, 7)).toEqual(new Uint8Array(7));
    expect(ram.counters.framesMaterialised).toBe(0);
    expect(ram.counters.hostBytes).toBe(0);
  });

  it("backs only the frames that were written (a 64 GiB machine costs what was written)", () => {
    const ram = new PhysicalMemory({ size: 64 * 1024 * MiB });
    ram.store8(0, 1);
    ram.store8(63 * 1024 * MiB + 17, 2);
    ram.store32(4095, 0xdeadbeef); // straddles frames 0 and 1
    expect(ram.counters.framesMaterialised).toBe(3);
    expect(ram.counters.hostBytes).toBe(3 * 4096);
    expect(ram.load32(4095)).toBe(0xdeadbeef);
    expect(ram.load8(63 * 1024 * MiB + 17)).toBe(2);
  });

  it("handles misaligned accesses across a frame boundary like x86", () => {
    const ram = new PhysicalMemory({ size: MiB, frameSize: 4096 });
    ram.store64(4093, Number.MAX_SAFE_INTEGER);
    expect(ram.load64(4093)).toBe(Number.MAX_SAFE_INTEGER);
    ram.store16(8191, 0xabcd);
    expect(ram.load8(8191)).toBe(0xcd);
    expect(ram.load8(8192)).toBe(0xab);
    expect(ram.load16(8191)).toBe(0xabcd);
  });

  it("refuses misaligned accesses when alignment checking is on, changing nothing", () => {
    const ram = new PhysicalMemory({ size: MiB, checkAlignment: true });
    expect(() => ram.store32(2, 1)).toThrow(AlignmentError);
    expect(() => ram.load64(4)).toThrow(AlignmentError);
    expect(() => ram.load64Big(12)).toThrow(AlignmentError);
    expect(ram.load32(0)).toBe(0);
    ram.store32(4, 7);
    expect(ram.load32(4)).toBe(7);
  });

  it("round-trips full 64-bit values as bigints and refuses unsafe numbers", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.store64Big(8, 0xffff_ffff_ffff_fffen);
    expect(ram.load64Big(8)).toBe(0xffff_ffff_ffff_fffen);
    expect(() => ram.load64(8)).toThrow(/above 2\^53-1; read it with load64Big/);
    ram.store64Big(4094, 2n ** 53n); // straddling, unsafe by one
    expect(() => ram.load64(4094)).toThrow(RangeError);
    expect(() => ram.store64(0, 2 ** 53)).toThrow(RangeError);
    expect(() => ram.store64Big(0, 2n ** 64n)).toThrow(RangeError);
    expect(ram.load64(0)).toBe(0);
  });

  it("validates stored values", () => {
    const ram = new PhysicalMemory({ size: MiB });
    expect(() => ram.store8(0, 256)).toThrow(/store8 value must be an integer in 0..255/);
    expect(() => ram.store16(0, -1)).toThrow(RangeError);
    expect(() => ram.store32(0, 2 ** 32)).toThrow(RangeError);
    expect(() => ram.store32(0, 1.5)).toThrow(RangeError);
    expect(() => ram.fill(0, 4, 300)).toThrow(RangeError);
    expect(ram.counters.stores).toBe(0);
    expect(ram.counters.framesMaterialised).toBe(0);
  });
});

describe("PhysicalMemory: bus errors", () => {
  it("raises BusError with the address for accesses outside installed RAM and changes nothing", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.store8(MiB - 1, 9);
    const error = (() => {
      try {
        ram.store32(MiB - 2, 0x01020304);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(BusError);
    expect((error as BusError).address).toBe(MiB - 2);
    expect((error as BusError).message).toBe(
      "hardware: bus error: store of 4 bytes at physical address 0xffffe is outside installed RAM (0x0..0x100000)",
    );
    expect(ram.load8(MiB - 2)).toBe(0);
    expect(ram.load8(MiB - 1)).toBe(9);
    expect(() => ram.load8(MiB)).toThrow(BusError);
    expect(() => ram.load64(-8)).toThrow(BusError);
    expect(() => ram.write(MiB - 4, new Uint8Array(8).fill(1))).toThrow(BusError);
    expect(ram.read(MiB - 4, 4)).toEqual(new Uint8Array([0, 0, 0, 9]));
    expect(() => ram.fill(MiB - 1, 2, 5)).toThrow(BusError);
    expect(() => ram.copy(MiB - 2, 0, 4)).toThrow(BusError);
    expect(ram.load8(MiB - 1)).toBe(9);
  });

  it("rejects non-integer addresses and bad lengths with a clear error", () => {
    const ram = new PhysicalMemory({ size: MiB });
    expect(() => ram.load32(1.5)).toThrow(/address must be an integer/);
    expect(() => ram.load8(Number.NaN)).toThrow(TypeError);
    expect(() => ram.read(0, -1)).toThrow(/length must be a non-negative integer/);
    expect(() => ram.readInto(0, [0, 0] as unknown as Uint8Array)).toThrow(/readInto expects a Uint8Array/);
    expect(() => ram.write(0, [1] as unknown as Uint8Array)).toThrow(/write expects a Uint8Array/);
    expect(ram.counters.loads + ram.counters.stores).toBe(0);
  });

  it("rejects impossible configurations", () => {
    expect(() => new PhysicalMemory({ frameSize: 3000 })).toThrow(/power of two/);
    expect(() => new PhysicalMemory({ size: 4097 })).toThrow(/multiple of the frame size/);
    expect(() => new PhysicalMemory({ size: 2 ** 53 })).toThrow(RangeError);
  });
});

describe("PhysicalMemory: ranges", () => {
  it("copies overlapping ranges like memmove", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.write(4090, Uint8Array.from({ length: 20 }, (_, i) => i + 1));
    ram.copy(4094, 4090, 20);
    expect(Array.from(ram.read(4094, 20))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(Array.from(ram.read(4090, 4))).toEqual([1, 2, 3, 4]);
    ram.copy(4090, 4094, 20);
    expect(Array.from(ram.read(4090, 20))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("fills ranges, and a zero fill of a whole frame gives its backing back", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.fill(100, 10_000, 0xab);
    expect(ram.counters.framesMaterialised).toBe(3);
    expect(ram.load8(100)).toBe(0xab);
    expect(ram.load8(10_099)).toBe(0xab);
    expect(ram.load8(10_100)).toBe(0);
    ram.fill(4096, 4096, 0);
    expect(ram.counters.framesMaterialised).toBe(2);
    expect(ram.load32(4096 + 8)).toBe(0);
    expect(ram.isMaterialised(4096)).toBe(false);
    expect(ram.isMaterialised(0)).toBe(true);
  });

  it("counts loads, stores and bytes moved", () => {
    const ram = new PhysicalMemory({ size: MiB });
    ram.store32(0, 1);
    ram.load64(0);
    ram.read(0, 100);
    ram.write(0, new Uint8Array(10));
    const c = ram.counters;
    expect(c.loads).toBe(2);
    expect(c.stores).toBe(2);
    expect(c.bytesMoved).toBe(4 + 8 + 100 + 10);
    ram.resetCounters();
    expect(ram.counters.loads).toBe(0);
    expect(ram.counters.framesMaterialised).toBe(1);
  });
});
