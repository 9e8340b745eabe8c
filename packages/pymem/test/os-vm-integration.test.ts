import { PhysicalMemory } from "@mem/hardware";
import { Kernel, PROT_READ, PROT_WRITE, MAP_ANONYMOUS, MAP_PRIVATE } from "@mem/os-vm";
import { describe, expect, it } from "vitest";
import { createPyMem, PyFatalError } from "../src/index.js";
import { SimLibc } from "./support/sim-libc.js";
import { testSmallObject, TEST_ARENA_SIZE, type TestPool } from "./support/test-small-object.js";

/** PyMem over a real @mem/os-vm process (demand-paged memory, page tables in RAM). */
describe("over an @mem/os-vm process", () => {
  function make(preset: "default" | "debug") {
    const kernel = new Kernel({ ram: new PhysicalMemory({ size: 64 * 1024 * 1024 }) });
    const process = kernel.createProcess();
    const libc = new SimLibc(process, 4 * 1024 * 1024);
    const pools: TestPool[] = [];
    const py = createPyMem({ process, libc, pythonMalloc: preset, smallObject: testSmallObject(pools) });
    return { py, process, pools };
  }

  it("arenas come from the process's mmap, blocks are written through its page tables", () => {
    const { py, pools, process } = make("default");
    const p = py.objectMalloc(100);
    const arena = pools[0]!.arenas[0]!;
    expect(p).toBeGreaterThanOrEqual(arena);
    expect(p).toBeLessThan(arena + TEST_ARENA_SIZE);
    process.memory.store64(p, 0x1234);
    expect(py.memory.load64(p)).toBe(0x1234);
    // the next mapping of the same size lands just below the arena (top-down mmap)
    const next = process.mmap(0, TEST_ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(next).toBe(arena - TEST_ARENA_SIZE);
  });

  it("a failing mmap (SyscallError) makes the arena allocator return NULL", () => {
    const { py } = make("default");
    const a = py.getArenaAllocator();
    expect(a.alloc(a.ctx, 2 ** 46)).toBe(0);
  });

  it("debug hooks over the real process memory report an overflow", () => {
    const { py } = make("debug");
    const p = py.memMalloc(16);
    py.memory.store8(p + 16, 0x58);
    expect(() => py.memFree(p)).toThrow(PyFatalError);
    expect(() => py.memFree(p)).toThrow(/bad trailing pad byte/);
  });
});
