import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createPyMem, PyFatalError, PyMemUsageError, type PythonMallocPreset } from "../src/index.js";
import { liveTitle } from "../../../scripts/host-facts.js";
import { fixture, livePythonSkip, probe } from "./fixtures.js";
import { makeStack, PRESETS } from "./support/stack.js";
import { SimLibc } from "./support/sim-libc.js";
import { SimProcess } from "./support/sim-process.js";
import { TEST_ARENA_SIZE, testSmallObject } from "./support/test-small-object.js";

interface EdgeFixture {
  presets: Record<string, { allocator: string; results: Record<string, boolean> }>;
}
const edges = fixture<EdgeFixture>("edges.json");

describe("PYTHONMALLOC presets", () => {
  it.each(PRESETS)("%s gives the allocator name python3 reported", (preset) => {
    const { py } = makeStack(preset);
    expect(py.allocatorName()).toBe(edges.presets[preset]!.allocator);
  });

  it("pymalloc presets without a small-object factory fail with a clear error", () => {
    const process = new SimProcess();
    const libc = new SimLibc(process);
    for (const preset of ["default", "pymalloc", "debug", "pymalloc_debug"] as const) {
      expect(() => createPyMem({ process, libc, pythonMalloc: preset })).toThrow(PyMemUsageError);
      expect(() => createPyMem({ process, libc, pythonMalloc: preset })).toThrow(/needs the small-object allocator/);
    }
    expect(createPyMem({ process, libc, pythonMalloc: "malloc" }).allocatorName()).toBe("malloc");
    expect(createPyMem({ process, libc, pythonMalloc: "malloc_debug" }).allocatorName()).toBe("malloc_debug");
  });

  it("an unknown PYTHONMALLOC is CPython's start-up fatal error", () => {
    const process = new SimProcess();
    const libc = new SimLibc(process);
    const make = () => createPyMem({ process, libc, pythonMalloc: "mimalloc" as PythonMallocPreset });
    expect(make).toThrow(PyFatalError);
    expect(make).toThrow(
      "Fatal Python error: preconfig_init_allocator: PYTHONMALLOC: unknown allocator\nPython runtime state: preinitializing\n",
    );
  });

  it("default: RAW goes to libc, MEM and OBJ share one pymalloc, small sizes stay in pymalloc arenas", () => {
    const { py, libc, pools, process } = makeStack("default");
    expect(pools).toHaveLength(1);
    const pool = pools[0]!;
    const m = py.memMalloc(100);
    const o = py.objectMalloc(100);
    expect(pool.owner(m)).not.toBe(0);
    expect(pool.owner(o)).toBe(pool.owner(m));
    expect(process.calls.at(-1)).toBe(`mmap(NULL, ${TEST_ARENA_SIZE}, 3, 34, -1, 0) = 0x${pool.arenas[0]!.toString(16)}`);
    const r = py.rawMalloc(100);
    expect(libc.owns(r)).toBe(true);
    // In a release build a PyMem block may be freed with PyObject_Free: one allocator.
    py.objectFree(m);
    expect(py.memMalloc(100)).toBe(m);
    // size 0 and > 512 fall back to the RAW domain (malloc(1) / malloc(n)).
    const z = py.objectMalloc(0);
    const big = py.memMalloc(513);
    expect(libc.owns(z) && libc.owns(big)).toBe(true);
    expect(libc.usableSize(z)).toBeGreaterThanOrEqual(1);
    expect(pool.rawFallbacks).toBe(2);
  });

  it("malloc: every domain is libc; no arena is ever mapped", () => {
    const { py, libc, process } = makeStack("malloc");
    const before = process.calls.length;
    for (const d of ["raw", "mem", "obj"] as const) expect(libc.owns(py.malloc(d, 8))).toBe(true);
    expect(process.calls.length).toBe(before);
  });

  it("debug presets install the hooks on all three domains and are idempotent", () => {
    for (const preset of ["debug", "malloc_debug", "pymalloc_debug"] as const) {
      const { py } = makeStack(preset);
      const before = (["raw", "mem", "obj"] as const).map((d) => py.getAllocator(d));
      py.setupDebugHooks();
      (["raw", "mem", "obj"] as const).forEach((d, i) => {
        const a = py.getAllocator(d);
        expect(a.malloc === before[i]!.malloc).toBe(true);
        expect(a.ctx).toBe(before[i]!.ctx);
      });
      expect(py.allocatorName()).toBe(preset === "malloc_debug" ? "malloc_debug" : "pymalloc_debug");
    }
  });
});

