import { PhysicalMemory } from "@mem/hardware";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BARE_IMAGE,
  MADV_DONTNEED,
  MADV_FREE,
  OutOfMemoryError,
  ProcessKilledError,
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
  /** Value of the marker byte (0 = never written since mapped / dropped); one box per page, shared between the processes that share the page. */
  data: { value: number };
  /** Holds a frame (written, or read in a shared mapping). */
  resident: boolean;
  /** A shared page's file (page index to data box) and index in it. */
  file?: Map<number, { value: number }>;
  index?: number;
}

const fresh = (prot: number, shared: boolean): PageState => ({ prot, shared, data: { value: 0 }, resident: false });

/** A page of a shmem file: its data box is the file's, created on first use. */
function filePage(prot: number, file: Map<number, { value: number }>, index: number): PageState {
  let data = file.get(index);
  if (data === undefined) {
    data = { value: 0 };
    file.set(index, data);
  }
  return { prot, shared: true, data, resident: false, file, index };
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
  | { kind: "brk"; pages: number }
  | { kind: "mremap"; page: number; pages: number; newPages: number }
  | { kind: "touchAll"; value: number }
  | { kind: "fork" }
  | { kind: "switch"; to: number };

const prot = fc.constantFrom(PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE);
/** Window pages, half the time among the first 8 so that steps meet on the same pages. */
const page = fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: WINDOW_PAGES - 1 }));
const accessPage = fc.oneof(fc.integer({ min: -1, max: 7 }), fc.integer({ min: -1, max: WINDOW_PAGES - 1 }));
const pages = fc.integer({ min: 1, max: 12 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("mmapFixed" as const), page, pages, prot, shared: fc.boolean(), noreplace: fc.boolean() }),
  fc.record({ kind: fc.constant("mmapAny" as const), pages, prot }),
  fc.record({ kind: fc.constant("munmap" as const), page, pages }),
  fc.record({ kind: fc.constant("mprotect" as const), page, pages, prot }),
  fc.record({ kind: fc.constant("madvise" as const), page, pages, advice: fc.constantFrom(MADV_DONTNEED, MADV_FREE) }),
  fc.record({ kind: fc.constant("write" as const), page: accessPage, value: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("write" as const), page: accessPage, value: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("read" as const), page: accessPage }),
  fc.record({ kind: fc.constant("read" as const), page: accessPage }),
  fc.record({ kind: fc.constant("brk" as const), pages: fc.integer({ min: -4, max: 8 }) }),
  fc.record({ kind: fc.constant("mremap" as const), page, pages: fc.integer({ min: 1, max: 4 }), newPages: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("touchAll" as const), value: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("fork" as const) }),
  fc.record({ kind: fc.constant("switch" as const), to: fc.nat() }),
);

