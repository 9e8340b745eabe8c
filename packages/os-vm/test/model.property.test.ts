import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BARE_IMAGE,
  MADV_DONTNEED,
  MADV_FREE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  SegmentationFault,
  SyscallError,
  checkKernel,
  type Process,
} from "../src/index.js";
import { boot, statusKb } from "./helpers.js";

/**
 * A plain reference model of an address space: for every page, whether it is mapped, with
 * which protection, shared or not, and the byte last written at its marker offset. Random
 * sequences of system calls and accesses run against the kernel and the model side by side.
 */
interface PageState {
  prot: number;
  shared: boolean;
  /** Value of the marker byte (0 = never written since mapped / dropped). */
  value: number;
  /** Holds a frame (written, or read in a shared mapping). */
  resident: boolean;
}

const PAGE = 4096;
const WINDOW = 0x100000000; // a 64-page window for fixed mappings
const WINDOW_PAGES = 64;

type Op =
  | { kind: "mmapFixed"; page: number; pages: number; prot: number; shared: boolean; noreplace: boolean }
  | { kind: "mmapAny"; pages: number; prot: number }
  | { kind: "munmap"; page: number; pages: number }
  | { kind: "mprotect"; page: number; pages: number; prot: number }
  | { kind: "madvise"; page: number; pages: number; advice: number }
  | { kind: "write"; page: number; value: number }
  | { kind: "read"; page: number }
  | { kind: "brk"; pages: number };

const prot = fc.constantFrom(PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE);
const page = fc.integer({ min: 0, max: WINDOW_PAGES - 1 });
const pages = fc.integer({ min: 1, max: 12 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("mmapFixed" as const), page, pages, prot, shared: fc.boolean(), noreplace: fc.boolean() }),
  fc.record({ kind: fc.constant("mmapAny" as const), pages, prot }),
  fc.record({ kind: fc.constant("munmap" as const), page, pages }),
  fc.record({ kind: fc.constant("mprotect" as const), page, pages, prot }),
  fc.record({ kind: fc.constant("madvise" as const), page, pages, advice: fc.constantFrom(MADV_DONTNEED, MADV_FREE) }),
  fc.record({ kind: fc.constant("write" as const), page: fc.integer({ min: -1, max: WINDOW_PAGES - 1 }), value: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("write" as const), page: fc.integer({ min: -1, max: WINDOW_PAGES - 1 }), value: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("read" as const), page: fc.integer({ min: -1, max: WINDOW_PAGES - 1 }) }),
  fc.record({ kind: fc.constant("brk" as const), pages: fc.integer({ min: -4, max: 8 }) }),
);

/** The page numbers the ops address: window pages, or (page -1) the last mmapAny/brk page. */
class Model {
  readonly pages = new Map<number, PageState>();
  readonly anyMaps: number[] = [];
  constructor(readonly proc: Process) {}
  addressOf(p: number): number {
    if (p >= 0) return WINDOW + p * PAGE;
    return this.anyMaps.length > 0 ? this.anyMaps[this.anyMaps.length - 1]! : WINDOW - PAGE;
  }
  mapped(first: number, count: number): boolean {
    for (let i = 0; i < count; i++) if (!this.pages.has(first + i)) return false;
    return true;
  }
  anyMapped(first: number, count: number): boolean {
    for (let i = 0; i < count; i++) if (this.pages.has(first + i)) return true;
    return false;
  }
}

