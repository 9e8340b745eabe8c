/**
 * Filling RAM through the whole stack, under every overcommit mode, PYTHONMALLOC preset and
 * C library: whatever fails, every checker (the C library's heap check, pymalloc's check, the
 * kernel's check) must find the stack sound afterwards. Either the process got NULL (ENOMEM
 * at mmap/brk: the allocator is intact and usable) or the OOM killer ended it (its memory is
 * all back in the page allocator) — never an allocator left half-updated.
 */
import { ProcessKilledError, checkKernel } from "@mem/os-vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createStack, LIBC_IMPLEMENTATIONS, PYTHONMALLOC_PRESETS, type CPythonStack } from "../src/stack.js";

const MiB = 1024 * 1024;
const RAM = 4 * MiB;
type Domain = "obj" | "mem" | "raw";

/** One step of a program: allocate (and write) a block, free one, or resize one. */
type Op = { kind: "alloc"; domain: Domain; size: number; touch: boolean } | { kind: "free"; pick: number } | { kind: "realloc"; pick: number; size: number };

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 512 }) }, // pymalloc's size classes
  { weight: 3, arbitrary: fc.integer({ min: 513, max: 64 * 1024 }) }, // the brk heap
  { weight: 1, arbitrary: fc.integer({ min: 128 * 1024, max: 1536 * 1024 }) }, // mmapped chunks
  { weight: 1, arbitrary: fc.integer({ min: 6 * MiB, max: 12 * MiB }) }, // more than RAM + swap
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("alloc" as const), domain: fc.constantFrom<Domain>("obj", "mem", "raw"), size, touch: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }) },
);

interface Block {
  domain: Domain;
  p: number;
  size: number;
}

function malloc(stack: CPythonStack, domain: Domain, n: number): number {
  return domain === "obj" ? stack.pymem.objectMalloc(n) : domain === "mem" ? stack.pymem.memMalloc(n) : stack.pymem.rawMalloc(n);
}

function realloc(stack: CPythonStack, domain: Domain, p: number, n: number): number {
  return domain === "obj" ? stack.pymem.objectRealloc(p, n) : domain === "mem" ? stack.pymem.memRealloc(p, n) : stack.pymem.rawRealloc(p, n);
}

function free(stack: CPythonStack, block: Block): void {
  if (block.domain === "obj") stack.pymem.objectFree(block.p);
  else if (block.domain === "mem") stack.pymem.memFree(block.p);
  else stack.pymem.rawFree(block.p);
}