/** The page numbers the ops address: window pages, or (page -1) the last mmapAny/brk page. */
class Model {
  readonly pages = new Map<number, PageState>();
  readonly anyMaps: number[] = [];
  /** The pages of the process image (left alone by touchAll). */
  imagePages = new Set<number>();
  constructor(readonly proc: Process) {}
  /** The model of a forked child: private pages copied (resident where the parent's were), shared ones shared (not yet faulted in). */
  fork(child: Process): Model {
    const model = new Model(child);
    for (const [vpn, state] of this.pages) {
      model.pages.set(vpn, state.shared ? { ...state, resident: false } : { ...state, data: { value: state.data.value } });
    }
    model.anyMaps.push(...this.anyMaps);
    model.imagePages = this.imagePages;
    return model;
  }
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

function run(proc: Process, model: Model, o: Op, pressure: boolean): void {
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
      const file = new Map<number, { value: number }>();
      for (let i = 0; i < o.pages; i++) model.pages.set(first + i, o.shared ? filePage(o.prot, file, i) : fresh(o.prot, false));
      return;
    }
    case "mmapAny": {
      const at = proc.mmap(0, o.pages * PAGE, o.prot, MAP_PRIVATE | MAP_ANONYMOUS);
      expect(at % PAGE).toBe(0);
      expect(model.anyMapped(at / PAGE, o.pages)).toBe(false);
      for (let i = 0; i < o.pages; i++) model.pages.set(at / PAGE + i, fresh(o.prot, false));
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
      // under memory pressure a MADV_FREE page may or may not be discarded: not for this model
      if (o.advice === MADV_FREE && pressure) return;
      const apply = (): void => {
        for (let i = 0; i < o.pages; i++) {
          const state = model.pages.get(first + i);
          if (o.advice !== MADV_DONTNEED || state === undefined) continue;
          state.resident = false;
          // a shared mapping's page lives on in its shmem file: the data survives
          if (!state.shared) state.data = { value: 0 };
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
      state.data.value = o.value;
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
      expect(mem.load8(address)).toBe(state.data.value);
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
      for (let p = oldTop; p < newTop; p++) model.pages.set(p, fresh(PROT_READ | PROT_WRITE, false));
      if (newTop > oldTop) model.anyMaps.push((newTop - 1) * PAGE);
      return;
    }
    case "mremap": {
      const first = (WINDOW + o.page * PAGE) / PAGE;
      let to: number;
      try {
        to = proc.mremap(first * PAGE, o.pages * PAGE, o.newPages * PAGE, 1 /* MREMAP_MAYMOVE */) / PAGE;
      } catch (error) {
        // EFAULT (not one mapping), or EINVAL/ENOMEM: nothing changed (compare checks)
        expect(error).toBeInstanceOf(SyscallError);
        expect(["EFAULT", "ENOMEM", "EINVAL"]).toContain((error as SyscallError).code);
        return;
      }
      const moved: PageState[] = [];
      for (let i = 0; i < o.pages; i++) {
        moved.push(model.pages.get(first + i)!);
        model.pages.delete(first + i);
      }
      const template = moved[0]!;
      for (let i = 0; i < o.newPages; i++) {
        // a grown shared mapping shows the following pages of its file (they may hold data)
        const state = i < o.pages ? moved[i]! : template.shared ? filePage(template.prot, template.file!, template.index! + i) : fresh(template.prot, false);
        model.pages.set(to + i, state);
      }
      if (to !== first) model.anyMaps.push(to * PAGE);
      return;
    }
    case "touchAll": {
      // write every writable page mapped by the steps (not the image's): a bigger footprint
      for (const [vpn, state] of model.pages) {
        if ((state.prot & PROT_WRITE) === 0 || model.imagePages.has(vpn)) continue;
        mem.store8(vpn * PAGE + 8, o.value);
        state.data.value = o.value;
        state.resident = true;
      }
      return;
    }
    case "fork":
    case "switch":
      return; // handled by the driver
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
  if (proc.killedBy !== undefined) throw proc.killedBy; // the OOM killer ended it: nothing left to compare
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
  for (const [vpn, state] of model.pages) {
    expect(proc.mm.vmas.find(vpn * PAGE)).toBeDefined();
    // every readable page holds what the model says (a shared page not yet faulted in is
    // left alone: reading it would make it resident)
    if (state.prot !== PROT_NONE && (!state.shared || state.resident)) expect(proc.memory.load8(vpn * PAGE + 8)).toBe(state.data.value);
  }
  let resident = 0;
  for (const state of model.pages.values()) if (state.resident) resident++;
  // a page the kernel swapped out counts in VmSwap instead of VmRSS
  expect(statusKb(proc.status(), "VmRSS") + statusKb(proc.status(), "VmSwap")).toBe(resident * 4);
}

const stats: Record<string, number> = {};
let swapIns = 0;
describe.each([
  ["with plenty of RAM", 16 * 1024, 0],
  ["under memory pressure, with swap", 160, 4096],
])("the address space against a reference model (%s)", (_name, ramKiB, swapKiB) => {
  it("agrees after every step of random mmap/munmap/mprotect/madvise/brk/access sequences", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 50 }), (ops) => {
        const swap = swapKiB === 0 ? undefined : new PhysicalMemory({ size: swapKiB * 1024 });
        const { kernel, proc } = boot({ swap, overcommitMemory: 1 }, { image: BARE_IMAGE }, ramKiB * 1024);
        const first = new Model(proc);
        for (const vma of proc.mm.vmas.list) {
          for (let a = vma.start; a < vma.end; a += PAGE) {
            first.pages.set(a / PAGE, fresh(vma.flags & 7, false));
            first.imagePages.add(a / PAGE);
          }
        }
        const models = [first];
        let current = first;
        for (const o of ops) {
          stats[o.kind] = (stats[o.kind] ?? 0) + 1;
          try {
            if (o.kind === "fork") {
              if (models.length < 3) models.push(current.fork(current.proc.fork()));
            } else if (o.kind === "switch") current = models[o.to % models.length]!;
            else run(current.proc, current, o, swapKiB > 0);
            // (reading every page back may need frames too: swap-ins, the zero page's tables)
            for (const model of models) compare(model.proc, model);
          } catch (error) {
            // RAM and swap full: the failed step changed nothing; the kernel must still be sound
            // (or the OOM killer ended one of the processes: its memory is back, its model void)
            if (!(error instanceof OutOfMemoryError || error instanceof ProcessKilledError)) throw error;
            expect(checkKernel(kernel, models.map((m) => m.proc))).toEqual([]);
            break;
          }
          expect(checkKernel(kernel, models.map((m) => m.proc))).toEqual([]);
        }
        for (const model of models) kernel.exit(model.proc.pid);
        expect(kernel.pages.freePages).toBe(kernel.pages.totalPages - 1 - (kernel.swap?.mapPages ?? 0));
        if (kernel.swap !== undefined) {
          expect(kernel.swap.freeSlots).toBe(kernel.swap.slots);
          swapIns += models.reduce((sum, m) => sum + m.proc.faults.major, 0);
        }
        expect(kernel.pages.check()).toEqual([]);
      }),
      { numRuns: 20 },
    );
    // every kind of step ran (the generator reaches them all); under pressure, pages went to swap and came back
    if (swapKiB > 0) expect(swapIns).toBeGreaterThan(0);
    for (const kind of ["mmapFixed", "mmapAny", "munmap", "mprotect", "madvise", "write", "read", "brk", "mremap", "touchAll", "fork", "switch"]) expect(stats[kind]).toBeGreaterThan(10);
  }, 60_000);
});
