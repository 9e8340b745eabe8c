import { PhysicalMemory } from "@mem/hardware";
import { GlibcMalloc, TlsfMalloc } from "@mem/libc-malloc";
import { Kernel, type Process, type ProcessSpace } from "@mem/os-vm";
import { createPyMem, type PyMem, type PythonMallocPreset, type SmallObjectHost } from "@mem/pymem";
import { Pymalloc } from "@mem/small-object";
import type { InspectedStack } from "../src/index.js";

/** A stack wired as apps/demo's createStack wires it (tests compose the tiers themselves). */
export interface TestStack extends InspectedStack {
  readonly pymem: PyMem;
  readonly libc: GlibcMalloc | TlsfMalloc;
}

/** Builds RAM → kernel → process → libc → PyMem → pymalloc. */
export function makeStack(
  pythonMalloc: PythonMallocPreset = "default",
  libcName: "glibc" | "tlsf" = "glibc",
  ramMiB = 256,
  wrap?: (process: Process) => ProcessSpace,
): TestStack {
  const ram = new PhysicalMemory({ size: ramMiB * 1024 * 1024 });
  const kernel = new Kernel({ ram });
  const process = kernel.createProcess();
  const seen = wrap ? wrap(process) : process;
  const libc = libcName === "glibc" ? new GlibcMalloc(seen, { tcacheKey: 0x1234 }) : new TlsfMalloc(seen);
  let pymalloc: Pymalloc | undefined;
  const pymem = createPyMem({
    process: seen,
    libc,
    pythonMalloc,
    smallObject: (host: SmallObjectHost) => {
      pymalloc = new Pymalloc(host);
      return pymalloc.allocator;
    },
  });
  return { process, libc, pymem, pymalloc, options: { pythonMalloc } };
}
