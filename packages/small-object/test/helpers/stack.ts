/**
 * The stack for tests: an @mem/os-vm process, @mem/pymem configured with a PYTHONMALLOC
 * preset, this package's Pymalloc in the MEM and OBJ domains, and (until @mem/libc-malloc
 * lands) a trivial C allocator for the raw domain.
 */
import { PhysicalMemory } from "@mem/hardware";
import { Kernel, type Process } from "@mem/os-vm";
import { createPyMem, type PyMem, type PythonMallocPreset } from "@mem/pymem";
import { Pymalloc, type PymallocOptions } from "../../src/index.js";
import { MmapBumpLibc } from "./mmap-libc.js";
import type { ReplayTarget } from "./replay.js";

export interface Stack {
  process: Process;
  py: PyMem;
  pm: Pymalloc;
}

/** Builds the stack with `preset` (default "default") and pymalloc `options`. */
export function makeStack(preset: PythonMallocPreset = "default", options: PymallocOptions = {}): Stack {
  const kernel = new Kernel({ ram: new PhysicalMemory({ size: 1024 * 1024 * 1024 }) });
  const process = kernel.createProcess();
  const libc = new MmapBumpLibc(process);
  let pm: Pymalloc | undefined;
  const py = createPyMem({ process, libc, pythonMalloc: preset, smallObject: (host) => (pm = new Pymalloc(host, options)).allocator });
  return { process, py, pm: pm! };
}

/** A replay target calling through PyMem's public functions (hooks included). */
export function pymemTarget(py: PyMem, pm: Pymalloc): ReplayTarget {
  return {
    pm,
    malloc: (d, n) => py.malloc(d as "raw", n),
    calloc: (d, n, e) => py.calloc(d as "raw", n, e),
    realloc: (d, p, n) => py.realloc(d as "raw", p, n),
    free: (d, p) => py.free(d as "raw", p),
    arenaAllocator: () => py.getArenaAllocator(),
    setArenaAllocator: (a) => py.setArenaAllocator(a),
  };
}