describe("§1.6 edge semantics, against python3 (ctypes) results", () => {
  const huge: Record<string, number> = {
    "2**63": 2 ** 63,
    "2**62": 2 ** 62,
    "2**61": 2 ** 61,
    "2**64-1": 2 ** 64, // nearest double: still above every size_t check that python3 passed
  };
  /** Runs one fixture label against `py`; returns whether the result is non-NULL, or undefined when not expressible. */
  function run(py: ReturnType<typeof makeStack>["py"], domain: "raw" | "mem" | "obj", label: string): boolean | undefined {
    const call = /^(\w+)\((.*)\)( moved)?$/.exec(label);
    if (call === null) return undefined;
    const [, fn, argText] = call;
    const args = argText!.split(",").map((a) => (a in huge ? huge[a]! : a === "NULL" ? 0 : a === "p" || a === "p100" ? -1 : Number(a)));
    if (args.some((a) => Number.isNaN(a))) return undefined; // 2**63-1 and friends are no doubles
    if (fn === "malloc") {
      const p = py.malloc(domain, args[0]!);
      py.free(domain, p);
      return p !== 0;
    }
    if (fn === "calloc") {
      const p = py.calloc(domain, args[0]!, args[1]!);
      py.free(domain, p);
      return p !== 0;
    }
    if (fn === "realloc" && args[0] === 0) {
      const p = py.realloc(domain, 0, args[1]!);
      py.free(domain, p);
      return p !== 0;
    }
    if (fn === "realloc") {
      const p = py.malloc(domain, argText!.startsWith("p100") ? 100 : 10);
      const q = py.realloc(domain, p, args[1]!);
      if (label.endsWith("moved")) {
        py.free(domain, q);
        return q !== p;
      }
      py.free(domain, q === 0 ? p : q);
      return q !== 0;
    }
    if (fn === "free") {
      py.free(domain, 0);
      return true;
    }
    return undefined;
  }

  function compareEdges(preset: PythonMallocPreset, results: Record<string, boolean>): void {
    const { py } = makeStack(preset);
    let checked = 0;
    for (const [key, expected] of Object.entries(results)) {
      const [domain, label] = key.split(" ", 2) as ["raw" | "mem" | "obj", string];
      const got = run(py, domain, key.slice(domain.length + 1));
      if (got === undefined) continue;
      expect([label, got]).toEqual([label, expected]);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3 * 14);
  }

  it.each(PRESETS)("%s", (preset) => compareEdges(preset, edges.presets[preset]!.results));

  const skip = livePythonSkip();
  it.skipIf(skip !== null)(liveTitle("the same calls against python3 running now, every preset", skip), () => {
    for (const preset of PRESETS) {
      const out = execFileSync("python3", [probe("probe_edges.py")], { encoding: "utf8", env: { ...process.env, PYTHONMALLOC: preset } });
      const rec = JSON.parse(out) as EdgeFixture["presets"][string];
      const { py } = makeStack(preset);
      expect(py.allocatorName()).toBe(rec.allocator);
      compareEdges(preset, rec.results);
    }
  });

  it("sizes above PY_SSIZE_T_MAX never reach the allocator; PY_SSIZE_T_MAX itself does", () => {
    const { py, libc } = makeStack("malloc");
    const calls = libc.calls;
    expect(py.rawMalloc(2 ** 63)).toBe(0);
    expect(py.memRealloc(0, 2 ** 64)).toBe(0);
    expect(py.objectCalloc(2 ** 62, 2)).toBe(0);
    expect(libc.calls).toBe(calls);
    expect(py.rawMalloc(2 ** 62)).toBe(0); // reaches malloc, which fails
    expect(libc.calls).toBe(calls + 1);
    expect(libc.errno).toBe(12);
  });

  it("calloc(0, huge) passes the overflow check and returns a real calloc(1, 1) block", () => {
    const { py, libc } = makeStack("malloc");
    const p = py.rawCalloc(0, 2 ** 64);
    expect(p).not.toBe(0);
    expect(libc.usableSize(p)).toBeGreaterThanOrEqual(1);
  });

  it("realloc(p, 0) keeps a block: malloc moves to realloc(p, 1), pymalloc moves to malloc(1)", () => {
    const m = makeStack("malloc");
    const p = m.py.memMalloc(10);
    expect(m.py.memRealloc(p, 0)).toBe(p);
    const d = makeStack("default");
    const q = d.py.memMalloc(100);
    const r = d.py.memRealloc(q, 0);
    expect(r).not.toBe(q);
    expect(d.libc.owns(r)).toBe(true);
  });

  it("bad arguments are typed errors naming the function and value, and change nothing", () => {
    const { py, libc } = makeStack("default");
    const calls = libc.calls;
    expect(() => py.memMalloc(-1)).toThrow(PyMemUsageError);
    expect(() => py.memMalloc(-1)).toThrow("pymem: PyMem_Malloc: the size must be a non-negative integer (a C size_t), got -1");
    expect(() => py.objectRealloc(0, 1.5)).toThrow(/PyObject_Realloc.*got 1.5/);
    expect(() => py.rawCalloc(Number.NaN, 1)).toThrow(/PyMem_RawCalloc: nelem/);
    expect(libc.calls).toBe(calls);
  });
});

