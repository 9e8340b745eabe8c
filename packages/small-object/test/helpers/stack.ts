/**
 * The stack for tests: an @mem/os-vm process, @mem/pymem configured with a PYTHONMALLOC
 * preset, this package's Pymalloc in the MEM and OBJ domains, and @mem/libc-malloc's
 * glibc model behind the raw domain: the whole stack beneath pymalloc.
 */
import { PhysicalMemory } from "@mem/hardware";
import { Kernel, type Process } from "@mem/os-vm";
import { createPyMem, type PyMem, type PythonMallocPreset } from "@mem/pymem";
import { Pymalloc, type PymallocOptions } from "../../src/index.js";
import { GlibcMalloc } from "@mem/libc-malloc";
import type { ReplayTarget } from "./replay.js";

export interface Stack {
  process: Process;
  libc: GlibcMalloc;
  py: PyMem;
  /** The pymalloc instance; undefined for the presets without pymalloc ("malloc", "malloc_debug"). */
  pm: Pymalloc | undefined;
}

/** Builds the stack with `preset` (default "default") and pymalloc `options`. */
export function makeStack(preset: PythonMallocPreset = "default", options: PymallocOptions = {}): Stack {
  const kernel = new Kernel({ ram: new PhysicalMemory({ size: 1024 * 1024 * 1024 }) });
  const process = kernel.createProcess();
  const libc = new GlibcMalloc(process, { tcacheKey: 0x5eed });
  let pm: Pymalloc | undefined;
  const py = createPyMem({ process, libc, pythonMalloc: preset, smallObject: (host) => (pm = new Pymalloc(host, options)).allocator });
  return { process, libc, py, pm };
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
