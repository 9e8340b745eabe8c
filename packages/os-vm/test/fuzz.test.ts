/**
 * Model-driven fuzzer of the kernel tier: random system calls (mmap, munmap, mprotect,
 * madvise, mremap, brk, sbrk, fork, exit) with valid and invalid arguments, memory accesses
 * through the processes' page tables (faults included), and random kernel and process
 * options. After every call `checkKernel` must find nothing wrong (the kernel's structures are
 * not reachable from user space, so no call may break them), every error must be typed, and
 * what a process wrote must still read back. Rules: scripts/fuzz-support.ts.
 */
import fc from "fast-check";
import { PhysicalMemory } from "@mem/hardware";
import { afterAll, describe, expect, it } from "vitest";
import { FuzzTally, fuzzRuns, fuzzSeed } from "../../../scripts/fuzz-support.js";
import { Kernel, checkKernel, type Process } from "../src/index.js";

const PAGE = 4096;
const show = (o: unknown): string => JSON.stringify(o, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
const length = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }).map((n) => n * PAGE) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 300_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -PAGE, 2 ** 47, 2 ** 53, 1.5) },
);
const prot = fc.oneof(fc.constantFrom(0, 1, 3, 5, 7), fc.integer({ min: -1, max: 16 }));
const flags = fc.oneof(fc.constantFrom(0x22, 0x21, 0x32, 0x100022, 0x4022), fc.integer({ min: 0, max: 0x200000 }));
const advice = fc.constantFrom(0, 3, 4, 8, 9, 10, 11, 14, 15, 18, 99);
const junk = fc.constantFrom<unknown>("4096", 4096n, Number.NaN, null, "0x555555559000", 0x555555559000n);

type Op =
  | { op: "mmap"; hint: number; length: number; prot: number; flags: number }
  | { op: "munmap" | "mprotect" | "madvise"; pick: number; offset: number; length: number; arg: number }
  | { op: "mremap"; pick: number; length: number; flags: number }
  | { op: "brk"; delta: number }
  | { op: "touch"; pick: number; offset: number; write: boolean; value: number }
  | { op: "fork" | "exit"; which: number }
  | { op: "junk"; call: "mmap" | "munmap" | "mprotect" | "brk" | "load64" | "store8" | "read"; value: unknown };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("mmap" as const), hint: fc.constantFrom(0, 0x10000, 0x7f0000000000), length, prot, flags }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom("munmap" as const, "mprotect" as const, "madvise" as const), pick: fc.nat(), offset: fc.integer({ min: -2, max: 8 }).map((n) => n * PAGE), length, arg: fc.oneof(prot, advice) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("mremap" as const), pick: fc.nat(), length, flags: fc.constantFrom(0, 1, 3) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("brk" as const), delta: fc.integer({ min: -200_000, max: 400_000 }) }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant("touch" as const), pick: fc.nat(), offset: fc.integer({ min: -PAGE, max: 70 * PAGE }), write: fc.boolean(), value: fc.nat({ max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("fork" as const, "exit" as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("junk" as const), call: fc.constantFrom("mmap" as const, "munmap" as const, "mprotect" as const, "brk" as const, "load64" as const, "store8" as const, "read" as const), value: junk }) },
);

/** Mostly a valid setting, sometimes one the kernel must refuse. */
const setting = (valid: unknown[], invalid: unknown[]): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });
const kernelOptions = fc.record({
  overcommitMemory: setting([0, 1, 2, undefined], [5, "1"]),
  overcommitRatio: setting([50, 0, 200, undefined], [-1, 1.5]),
  maxMapCount: setting([65530, 20, undefined], [Number.NaN]),
  zeroPage: setting([true, false, undefined], [1]),
});
const processOptions = fc.record({
  stackLimit: setting([undefined, 8 << 20, Infinity], [Number.NaN, -1]),
  oomScoreAdj: setting([undefined, 0, 1000], [1001]),
});