describe("allocator and arena slots", () => {
  it("getAllocator copies; setAllocator installs a wrapper that sees every call", () => {
    const { py } = makeStack("default");
    const inner = py.getAllocator("mem");
    const seen: string[] = [];
    py.setAllocator("mem", {
      ctx: inner,
      malloc: (ctx: typeof inner, n: number) => (seen.push(`malloc ${n}`), ctx.malloc(ctx.ctx, n)),
      calloc: (ctx: typeof inner, a: number, b: number) => (seen.push(`calloc ${a} ${b}`), ctx.calloc(ctx.ctx, a, b)),
      realloc: (ctx: typeof inner, p: number, n: number) => (seen.push(`realloc ${n}`), ctx.realloc(ctx.ctx, p, n)),
      free: (ctx: typeof inner, p: number) => (seen.push("free"), ctx.free(ctx.ctx, p)),
    });
    expect(py.allocatorName()).toBeNull();
    const p = py.memMalloc(3);
    py.memFree(py.memRealloc(py.memCalloc(2, 2) && p, 7));
    expect(seen).toEqual(["malloc 3", "calloc 2 2", "realloc 7", "free"]);
    py.setAllocator("mem", inner);
    expect(py.allocatorName()).toBe("pymalloc");
  });

  it("setupDebugHooks wraps a custom allocator; the name is then null", () => {
    const { py } = makeStack("default");
    py.setAllocator("obj", py.getAllocator("raw"));
    py.setupDebugHooks();
    expect(py.allocatorName()).toBeNull();
    const p = py.objectMalloc(4);
    expect(py.memory.load8(p - 8)).toBe(0x6f);
  });

  it("the default arena allocator is mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) / munmap", () => {
    const { py, process } = makeStack("malloc");
    const a = py.getArenaAllocator();
    const p = a.alloc(a.ctx, 1 << 20);
    expect(process.calls.at(-1)).toBe(`mmap(NULL, 1048576, 3, 34, -1, 0) = 0x${p.toString(16)}`);
    a.free(a.ctx, p, 1 << 20);
    expect(process.calls.at(-1)).toBe(`munmap(0x${p.toString(16)}, 1048576) = 0`);
    process.mmapBudget = 0;
    expect(a.alloc(a.ctx, 1 << 20)).toBe(0); // SyscallError ENOMEM -> NULL
  });

  it("pymalloc takes its next arena from the arena allocator set now, and falls back to RAW when it fails", () => {
    const { py, pools, libc } = makeStack("default");
    const got: number[] = [];
    const inner = py.getArenaAllocator();
    py.setArenaAllocator({ ctx: inner, alloc: (c: typeof inner, n: number) => (got.push(n), 0), free: () => undefined });
    const p = py.objectMalloc(8);
    expect(got).toEqual([TEST_ARENA_SIZE]);
    expect(libc.owns(p)).toBe(true);
    expect(pools[0]!.rawFallbacks).toBe(1);
  });

  it("unknown domains are typed errors", () => {
    const { py } = makeStack("default");
    expect(() => py.getAllocator("gpu" as "raw")).toThrow(PyMemUsageError);
    expect(() => py.setAllocator("gpu" as "raw", py.getAllocator("raw"))).toThrow(/unknown domain gpu/);
  });
});

