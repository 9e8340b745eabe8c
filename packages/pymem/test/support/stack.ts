import { createPyMem, type PyMem, type PyMemOptions, type PythonMallocPreset } from "../../src/index.js";
import { SimLibc } from "./sim-libc.js";
import { SimProcess } from "./sim-process.js";
import { testSmallObject, type TestPool } from "./test-small-object.js";

/** A PyMem over the test process, libc and small-object allocator. */
export interface Stack {
  py: PyMem;
  process: SimProcess;
  libc: SimLibc;
  pools: TestPool[];
}

export function makeStack(pythonMalloc: PythonMallocPreset = "default", extra: Partial<PyMemOptions> = {}): Stack {
  const process = new SimProcess();
  const libc = new SimLibc(process);
  const pools: TestPool[] = [];
  const py = createPyMem({ process, libc, pythonMalloc, smallObject: testSmallObject(pools), ...extra });
  return { py, process, libc, pools };
}

export const PRESETS: readonly PythonMallocPreset[] = ["default", "malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"];

/** Reads `length` bytes at `address` as lowercase hex. */
export function hexAt(stack: Stack, address: number, length: number): string {
  return Buffer.from(stack.process.memory.read(address, length)).toString("hex");
}
