import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BusError, PhysicalMemory } from "../src/index.js";

const SIZE = 8 * 1024;
const FRAME = 256;

/** One operation against RAM of SIZE bytes; addresses stray past the end on purpose. */
type Op =
  | { kind: "store"; width: 1 | 2 | 4 | 8; address: number; value: number }
  | { kind: "write"; address: number; bytes: Uint8Array }
  | { kind: "fill"; address: number; length: number; byte: number }
  | { kind: "copy"; destination: number; source: number; length: number };

const address = fc.integer({ min: 0, max: SIZE + 16 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc
    .constantFrom<1 | 2 | 4 | 8>(1, 2, 4, 8)
    .chain((width) =>
      fc.record({
        kind: fc.constant("store" as const),
        width: fc.constant(width),
        address,
        value: width === 8 ? fc.maxSafeNat() : fc.integer({ min: 0, max: 2 ** (8 * width) - 1 }),
      }),
    ),
  fc.record({ kind: fc.constant("write" as const), address, bytes: fc.uint8Array({ maxLength: 600 }) }),
  fc.record({
    kind: fc.constant("fill" as const),
    address,
    length: fc.integer({ min: 0, max: 700 }),
    byte: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({
    kind: fc.constant("copy" as const),
    destination: address,
    source: address,
    length: fc.integer({ min: 0, max: 700 }),
  }),
);

/** The plain reference model: one flat byte array. */
function applyToModel(model: Uint8Array, o: Op): boolean {
  const fits = (a: number, n: number) => a + n <= SIZE;
  switch (o.kind) {
    case "store": {
      if (!fits(o.address, o.width)) return false;
      let v = o.value;
      for (let i = 0; i < o.width; i++) {
        model[o.address + i] = v % 256;
        v = Math.floor(v / 256);
      }
      return true;
    }
    case "write":
      if (!fits(o.address, o.bytes.length)) return false;
      model.set(o.bytes, o.address);
      return true;
    case "fill":
      if (!fits(o.address, o.length)) return false;
      model.fill(o.byte, o.address, o.address + o.length);
      return true;
    case "copy":
      if (!fits(o.source, o.length) || !fits(o.destination, o.length)) return false;
      model.copyWithin(o.destination, o.source, o.source + o.length);
      return true;
  }
}

function applyToRam(ram: PhysicalMemory, o: Op): void {
  switch (o.kind) {
    case "store":
      if (o.width === 1) ram.store8(o.address, o.value);
      else if (o.width === 2) ram.store16(o.address, o.value);
      else if (o.width === 4) ram.store32(o.address, o.value);
      else ram.store64(o.address, o.value);
      return;
    case "write":
      return ram.write(o.address, o.bytes);
    case "fill":
      return ram.fill(o.address, o.length, o.byte);
    case "copy":
      return ram.copy(o.destination, o.source, o.length);
  }
}

describe("PhysicalMemory against a flat reference model", () => {
  it("any sequence of stores reads back equal to the model; out-of-range ops raise BusError and change nothing", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(address, { maxLength: 30 }), (ops, probes) => {
        const ram = new PhysicalMemory({ size: SIZE, frameSize: FRAME });
        const model = new Uint8Array(SIZE);
        for (const o of ops) {
          const inRange = applyToModel(model, o);
          if (inRange) applyToRam(ram, o);
          else expect(() => applyToRam(ram, o)).toThrow(BusError);
        }
        const actual = ram.read(0, SIZE);
        const firstDifference = actual.findIndex((byte, i) => byte !== model[i]);
        expect(firstDifference).toBe(-1);
        for (const p of probes) {
          if (p + 4 <= SIZE) {
            const expected = model[p]! | (model[p + 1]! << 8) | (model[p + 2]! << 16) | (model[p + 3]! * 2 ** 24);
            expect(ram.load32(p)).toBe(expected >>> 0);
          } else {
            expect(() => ram.load32(p)).toThrow(BusError);
          }
        }
        // Host backing never exceeds the frames that hold a non-zero byte plus those written.
        expect(ram.counters.hostBytes).toBe(ram.counters.framesMaterialised * FRAME);
      }),
      { numRuns: 150 },
    );
  });
});
