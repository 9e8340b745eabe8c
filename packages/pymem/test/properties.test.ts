import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PyFatalError, PySegmentationFault, Tracemalloc, type PyMemDomain } from "../src/index.js";
import { checkInvariants, type LiveBlock } from "./support/checker.js";
import { makeStack, PRESETS } from "./support/stack.js";

const domain = fc.constantFrom<PyMemDomain>("raw", "mem", "obj");
const size = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 1200 }), fc.constant(512), fc.constant(513));
const op = fc.oneof(
  fc.record({ kind: fc.constant("malloc" as const), domain, size }),
  fc.record({ kind: fc.constant("calloc" as const), domain, nelem: fc.integer({ min: 0, max: 40 }), elsize: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }),
  fc.record({ kind: fc.constant("reallocNull" as const), domain, size }),
  fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("huge" as const), domain, size: fc.constantFrom(2 ** 63, 2 ** 64, 2 ** 62) }),
);

function pattern(seed: number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
}

describe("property: random call sequences keep every invariant, per preset", () => {
  for (const preset of PRESETS) {
    it(preset, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), fc.boolean(), (ops, traced) => {
          const { py } = makeStack(preset);
          const debug = preset.includes("debug");
          const name = py.allocatorName();
          const tm = new Tracemalloc(py);
          if (traced) tm.start(1);
          const live = new Map<number, LiveBlock>();
          let seed = 0;
          const adopt = (d: PyMemDomain, p: number, n: number, fresh: "clean" | "zero" | "any") => {
            expect(p).not.toBe(0);
            expect(live.has(p)).toBe(false);
            const bytes = py.memory.read(p, n);
            if (fresh === "zero") expect(bytes.every((b) => b === 0)).toBe(true);
            if (fresh === "clean" && debug) expect(bytes.every((b) => b === 0xcd)).toBe(true);
            const data = pattern(++seed, n);
            py.memory.write(p, data);
            live.set(p, { domain: d, p, size: n, data });
          };
          for (const o of ops) {
            const blocks = [...live.values()];
            switch (o.kind) {
              case "malloc":
                adopt(o.domain, py.malloc(o.domain, o.size), o.size, "clean");
                break;
              case "calloc":
                adopt(o.domain, py.calloc(o.domain, o.nelem, o.elsize), o.nelem * o.elsize, "zero");
                break;
              case "reallocNull":
                adopt(o.domain, py.realloc(o.domain, 0, o.size), o.size, "clean");
                break;
              case "huge":
                expect(py.malloc(o.domain, o.size)).toBe(0);
                break;
              case "realloc": {
                if (blocks.length === 0) break;
                const b = blocks[o.pick % blocks.length]!;
                const q = py.realloc(b.domain, b.p, o.size);
                expect(q).not.toBe(0);
                live.delete(b.p);
                const kept = Math.min(b.size, o.size);
                expect(Buffer.from(py.memory.read(q, kept)).equals(Buffer.from(b.data.subarray(0, kept)))).toBe(true);
                if (debug && o.size > b.size) expect(py.memory.read(q + b.size, o.size - b.size).every((x) => x === 0xcd)).toBe(true);
                const data = pattern(++seed, o.size);
                py.memory.write(q, data);
                live.set(q, { domain: b.domain, p: q, size: o.size, data });
                break;
              }
              case "free": {
                if (blocks.length === 0) break;
                const b = blocks[o.pick % blocks.length]!;
                py.free(b.domain, b.p);
                live.delete(b.p);
                if (debug && b.domain !== "raw" && preset === "malloc_debug") {
                  // freed through the debug hooks: filled with 0xDD beyond the allocator's link
                  expect(py.memory.read(b.p, Math.min(b.size, 8)).every((x) => x === 0xdd)).toBe(true);
                }
                break;
              }
            }
            checkInvariants(py, live, debug);
            if (traced) {
              const total = [...live.values()].reduce((s, b) => s + b.size, 0);
              expect(tm.getTracedMemory()[0]).toBe(total);
              expect(tm.takeSnapshot().rawTraces.length).toBe(live.size);
            }
          }
          if (traced) tm.stop();
          expect(py.allocatorName()).toBe(name);
          for (const b of live.values()) py.free(b.domain, b.p);
        }),
        { numRuns: 25 },
      );
    });
  }
});