function run(proc: Process, model: Model, o: Op): void {
  const mem = proc.memory;
  switch (o.kind) {
    case "mmapFixed": {
      const first = (WINDOW + o.page * PAGE) / PAGE;
      const flags = (o.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | (o.noreplace ? MAP_FIXED_NOREPLACE : MAP_FIXED);
      if (o.noreplace && model.anyMapped(first, o.pages)) {
        expect(() => proc.mmap(first * PAGE, o.pages * PAGE, o.prot, flags)).toThrow(SyscallError);
        return;
      }
      expect(proc.mmap(first * PAGE, o.pages * PAGE, o.prot, flags)).toBe(first * PAGE);
      for (let i = 0; i < o.pages; i++) model.pages.set(first + i, { prot: o.prot, shared: o.shared, value: 0, resident: false });
      return;
    }
    case "mmapAny": {
      const at = proc.mmap(0, o.pages * PAGE, o.prot, MAP_PRIVATE | MAP_ANONYMOUS);
      expect(at % PAGE).toBe(0);
      expect(model.anyMapped(at / PAGE, o.pages)).toBe(false);
      for (let i = 0; i < o.pages; i++) model.pages.set(at / PAGE + i, { prot: o.prot, shared: false, value: 0, resident: false });
      model.anyMaps.push(at);
      return;
    }
    case "munmap": {
      const first = (WINDOW + o.page * PAGE) / PAGE;
      proc.munmap(first * PAGE, o.pages * PAGE);
      for (let i = 0; i < o.pages; i++) model.pages.delete(first + i);
      return;
    }
    case "mprotect": {
      const first = (WINDOW + o.page * PAGE) / PAGE;
      if (!model.mapped(first, o.pages)) {
        expect(() => proc.mprotect(first * PAGE, o.pages * PAGE, o.prot)).toThrow(/ENOMEM/);
        // as Linux: the pages below the first hole were changed
        for (let i = 0; i < o.pages && model.pages.has(first + i); i++) model.pages.get(first + i)!.prot = o.prot;
        return;
      }
      proc.mprotect(first * PAGE, o.pages * PAGE, o.prot);
      for (let i = 0; i < o.pages; i++) model.pages.get(first + i)!.prot = o.prot;
      return;
    }
    case "madvise": {
      const first = (WINDOW + o.page * PAGE) / PAGE;
      const sharedInRange = [...Array(o.pages).keys()].some((i) => model.pages.get(first + i)?.shared === true);
      if (o.advice === MADV_FREE && sharedInRange) return; // MADV_FREE on shmem: EINVAL, skip
      const apply = (): void => {
        for (let i = 0; i < o.pages; i++) {
          const state = model.pages.get(first + i);
          if (state === undefined || o.advice !== MADV_DONTNEED) continue;
          state.resident = false;
          // a shared mapping's page lives on in its shmem file: the data survives
          if (!state.shared) state.value = 0;
        }
      };
      if (!model.mapped(first, o.pages)) {
        expect(() => proc.madvise(first * PAGE, o.pages * PAGE, o.advice)).toThrow(/ENOMEM/);
      } else proc.madvise(first * PAGE, o.pages * PAGE, o.advice);
      apply();
      return;
    }
    case "write": {
      const address = model.addressOf(o.page) + 8;
      const state = model.pages.get(Math.floor(address / PAGE));
      if (state === undefined || (state.prot & PROT_WRITE) === 0) {
        const error = catchFault(() => mem.store8(address, o.value));
        expect(error.code).toBe(state === undefined ? "SEGV_MAPERR" : "SEGV_ACCERR");
        return;
      }
      mem.store8(address, o.value);
      state.value = o.value;
      state.resident = true;
      return;
    }
    case "read": {
      const address = model.addressOf(o.page) + 8;
      const state = model.pages.get(Math.floor(address / PAGE));
      if (state === undefined || state.prot === PROT_NONE) {
        const error = catchFault(() => mem.load8(address));
        expect(error.code).toBe(state === undefined ? "SEGV_MAPERR" : "SEGV_ACCERR");
        return;
      }
      expect(mem.load8(address)).toBe(state.value);
      if (state.shared) state.resident = true;
      return;
    }
    case "brk": {
      const old = proc.brk(0);
      const target = old + o.pages * PAGE;
      const result = proc.brk(target);
      if (target < proc.startBrk) {
        expect(result).toBe(old);
        return;
      }
      expect(result).toBe(target);
      const oldTop = Math.ceil(old / PAGE);
      const newTop = Math.ceil(target / PAGE);
      for (let p = newTop; p < oldTop; p++) model.pages.delete(p);
      for (let p = oldTop; p < newTop; p++) model.pages.set(p, { prot: PROT_READ | PROT_WRITE, shared: false, value: 0, resident: false });
      if (newTop > oldTop) model.anyMaps.push((newTop - 1) * PAGE);
      return;
    }
  }
}

function catchFault(f: () => void): SegmentationFault {
  try {
    f();
  } catch (error) {
    if (error instanceof SegmentationFault) return error;
    throw error;
  }
  throw new Error("expected a segmentation fault");
}

/** Compares the kernel's VMAs with the model page by page, and RSS with the resident pages. */
function compare(proc: Process, model: Model): void {
  for (const vma of proc.mm.vmas.list) {
    for (let a = vma.start; a < vma.end; a += PAGE) {
      const state = model.pages.get(a / PAGE);
      if (state === undefined) {
        if (a >= WINDOW && a < WINDOW + WINDOW_PAGES * PAGE) throw new Error(`page ${a.toString(16)} mapped but not in the model`);
        continue;
      }
      expect(vma.flags & 0x7).toBe(state.prot & 0x7);
    }
  }
  for (const vpn of model.pages.keys()) expect(proc.mm.vmas.find(vpn * PAGE)).toBeDefined();
  let resident = 0;
  for (const state of model.pages.values()) if (state.resident) resident++;
  expect(statusKb(proc.status(), "VmRSS")).toBe(resident * 4);
}

const stats: Record<string, number> = {};
describe("the address space against a reference model", () => {
  it("agrees after every step of random mmap/munmap/mprotect/madvise/brk/access sequences", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 60 }), (ops) => {
        const { kernel, proc } = boot({}, { image: BARE_IMAGE }, 16 * 1024 * 1024);
        const model = new Model(proc);
        for (const vma of proc.mm.vmas.list) {
          for (let a = vma.start; a < vma.end; a += PAGE) model.pages.set(a / PAGE, { prot: vma.flags & 7, shared: false, value: 0, resident: false });
        }
        for (const o of ops) {
          stats[o.kind] = (stats[o.kind] ?? 0) + 1;
          run(proc, model, o);
          compare(proc, model);
          expect(checkKernel(kernel, [proc])).toEqual([]);
        }
        proc.exit();
        expect(kernel.pages.freePages).toBe(kernel.pages.totalPages - 1);
        expect(kernel.pages.check()).toEqual([]);
      }),
      { numRuns: 40 },
    );
    // every kind of step ran (the generator reaches them all)
    for (const kind of ["mmapFixed", "mmapAny", "munmap", "mprotect", "madvise", "write", "read", "brk"]) expect(stats[kind]).toBeGreaterThan(20);
  }, 60_000);
});