function runSequence(options: Record<string, unknown>, popts: Record<string, unknown>, ops: Op[], tally: FuzzTally): void {
  tally.sequences++;
  let kernel: Kernel;
  let first: Process;
  try {
    tally.calls++;
    kernel = new Kernel({ ram: new PhysicalMemory({ size: 32 * 1024 * 1024 }), ...options });
    tally.calls++;
    first = kernel.createProcess(popts);
  } catch (error) {
    tally.error(error, `new Kernel/createProcess ${JSON.stringify(options)} ${JSON.stringify(popts)}`);
    expect((error as Error).name).toBe("KernelOptionError");
    return;
  }
  const processes: Process[] = [first];
  const regions: { process: Process; start: number; length: number }[] = [];
  /** Bytes written and not unmapped since: [process, address] -> value (checked at the end). */
  const written = new Map<string, { process: Process; address: number; value: number }>();
  const pick = <T>(list: T[], i: number): T | undefined => (list.length === 0 ? undefined : list[i % list.length]);
  const forget = (process: Process, start: number, len: number): void => {
    for (const [k, w] of written) if (w.process === process && w.address >= start && w.address < start + Math.max(len, 0) + PAGE) written.delete(k);
  };
  for (const o of ops) {
    const live = processes.filter((p) => !p.hasExited);
    const proc = pick(live, "which" in o ? o.which : "pick" in o ? o.pick : 0);
    if (proc === undefined) break;
    tally.calls++;
    try {
      switch (o.op) {
        case "mmap": {
          const p = proc.mmap(o.hint, o.length, o.prot, o.flags);
          regions.push({ process: proc, start: p, length: o.length });
          forget(proc, p, o.length);
          break;
        }
        case "munmap":
        case "mprotect":
        case "madvise": {
          const r = pick(regions.filter((x) => x.process === proc), o.pick);
          const start = (r?.start ?? 0x10000) + o.offset;
          forget(proc, start, o.length);
          if (o.op === "munmap") proc.munmap(start, o.length);
          else if (o.op === "mprotect") proc.mprotect(start, o.length, o.arg);
          else proc.madvise(start, o.length, o.arg);
          break;
        }
        case "mremap": {
          const r = pick(regions.filter((x) => x.process === proc), o.pick);
          if (r === undefined) break;
          forget(proc, r.start, r.length);
          const q = proc.mremap(r.start, r.length, o.length, o.flags);
          regions.push({ process: proc, start: q, length: o.length });
          forget(proc, q, o.length);
          break;
        }
        case "brk": {
          const current = proc.brk(0);
          forget(proc, Math.min(current, current + o.delta), Math.abs(o.delta));
          proc.brk(current + o.delta);
          break;
        }
        case "touch": {
          const r = pick(regions.filter((x) => x.process === proc), o.pick);
          const address = (r?.start ?? proc.brk(0)) + o.offset;
          if (o.write) {
            proc.memory.store8(address, o.value);
            written.set(`${proc.pid}:${address}`, { process: proc, address, value: o.value });
          } else proc.memory.load8(address);
          break;
        }
        case "fork": {
          const child = proc.fork();
          processes.push(child);
          for (const r of regions.filter((x) => x.process === proc)) regions.push({ ...r, process: child });
          break;
        }
        case "exit":
          if (live.length > 1) proc.exit();
          break;
        case "junk": {
          const target: object = o.call === "load64" || o.call === "store8" || o.call === "read" ? proc.memory : proc;
          const call = (target as Record<string, (this: object, ...args: unknown[]) => unknown>)[o.call]!;
          call.call(target, o.value, o.value, o.value, o.value);
          break;
        }
      }
    } catch (error) {
      if (error instanceof Error && error.name === "AssertionError") throw error;
      tally.error(error, `${o.op} ${show(o)}`);
    }
    tally.checks++;
    const problems = checkKernel(kernel, processes);
    if (problems.length > 0) {
      tally.corruptions++;
      throw new Error(`${tally.name}: the kernel's structures broke after ${o.op} ${show(o)}: ${problems.join("; ")}`);
    }
  }
  for (const w of written.values()) {
    if (w.process.hasExited) continue;
    tally.calls++;
    try {
      expect(w.process.memory.load8(w.address)).toBe(w.value);
    } catch (error) {
      if (error instanceof Error && error.name === "AssertionError") throw error;
      tally.error(error, "read back"); // the page went away (mprotect, madvise, munmap): a typed fault
    }
  }
}

const tally = new FuzzTally("os-vm kernel");
afterAll(() => console.log(tally.summary()));

describe("fuzz: kernel", () => {
  it("random system calls, accesses and options: only typed errors, checkKernel finds nothing, 0 corruptions", () => {
    fc.assert(
      fc.property(kernelOptions, processOptions, fc.array(op, { minLength: 1, maxLength: 60, size: "max" }), (options, popts, ops) => runSequence(options, popts, ops, tally)),
      { numRuns: fuzzRuns(100, 5_000), seed: fuzzSeed() },
    );
    expect(tally.corruptions).toBe(0);
  }, 1_200_000);
});