const misuse = fc.oneof(
  fc.record({ kind: fc.constant("wrong-api" as const), other: domain, viaRealloc: fc.boolean() }),
  fc.record({ kind: fc.constant("underflow" as const), back: fc.integer({ min: 1, max: 8 }), byte: fc.integer({ min: 0, max: 255 }), viaRealloc: fc.boolean() }),
  fc.record({ kind: fc.constant("overflow" as const), past: fc.integer({ min: 0, max: 7 }), byte: fc.integer({ min: 0, max: 255 }), viaRealloc: fc.boolean() }),
  fc.record({ kind: fc.constant("double-free" as const), viaRealloc: fc.boolean() }),
);

describe("property: every misuse the debug hooks can detect is detected, naming the right block", () => {
  for (const preset of ["debug", "malloc_debug", "pymalloc_debug"] as const) {
    it(preset, () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ domain, size }), { minLength: 1, maxLength: 12 }),
          fc.nat(),
          misuse,
          (allocs, pick, m) => {
            const { py } = makeStack(preset);
            const blocks = allocs.map((a) => ({ ...a, p: py.malloc(a.domain, a.size) }));
            const b = blocks[pick % blocks.length]!;
            const ids = { raw: "r", mem: "m", obj: "o" };
            let via = b.domain;
            let expected: RegExp;
            switch (m.kind) {
              case "wrong-api":
                fc.pre(m.other !== b.domain);
                via = m.other;
                expected = new RegExp(`bad ID: Allocated using API '${ids[b.domain]}', verified using API '${ids[m.other]}'$`);
                break;
              case "underflow":
                fc.pre(m.byte !== 0xfd && m.byte !== py.memory.load8(b.p - m.back));
                py.memory.store8(b.p - m.back, m.byte);
                expected = m.back === 8 ? /bad ID: Allocated using API/ : /bad leading pad byte$/;
                fc.pre(!(m.back === 8 && m.byte === { raw: 0x72, mem: 0x6d, obj: 0x6f }[b.domain]));
                break;
              case "overflow":
                fc.pre(m.byte !== 0xfd);
                py.memory.store8(b.p + b.size + m.past, m.byte);
                expected = /bad trailing pad byte$/;
                break;
              case "double-free":
                py.free(b.domain, b.p);
                expected = /bad ID: Allocated using API/;
                break;
            }
            let error: unknown;
            try {
              if (m.viaRealloc) py.realloc(via, b.p, 10);
              else py.free(via, b.p);
            } catch (e) {
              error = e;
            }
            if (m.kind === "double-free" && error instanceof PySegmentationFault) {
              // CPython's dump crashes on the garbage size too; what it printed names the block.
              expect(error.report.startsWith(`Debug memory block at address p=0x${b.p.toString(16)}: API '`)).toBe(true);
              return;
            }
            expect(error).toBeInstanceOf(PyFatalError);
            const f = error as PyFatalError;
            expect(f.address).toBe(b.p);
            expect(f.reason).toMatch(expected);
            expect(f.func).toBe(m.viaRealloc ? "_PyMem_DebugRawRealloc" : "_PyMem_DebugRawFree");
            expect(f.report.startsWith(`Debug memory block at address p=0x${b.p.toString(16)}: API '`)).toBe(true);
            expect(f.report).toContain(`\nFatal Python error: ${f.func}: ${f.reason}\nPython runtime state: initialized\n`);
          },
        ),
        { numRuns: 100 },
      );
    });
  }
});

describe("double free, as CPython shows it", () => {
  it("pymalloc underneath: API '\\xdd', the size is the free-list link read big-endian, and the dump crashes at the tail", () => {
    const { py } = makeStack("debug");
    const other = py.memMalloc(16);
    const p = py.memMalloc(16);
    py.memFree(other);
    py.memFree(p); // the allocator links p to `other`: the size field now holds that pointer
    let error: unknown;
    try {
      py.memFree(p);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PySegmentationFault);
    const report = (error as PySegmentationFault).report;
    const lines = report.split("\n");
    expect(lines[0]).toBe(`Debug memory block at address p=0x${p.toString(16)}: API '\xdd'`);
    expect(lines[1]).toMatch(/^ {4}\d+ bytes originally requested$/);
    expect(lines.slice(2, 10)).toEqual([
      "    The 7 pad bytes at p-7 are not all FORBIDDENBYTE (0xfd):",
      ...[7, 6, 5, 4, 3, 2, 1].map((i) => `        at p-${i}: 0xdd *** OUCH`),
    ]);
    expect(lines[12]).toMatch(/^ {4}The 8 pad bytes at tail=0x[0-9a-f]+ are $/);
  });

  it("a freed block reads 0xDD (use after free shows)", () => {
    const { py } = makeStack("pymalloc_debug");
    const p = py.objectMalloc(40);
    py.objectFree(p);
    expect(py.memory.read(p + 8, 32).every((b) => b === 0xdd)).toBe(true);
  });
});
