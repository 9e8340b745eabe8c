/**
 * Model-driven fuzzer of PhysicalMemory: random loads, stores and range operations at every
 * width, straddling frames and chunks, with invalid arguments (strings, BigInts, fractions,
 * NaN, out-of-range addresses and values) mixed in. The model is a byte Map; after every call
 * RAM must equal the model, a refused call must change nothing, and every error must be typed.
 * Rules: scripts/fuzz-support.ts.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FuzzTally, fuzzRuns, fuzzSeed } from "../../../scripts/fuzz-support.js";
import { PhysicalMemory } from "../src/index.js";

const SIZE = 8 * 1024 * 1024; // two 4 MiB chunks
const near = fc.constantFrom(0, 4096, 4 * 1024 * 1024, SIZE);
const address = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(near, fc.integer({ min: -16, max: 16 })).map(([a, d]) => a + d) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: SIZE - 1 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>("16", 16n, 1.5, Number.NaN, -1, SIZE, 2 ** 53, null, Infinity) },
);
const width = fc.constantFrom(1, 2, 4, 8);
const value = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 0xff }) },
  { weight: 3, arbitrary: fc.nat() },
  { weight: 2, arbitrary: fc.maxSafeNat() },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(-1, 256, 2 ** 32, 2 ** 53, 1.5, "7", 7n, Number.NaN) },
);

type Op =
  | { op: "load"; width: number; address: unknown }
  | { op: "store"; width: number; address: unknown; value: unknown }
  | { op: "store64Big"; address: unknown; value: bigint }
  | { op: "read"; address: unknown; length: unknown }
  | { op: "write"; address: unknown; bytes: Uint8Array }
  | { op: "fill"; address: unknown; length: unknown; byte: unknown };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("load" as const), width, address }),
  fc.record({ op: fc.constant("store" as const), width, address, value }),
  fc.record({ op: fc.constant("store64Big" as const), address, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ op: fc.constant("read" as const), address, length: fc.oneof(fc.nat({ max: 9000 }), fc.constantFrom<unknown>(2 ** 40, -1, 4n, "4")) }),
  fc.record({ op: fc.constant("write" as const), address, bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ op: fc.constant("fill" as const), address, length: fc.oneof(fc.nat({ max: 9000 }), fc.constantFrom<unknown>(-1, 4n)), byte: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom<unknown>(256, "1", 1n)) }),
);

/** The model: written bytes (absent = 0). */
class Model {
  readonly bytes = new Map<number, number>();
  get(a: number): number {
    return this.bytes.get(a) ?? 0;
  }
  set(a: number, b: number): void {
    if (b === 0) this.bytes.delete(a);
    else this.bytes.set(a, b);
  }
  word(a: number, n: number): bigint {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.get(a + i));
    return v;
  }
}

const inRange = (a: unknown, n: number): a is number => typeof a === "number" && Number.isInteger(a) && a >= 0 && a + n <= SIZE;

function runSequence(ops: Op[], tally: FuzzTally): void {
  tally.sequences++;
  const ram = new PhysicalMemory({ size: SIZE });
  const model = new Model();
  const loose = ram as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const o of ops) {
    tally.calls++;
    try {
      switch (o.op) {
        case "load": {
          const got = loose[`load${8 * o.width}`]!.call(ram, o.address);
          if (!inRange(o.address, o.width)) throw new Error(`load${8 * o.width}(${String(o.address)}) succeeded`);
          expect(BigInt(got as number)).toBe(model.word(o.address, o.width));
          break;
        }
        case "store": {
          loose[`store${8 * o.width}`]!.call(ram, o.address, o.value);
          if (!inRange(o.address, o.width)) throw new Error(`store${8 * o.width}(${String(o.address)}) succeeded`);
          let v = BigInt(o.value as number);
          for (let i = 0; i < o.width; i++, v >>= 8n) model.set(o.address + i, Number(v & 0xffn));
          break;
        }
        case "store64Big": {
          ram.store64Big(o.address as number, o.value);
          if (!inRange(o.address, 8)) throw new Error("store64Big succeeded out of range");
          let v = o.value;
          for (let i = 0; i < 8; i++, v >>= 8n) model.set(o.address + i, Number(v & 0xffn));
          break;
        }
        case "read": {
          const got = ram.read(o.address as number, o.length as number);
          const a = o.address as number;
          for (let i = 0; i < got.length; i += 97) expect(got[i]).toBe(model.get(a + i));
          break;
        }
        case "write": {
          ram.write(o.address as number, o.bytes);
          const a = o.address as number;
          o.bytes.forEach((b, i) => model.set(a + i, b));
          break;
        }
        case "fill": {
          ram.fill(o.address as number, o.length as number, o.byte as number);
          const a = o.address as number;
          for (let i = 0; i < (o.length as number); i++) model.set(a + i, o.byte as number);
          break;
        }
      }
    } catch (error) {
      if (error instanceof Error && error.name === "AssertionError") throw error;
      tally.error(error, `${o.op}(${String(o.address)})`);
    }
  }
  // RAM equals the model everywhere it was written, and nowhere else holds data.
  tally.checks++;
  for (const [a, b] of model.bytes) expect(ram.load8(a)).toBe(b);
  for (const a of [0, 4095, 4096, 4 * 1024 * 1024 - 1, 4 * 1024 * 1024, SIZE - 1]) expect(ram.load8(a)).toBe(model.get(a));
}

const tally = new FuzzTally("hardware PhysicalMemory");
afterAll(() => console.log(tally.summary()));

describe("fuzz: PhysicalMemory", () => {
  it("random accesses with invalid arguments: only typed errors, refused calls change nothing, RAM equals the model", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: "max" }), (ops) => runSequence(ops, tally)),
      { numRuns: fuzzRuns(40, 2_000), seed: fuzzSeed() },
    );
    expect(tally.corruptions).toBe(0);
  }, 1_200_000);
});
