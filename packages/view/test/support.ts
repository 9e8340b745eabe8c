import { PhysicalMemory } from "@mem/hardware";
import type { InspectedStack } from "@mem/insight";
import { GlibcMalloc, TlsfMalloc } from "@mem/libc-malloc";
import { Kernel } from "@mem/os-vm";
import { createPyMem, type PyMem, type PythonMallocPreset, type SmallObjectHost } from "@mem/pymem";
import { Pymalloc } from "@mem/small-object";

/** A stack wired as apps/demo's createStack wires it. */
export interface TestStack extends InspectedStack {
  readonly pymem: PyMem;
  readonly libc: GlibcMalloc | TlsfMalloc;
}

/** RAM → kernel → process → libc → PyMem → pymalloc, with a fixed tcache key (deterministic). */
export function makeStack(pythonMalloc: PythonMallocPreset = "default", libcName: "glibc" | "tlsf" = "glibc", ramMiB = 128): TestStack {
  const ram = new PhysicalMemory({ size: ramMiB * 1024 * 1024 });
  const kernel = new Kernel({ ram });
  const process = kernel.createProcess();
  const libc = libcName === "glibc" ? new GlibcMalloc(process, { tcacheKey: 0x1234 }) : new TlsfMalloc(process);
  let pymalloc: Pymalloc | undefined;
  const pymem = createPyMem({
    process,
    libc,
    pythonMalloc,
    smallObject: (host: SmallObjectHost) => {
      pymalloc = new Pymalloc(host);
      return pymalloc.allocator;
    },
  });
  return { process, libc, pymem, pymalloc, options: { pythonMalloc } };
}

/**
 * The C-program heap of the golden tests: ten 24-byte chunks (nine freed: 7 to tcache, 2 to
 * the fastbin), three 1200-byte chunks (the middle one freed: the unsorted bin), one
 * 300,000-byte chunk (mmapped), and a last 40-byte chunk that stays, pinning the top.
 */
export function goldenHeap(): TestStack {
  const s = makeStack("malloc");
  const libc = s.libc;
  const small = Array.from({ length: 10 }, () => libc.malloc(24));
  const mid = Array.from({ length: 3 }, () => libc.malloc(1200));
  libc.malloc(300_000);
  libc.malloc(40);
  for (const p of small.slice(1)) libc.free(p);
  libc.free(mid[1]!);
  return s;
}

/**
 * The Python heap of the golden tests: 600 objects of 16 bytes, 300 of 64, 40 of 512, then
 * 3,000 of 256 bytes (reaching a second arena), of which all but the last two are freed.
 */
export function goldenArenas(): TestStack {
  const s = makeStack();
  const m = (n: number, size: number) => Array.from({ length: n }, () => s.pymem.objectMalloc(size));
  m(600, 16);
  m(300, 64);
  m(40, 512);
  const many = m(5000, 256);
  for (const p of many.slice(0, -2)) s.pymem.objectFree(p);
  return s;
}