/** Runs every checker of the stack; returns what they say (empty: sound). */
function checks(stack: CPythonStack): string[] {
  const problems = checkKernel(stack.kernel, [stack.process]);
  for (const [name, run] of [
    ["libc", () => stack.libc.checkHeap()],
    ["pymalloc", () => stack.pymalloc?.check()],
  ] as const) {
    try {
      run();
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** What ended the run: a NULL (the process lives on), the OOM killer, or nothing. */
type Outcome = { kind: "null"; domain: Domain; size: number } | { kind: "killed"; error: ProcessKilledError } | { kind: "none" };

/** Runs `ops`, then allocates and writes 64 KiB blocks until memory runs out. */
function fill(stack: CPythonStack, ops: readonly Op[], live: Block[]): Outcome {
  const memory = stack.process.memory;
  try {
    for (const o of ops) {
      if (o.kind === "alloc") {
        const p = malloc(stack, o.domain, o.size);
        if (p === 0) return { kind: "null", domain: o.domain, size: o.size };
        live.push({ domain: o.domain, p, size: o.size });
        if (o.touch) memory.fill(p, o.size, 0xab);
      } else if (live.length > 0) {
        const i = o.pick % live.length;
        const block = live[i]!;
        if (o.kind === "free") {
          free(stack, block);
          live.splice(i, 1);
        } else {
          const q = realloc(stack, block.domain, block.p, o.size);
          if (q === 0) return { kind: "null", domain: block.domain, size: o.size }; // the old block stays live
          live[i] = { domain: block.domain, p: q, size: o.size };
        }
      }
    }
    for (let n = 0; n < 4096; n++) {
      const p = malloc(stack, "raw", 64 * 1024);
      if (p === 0) return { kind: "null", domain: "raw", size: 64 * 1024 };
      live.push({ domain: "raw", p, size: 64 * 1024 });
      memory.fill(p, 64 * 1024, 0xcd);
    }
  } catch (error) {
    if (error instanceof ProcessKilledError) return { kind: "killed", error };
    throw error;
  }
  return { kind: "none" };
}

const counts = { null: 0, killed: 0, none: 0 };

describe.each([0, 1, 2] as const)("filling RAM under vm.overcommit_memory=%i", (overcommit) => {
  it.each(PYTHONMALLOC_PRESETS.flatMap((preset) => LIBC_IMPLEMENTATIONS.map((libc) => [preset, libc] as const)))(
    "PYTHONMALLOC=%s, libc %s: every checker passes after the failure",
    (preset, libc) => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), fc.constantFrom(0, 1), (ops, swapMiB) => {
          const stack = createStack({ ramSize: RAM, overcommit, swapSize: swapMiB * MiB, pythonMalloc: preset, libc });
          const { kernel } = stack;
          const live: Block[] = [];
          const outcome = fill(stack, ops, live);
          counts[outcome.kind]++;
          expect(outcome.kind).not.toBe("none"); // 256 MiB of writes cannot fit in 4 (+1) MiB
          if (overcommit === 2) expect(kernel.committedPages).toBeLessThanOrEqual(kernel.commitLimit);
          if (outcome.kind === "killed") {
            // mode 2 refuses at mmap/brk before RAM can run out: no OOM kill there
            expect(overcommit).not.toBe(2);
            expect(stack.process.hasExited).toBe(true);
            expect(outcome.error.signal).toBe(9);
            expect(kernel.log.at(-1)).toMatch(
              /^Out of memory: Killed process 1 \(python3\) total-vm:\d+kB, anon-rss:\d+kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:\d+kB oom_score_adj:0$/,
            );
            expect(outcome.error.kernelMessage).toBe(kernel.log.at(-1));
            // all of its memory is back: only the zero page and the swap map stay in use
            expect(checkKernel(kernel, [stack.process])).toEqual([]);
            expect(kernel.pages.freePages).toBe(kernel.pages.totalPages - 1 - (kernel.swap?.mapPages ?? 0));
            expect(kernel.committedPages).toBe(0);
            expect(kernel.swap?.freeSlots ?? 0).toBe(kernel.swap?.slots ?? 0);
            // a dead process's allocators answer with its SIGKILL, never with a corruption report
            expect(() => stack.libc.checkHeap()).toThrow(ProcessKilledError);
            expect(() => stack.pymem.objectMalloc(16)).toThrow(ProcessKilledError);
            return;
          }
          // NULL: ENOMEM from mmap/brk (mode 2, or one request larger than RAM + swap in mode 0)
          expect(overcommit).not.toBe(1);
          if (overcommit === 0 && outcome.kind === "null") expect(outcome.size).toBeGreaterThan(RAM + swapMiB * MiB - 64 * 1024);
          expect(kernel.oomKills).toBe(0);
          expect(checks(stack)).toEqual([]);
          // the allocators are intact and usable: free everything, check, allocate again
          for (const block of live) free(stack, block);
          expect(checks(stack)).toEqual([]);
          const p = stack.pymem.objectMalloc(32);
          expect(p).not.toBe(0);
          stack.process.memory.fill(p, 32, 1);
          stack.pymem.objectFree(p);
          expect(checks(stack)).toEqual([]);
        }),
        { numRuns: 4 },
      );
    },
  );
});

describe("coverage of the fill", () => {
  it("met both endings", () => {
    expect(counts.killed).toBeGreaterThan(0);
    expect(counts.null).toBeGreaterThan(0);
    expect(counts.none).toBe(0);
  });
});