describe("records with prototype methods (a class implementing PyMemAllocatorEx)", () => {
  it("are copied field by field and called with ctx", () => {
    const { py } = makeStack("malloc");
    const inner = py.getAllocator("raw");
    class Counting {
      calls = 0;
      malloc(ctx: Counting, n: number): number {
        ctx.calls++;
        return inner.malloc(inner.ctx, n);
      }
      calloc(ctx: Counting, a: number, b: number): number {
        ctx.calls++;
        return inner.calloc(inner.ctx, a, b);
      }
      realloc(ctx: Counting, p: number, n: number): number {
        ctx.calls++;
        return inner.realloc(inner.ctx, p, n);
      }
      free(ctx: Counting, p: number): void {
        ctx.calls++;
        inner.free(inner.ctx, p);
      }
      get ctx(): Counting {
        return this;
      }
    }
    const counting = new Counting();
    py.setAllocator("raw", counting);
    py.rawFree(py.rawRealloc(py.rawCalloc(1, 2) && py.rawMalloc(3), 9));
    expect(counting.calls).toBe(4);
  });
});

describe("PyMem_New / PyMem_Resize", () => {
  it("refuse n > PY_SSIZE_T_MAX / sizeof(T) before the allocator, else allocate n * sizeof(T)", () => {
    const { py, libc } = makeStack("malloc");
    const calls = libc.calls;
    expect(py.memNew(2 ** 61, 8)).toBe(0);
    expect(py.memResize(0, 2 ** 60 + 2 ** 59, 8)).toBe(0);
    expect(libc.calls).toBe(calls);
    const p = py.memNew(10, 8);
    expect(libc.usableSize(p)).toBeGreaterThanOrEqual(80);
    const q = py.memResize(p, 100, 8);
    expect(libc.usableSize(q)).toBeGreaterThanOrEqual(800);
    expect(libc.calls).toBe(calls + 3); // malloc; realloc = malloc + free in the test libc
    expect(py.memNew(2 ** 59 + 2 ** 58, 8)).toBe(0); // 2^62 + 2^61 bytes: passes the check, the allocator fails
    expect(libc.calls).toBe(calls + 4);
  });
});

describe("preset selection rules (Python/preconfig.c)", () => {
  it('an empty PYTHONMALLOC is "default"; -X dev selects "debug" only when nothing was chosen', () => {
    const process = new SimProcess();
    const libc = new SimLibc(process);
    const make = (pythonMalloc: PythonMallocPreset | "" | undefined, devMode: boolean) =>
      createPyMem({ process, libc, pythonMalloc, devMode, smallObject: testSmallObject() });
    expect(make("", false).allocatorName()).toBe("pymalloc");
    expect(make(undefined, true).allocatorName()).toBe("pymalloc_debug");
    expect(make("", true).preset).toBe("debug");
    expect(make("malloc", true).allocatorName()).toBe("malloc");
    expect(make("pymalloc", true).allocatorName()).toBe("pymalloc");
  });
});
