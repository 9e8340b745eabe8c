import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BARE_IMAGE, PROT_READ, SegmentationFault } from "../src/index.js";
import { ANON, RW, boot } from "./helpers.js";

/**
 * Every access of the Memory interface at random offsets and widths (crossing page
 * boundaries, running into a read-only page and off the end of the mapping) against a plain
 * byte array: same values, and a faulting access leaves every byte as it was.
 */
const PAGES = 4;
const SPAN = PAGES * 4096;

type Access =
  | { op: "store"; width: 1 | 2 | 4 | 8; at: number; value: number }
  | { op: "load"; width: 1 | 2 | 4 | 8; at: number }
  | { op: "write"; at: number; bytes: Uint8Array }
  | { op: "read"; at: number; length: number }
  | { op: "fill"; at: number; length: number; byte: number }
  | { op: "copy"; to: number; from: number; length: number }
  | { op: "big"; at: number; value: bigint };

const at = fc.oneof(fc.integer({ min: 0, max: SPAN + 16 }), fc.integer({ min: 0, max: PAGES }).map((p) => p * 4096 - 4));
const width = fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const);
const access: fc.Arbitrary<Access> = fc.oneof(
  fc.record({ op: fc.constant("store" as const), width, at, value: fc.integer({ min: 0, max: 2 ** 53 - 1 }) }),
  fc.record({ op: fc.constant("load" as const), width, at }),
  fc.record({ op: fc.constant("write" as const), at, bytes: fc.uint8Array({ maxLength: 9000 }) }),
  fc.record({ op: fc.constant("read" as const), at, length: fc.integer({ min: 0, max: 9000 }) }),
  fc.record({ op: fc.constant("fill" as const), at, length: fc.integer({ min: 0, max: 9000 }), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("copy" as const), to: at, from: at, length: fc.integer({ min: 0, max: 6000 }) }),
  fc.record({ op: fc.constant("big" as const), at, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
);

describe("the Memory interface against a byte array", () => {
  it("agrees on every access, and faults change nothing", () => {
    fc.assert(
      fc.property(fc.array(access, { minLength: 1, maxLength: 30 }), (accesses) => {
        const { proc } = boot({}, { image: BARE_IMAGE }, 8 * 1024 * 1024);
        const base = proc.mmap(0, SPAN, RW, ANON);
        proc.mprotect(base + 3 * 4096, 4096, PROT_READ); // the last page is read-only
        const model = new Uint8Array(SPAN);
        const mem = proc.memory;
        const writable = (offset: number, length: number): boolean => offset >= 0 && offset + length <= 3 * 4096;
        const readable = (offset: number, length: number): boolean => offset >= 0 && offset + length <= SPAN;
        const le = (offset: number, w: number): bigint => {
          let v = 0n;
          for (let i = w - 1; i >= 0; i--) v = (v << 8n) | BigInt(model[offset + i]!);
          return v;
        };
        for (const a of accesses) {
          const before = model.slice();
          let ok: boolean;
          try {
            switch (a.op) {
              case "store": {
                const value = a.width === 8 ? a.value : a.value % 2 ** (8 * a.width);
                ok = writable(a.at, a.width);
                if (a.width === 1) mem.store8(base + a.at, value);
                else if (a.width === 2) mem.store16(base + a.at, value);
                else if (a.width === 4) mem.store32(base + a.at, value);
                else mem.store64(base + a.at, value);
                let v = BigInt(value);
                for (let i = 0; i < a.width; i++, v >>= 8n) model[a.at + i] = Number(v & 0xffn);
                break;
              }
              case "load": {
                ok = readable(a.at, a.width);
                const read = (): number => (a.width === 1 ? mem.load8(base + a.at) : a.width === 2 ? mem.load16(base + a.at) : a.width === 4 ? mem.load32(base + a.at) : mem.load64(base + a.at));
                if (!ok) {
                  read();
                  break;
                }
                const expected = le(a.at, a.width);
                if (a.width === 8 && expected > BigInt(Number.MAX_SAFE_INTEGER)) {
                  expect(() => mem.load64(base + a.at)).toThrow(RangeError);
                  break;
                }
                expect(BigInt(read())).toBe(expected);
                break;
              }
              case "write":
                ok = a.bytes.length === 0 || writable(a.at, a.bytes.length);
                mem.write(base + a.at, a.bytes);
                if (a.bytes.length > 0) model.set(a.bytes, a.at);
                break;
              case "read":
                ok = a.length === 0 || readable(a.at, a.length);
                expect(Buffer.from(mem.read(base + a.at, a.length)).equals(Buffer.from(model.subarray(a.at, a.at + a.length)))).toBe(true);
                break;
              case "fill":
                ok = a.length === 0 || writable(a.at, a.length);
                mem.fill(base + a.at, a.length, a.byte);
                model.fill(a.byte, a.at, a.at + a.length);
                break;
              case "copy":
                ok = a.length === 0 || (readable(a.from, a.length) && writable(a.to, a.length));
                mem.copy(base + a.to, base + a.from, a.length);
                model.copyWithin(a.to, a.from, a.from + a.length);
                break;
              case "big":
                ok = writable(a.at, 8);
                mem.store64Big(base + a.at, a.value);
                for (let i = 0, v = a.value; i < 8; i++, v >>= 8n) model[a.at + i] = Number(v & 0xffn);
                expect(mem.load64Big(base + a.at)).toBe(a.value);
                break;
            }
            expect(ok).toBe(true);
          } catch (error) {
            if (!(error instanceof SegmentationFault)) throw error;
            expect(ok!).toBe(false);
            model.set(before);
          }
          const all = mem.read(base, SPAN);
          if (!Buffer.from(all).equals(Buffer.from(model))) expect(all).toEqual(model); // (the slow comparison only to report)
        }
      }),
      { numRuns: 40 },
    );
  });
});
