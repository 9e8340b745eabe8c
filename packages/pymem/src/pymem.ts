import type { Memory } from "@mem/hardware";
import type {
  AllocatorName,
  PyMemAllocatorEx,
  PyMemDomain,
  PyMemOptions,
  PyObjectArenaAllocator,
  PythonMallocPreset,
  PythonThreadState,
  SmallObjectHost,
} from "./api.js";
import { mmapArenaAllocator } from "./arena-allocator.js";
import type { DebugReporter } from "./debug-dump.js";
import { debugAllocator, debugMalloc, debugRawMalloc, type DebugApi } from "./debug-hooks.js";
import { readDebugBlock, type DebugBlockView } from "./debug-inspect.js";
import { PyFatalError, PyMemUsageError } from "./errors.js";
import { mallocAllocator } from "./malloc-allocator.js";
import { callocOverflows, checkSizeArgument, exceedsSsizeMax } from "./size.js";

/**
 * CPython 3.11's PyMem tier: three domain slots, each a `PyMemAllocatorEx` record the public
 * functions call through, the arena allocator slot, the debug-hook records and the presets.
 *
 * ```
 *   rawMalloc ... rawFree     memMalloc ... memFree     objectMalloc ... objectFree
 *        |  pre-checks (size > PY_SSIZE_T_MAX -> NULL, calloc overflow -> NULL)  |
 *        v                           v                           v
 *   [ RAW slot ]                [ MEM slot ]                [ OBJ slot ]      <- get/setAllocator
 *     (tracemalloc hooks) -> (debug hooks 'r'/'m'/'o') -> base allocator
 *     "malloc" = libc           "pymalloc" (one instance shared by MEM and OBJ) or "malloc"
 * ```
 */
export class PyMem implements DebugReporter {
  /** The memory every block lives in (the process's). */
  readonly memory: Memory;
  /** The preset this instance was created with. */
  readonly preset: PythonMallocPreset;

  private raw: PyMemAllocatorEx;
  private mem: PyMemAllocatorEx;
  private obj: PyMemAllocatorEx;
  private arena: PyObjectArenaAllocator;
  private readonly mallocRecord: PyMemAllocatorEx;
  private readonly pymallocRecord: PyMemAllocatorEx | null;
  private readonly debugApis: Record<PyMemDomain, DebugApi>;
  private readonly threadState: (() => PythonThreadState) | undefined;
  private gil = true;
  private tracebackDumper: ((p: number) => string) | null = null;

  /** Configures the domains as CPython 3.11 does for `options.pythonMalloc` (see {@link createPyMem}). */
  constructor(options: PyMemOptions) {
    const chosen = options.pythonMalloc ?? "";
    const preset: PythonMallocPreset = chosen === "" ? (options.devMode === true ? "debug" : "default") : chosen;
    if (!PRESETS.includes(preset)) {
      const report =
        "Fatal Python error: preconfig_init_allocator: PYTHONMALLOC: unknown allocator\n" + "Python runtime state: preinitializing\n";
      throw new PyFatalError("preconfig_init_allocator", "PYTHONMALLOC: unknown allocator", 0, report);
    }
    this.preset = preset;
    this.memory = options.process.memory;
    this.threadState = options.threadState;
    this.arena = mmapArenaAllocator(options.process);
    this.mallocRecord = mallocAllocator(options.libc);
    const usesPymalloc = preset !== "malloc" && preset !== "malloc_debug";
    if (usesPymalloc && options.smallObject === undefined) {
      throw new PyMemUsageError(
        `pymem: PYTHONMALLOC=${preset} needs the small-object allocator (pymalloc): pass options.smallObject ` +
          `(a SmallObjectFactory, e.g. from @mem/small-object), or choose "malloc" / "malloc_debug"`,
      );
    }
    const apis = {} as Record<PyMemDomain, DebugApi>;
    for (const domain of DOMAINS) {
      apis[domain] = { apiId: API_IDS[domain], alloc: this.mallocRecord, memory: this.memory, reporter: this };
    }
    this.debugApis = apis;
    this.raw = this.mem = this.obj = copyRecord(this.mallocRecord);
    this.pymallocRecord = null;
    if (usesPymalloc && options.smallObject !== undefined) {
      const record = options.smallObject(this.smallObjectHost());
      this.pymallocRecord = copyRecord(record);
      this.mem = copyRecord(record);
      this.obj = copyRecord(record);
    }
    if (preset === "debug" || preset === "malloc_debug" || preset === "pymalloc_debug") this.setupDebugHooks();
  }

  /** The host handed to the small-object factory: memory, the RAW wrappers, the current arena allocator. */
  private smallObjectHost(): SmallObjectHost {
    return {
      memory: this.memory,
      raw: {
        malloc: (size) => this.rawMalloc(size),
        calloc: (nelem, elsize) => this.rawCalloc(nelem, elsize),
        realloc: (pointer, size) => this.rawRealloc(pointer, size),
        free: (pointer) => this.rawFree(pointer),
      },
      arenaAllocator: () => this.arena,
    };
  }

  // ---- RAW domain -------------------------------------------------------------------------

  /** `PyMem_RawMalloc(size)`: NULL (0) for `size > PY_SSIZE_T_MAX`, else the RAW slot's malloc. */
  rawMalloc(size: number): number {
    if ((typeof size !== "number" || (size >>> 0) !== size) && this.refuseSize("PyMem_RawMalloc", size)) return 0;
    const a = this.raw;
    return a.malloc(a.ctx, size);
  }

  /** `PyMem_RawCalloc(nelem, elsize)`: NULL when `nelem * elsize` would exceed `PY_SSIZE_T_MAX`. */
  rawCalloc(nelem: number, elsize: number): number {
    if (this.refuseCalloc("PyMem_RawCalloc", nelem, elsize)) return 0;
    const a = this.raw;
    return a.calloc(a.ctx, nelem, elsize);
  }

  /** `PyMem_RawRealloc(ptr, size)`: NULL (ptr untouched) for `size > PY_SSIZE_T_MAX`. */
  rawRealloc(pointer: number, size: number): number {
    if ((typeof size !== "number" || (size >>> 0) !== size) && this.refuseSize("PyMem_RawRealloc", size)) return 0;
    const a = this.raw;
    return a.realloc(a.ctx, pointer, size);
  }

  /** `PyMem_RawFree(ptr)`. */
  rawFree(pointer: number): void {
    const a = this.raw;
    a.free(a.ctx, pointer);
  }

  // ---- MEM domain -------------------------------------------------------------------------

  /** `PyMem_Malloc(size)`. */
  memMalloc(size: number): number {
    if ((typeof size !== "number" || (size >>> 0) !== size) && this.refuseSize("PyMem_Malloc", size)) return 0;
    const a = this.mem;
    return a.malloc(a.ctx, size);
  }

  /** `PyMem_Calloc(nelem, elsize)`. */
  memCalloc(nelem: number, elsize: number): number {
    if (this.refuseCalloc("PyMem_Calloc", nelem, elsize)) return 0;
    const a = this.mem;
    return a.calloc(a.ctx, nelem, elsize);
  }

  /** `PyMem_Realloc(ptr, size)`. */
  memRealloc(pointer: number, size: number): number {
    if ((typeof size !== "number" || (size >>> 0) !== size) && this.refuseSize("PyMem_Realloc", size)) return 0;
    const a = this.mem;
    return a.realloc(a.ctx, pointer, size);
  }

  /** `PyMem_Free(ptr)`. */
  memFree(pointer: number): void {
    const a = this.mem;
    a.free(a.ctx, pointer);
  }

  /**
   * `PyMem_New(type, n)` with `elemSize = sizeof(type)`: NULL without calling the allocator when
   * `n > PY_SSIZE_T_MAX / sizeof(type)`, else `PyMem_Malloc(n * sizeof(type))`.
   */
  memNew(count: number, elemSize: number): number {
    if (this.refuseCalloc("PyMem_New", count, elemSize)) return 0;
    return this.memMalloc(count * elemSize);
  }

  /**
   * `PyMem_Resize(p, type, n)`: the same check, then `PyMem_Realloc(p, n * sizeof(type))`. The C
   * macro assigns the result to `p`, so on overflow the caller loses (leaks) the old block.
   */
  memResize(pointer: number, count: number, elemSize: number): number {
    if (this.refuseCalloc("PyMem_Resize", count, elemSize)) return 0;
    return this.memRealloc(pointer, count * elemSize);
  }

  // ---- OBJ domain -------------------------------------------------------------------------

  /** `PyObject_Malloc(size)`. */
  objectMalloc(size: number): number {
    if ((typeof size !== "number" || (size >>> 0) !== size) && this.refuseSize("PyObject_Malloc", size)) return 0;
    const a = this.obj;
    return a.malloc(a.ctx, size);
  }

  /** `PyObject_Calloc(nelem, elsize)`. */
  objectCalloc(nelem: number, elsize: number): number {
    if (this.refuseCalloc("PyObject_Calloc", nelem, elsize)) return 0;
    const a = this.obj;
    return a.calloc(a.ctx, nelem, elsize);
  }

  /** `PyObject_Realloc(ptr, size)`. */
  objectRealloc(pointer: number, size: number): number {
    if ((typeof size !== "number" || (size >>> 0) !== size) && this.refuseSize("PyObject_Realloc", size)) return 0;
    const a = this.obj;
    return a.realloc(a.ctx, pointer, size);
  }

  /** `PyObject_Free(ptr)`. */
  objectFree(pointer: number): void {
    const a = this.obj;
    a.free(a.ctx, pointer);
  }

  /** The public functions of one domain, for code that takes the domain as data. */
  malloc(domain: PyMemDomain, size: number): number {
    return domain === "raw" ? this.rawMalloc(size) : domain === "mem" ? this.memMalloc(size) : this.objectMalloc(size);
  }

  /** `calloc` of `domain`. */
  calloc(domain: PyMemDomain, nelem: number, elsize: number): number {
    return domain === "raw"
      ? this.rawCalloc(nelem, elsize)
      : domain === "mem"
        ? this.memCalloc(nelem, elsize)
        : this.objectCalloc(nelem, elsize);
  }

  /** `realloc` of `domain`. */
  realloc(domain: PyMemDomain, pointer: number, size: number): number {
    return domain === "raw"
      ? this.rawRealloc(pointer, size)
      : domain === "mem"
        ? this.memRealloc(pointer, size)
        : this.objectRealloc(pointer, size);
  }

  /** `free` of `domain`. */
  free(domain: PyMemDomain, pointer: number): void {
    if (domain === "raw") this.rawFree(pointer);
    else if (domain === "mem") this.memFree(pointer);
    else this.objectFree(pointer);
  }

  /** Slow path of the size pre-check: throws on a non-size, true when `size > PY_SSIZE_T_MAX`. */
  private refuseSize(func: string, size: number): boolean {
    checkSizeArgument(func, "the size", size);
    return exceedsSsizeMax(size);
  }

  private refuseCalloc(func: string, nelem: number, elsize: number): boolean {
    // typeof first: a BigInt would make `>>>` throw a raw "Cannot mix BigInt" TypeError.
    if (typeof nelem !== "number" || (nelem >>> 0) !== nelem) checkSizeArgument(func, "nelem", nelem);
    if (typeof elsize !== "number" || (elsize >>> 0) !== elsize) checkSizeArgument(func, "elsize", elsize);
    return callocOverflows(nelem, elsize);
  }

  // ---- slots ------------------------------------------------------------------------------

  /** `PyMem_GetAllocator(domain, &out)`: a copy of the slot's record. */
  getAllocator(domain: PyMemDomain): PyMemAllocatorEx {
    return copyRecord(this.slot(domain));
  }

  /**
   * `PyMem_SetAllocator(domain, allocator)`: copies the record into the slot. As in CPython the
   * new allocator should wrap the old one: blocks handed out before are freed through it.
   */
  setAllocator(domain: PyMemDomain, allocator: PyMemAllocatorEx): void {
    const record = copyRecord(allocator);
    if (domain === "raw") this.raw = record;
    else if (domain === "mem") this.mem = record;
    else if (domain === "obj") this.obj = record;
    else throw new PyMemUsageError(`pymem: PyMem_SetAllocator: unknown domain ${String(domain)} (raw, mem or obj)`);
  }

  /** `PyObject_GetArenaAllocator(&out)`: a copy of the arena allocator record. */
  getArenaAllocator(): PyObjectArenaAllocator {
    const a = this.arena;
    // eslint-disable-next-line @typescript-eslint/unbound-method
    return { ctx: a.ctx, alloc: a.alloc, free: a.free };
  }

  /** `PyObject_SetArenaAllocator(allocator)`: pymalloc uses it for its next arena. */
  setArenaAllocator(allocator: PyObjectArenaAllocator): void {
    // eslint-disable-next-line @typescript-eslint/unbound-method
    this.arena = { ctx: allocator.ctx, alloc: allocator.alloc, free: allocator.free };
  }

  /**
   * `PyMem_SetupDebugHooks()`: for each domain whose slot is not already the debug hooks, save
   * the slot in that domain's debug record and install the hooks. Idempotent per domain.
   */
  setupDebugHooks(): void {
    if (this.raw.malloc !== debugRawMalloc) {
      this.debugApis.raw.alloc = copyRecord(this.raw);
      this.raw = debugAllocator(this.debugApis.raw, true);
    }
    if (this.mem.malloc !== debugMalloc) {
      this.debugApis.mem.alloc = copyRecord(this.mem);
      this.mem = debugAllocator(this.debugApis.mem, false);
    }
    if (this.obj.malloc !== debugMalloc) {
      this.debugApis.obj.alloc = copyRecord(this.obj);
      this.obj = debugAllocator(this.debugApis.obj, false);
    }
  }

  /**
   * Inspection (read-only): the decoration the debug hooks of `domain` wrote around `pointer`
   * (size word, API id, pad bytes, the pointer the allocator beneath returned), or `null` when
   * that domain's slot does not hold the debug hooks. Nothing is checked or reported: see
   * {@link DebugBlockView.intact}.
   */
  debugBlock(domain: PyMemDomain, pointer: number): DebugBlockView | null {
    const slot = this.slot(domain);
    if (slot.malloc !== debugRawMalloc && slot.malloc !== debugMalloc) return null;
    return readDebugBlock(this.memory, domain, pointer);
  }

  /** `_PyMem_GetCurrentAllocatorName()`: which preset the slots hold, `null` for anything else. */
  allocatorName(): AllocatorName {
    const m = this.mallocRecord;
    const py = this.pymallocRecord;
    if (same(this.raw, m) && same(this.mem, m) && same(this.obj, m)) return "malloc";
    if (py !== null && same(this.raw, m) && same(this.mem, py) && same(this.obj, py)) return "pymalloc";
    const d = this.debugApis;
    if (
      same(this.raw, debugAllocator(d.raw, true)) &&
      same(this.mem, debugAllocator(d.mem, false)) &&
      same(this.obj, debugAllocator(d.obj, false))
    ) {
      if (same(d.raw.alloc, m) && same(d.mem.alloc, m) && same(d.obj.alloc, m)) return "malloc_debug";
      if (py !== null && same(d.raw.alloc, m) && same(d.mem.alloc, py) && same(d.obj.alloc, py)) return "pymalloc_debug";
    }
    return null;
  }

  private slot(domain: PyMemDomain): PyMemAllocatorEx {
    if (domain === "raw") return this.raw;
    if (domain === "mem") return this.mem;
    if (domain === "obj") return this.obj;
    throw new PyMemUsageError(`pymem: PyMem_GetAllocator: unknown domain ${String(domain)} (raw, mem or obj)`);
  }

  // ---- GIL, fatal errors, tracemalloc link ------------------------------------------------

  /** Whether the current thread holds the GIL (`PyGILState_Check()`); true unless released. */
  gilHeld(): boolean {
    return this.gil;
  }

  /** Models releasing (`false`) or taking back (`true`) the GIL: the MEM/OBJ debug hooks check it. */
  setGilHeld(held: boolean): void {
    this.gil = held;
  }

  /** The text `_Py_FatalErrorFunc(func, reason)` writes (see {@link DebugReporter.fatalReport}). */
  fatalReport(func: string, reason: string): string {
    let out = `Fatal Python error: ${func}: ${reason}\nPython runtime state: initialized\n`;
    const thread = this.threadState?.();
    if (thread !== undefined) {
      out += `\nCurrent thread 0x${thread.threadId.toString(16).padStart(16, "0")} (most recent call first):\n`;
      for (const f of thread.frames) out += `  File "${f.filename}", line ${f.lineno} in ${f.name}\n`;
    }
    return out;
  }

  /** What `_PyMem_DumpTraceback` writes for block `p` (tracemalloc's part of a debug report). */
  allocationTraceback(p: number): string {
    if (this.tracebackDumper === null) return "Enable tracemalloc to get the memory block allocation traceback\n\n";
    return this.tracebackDumper(p);
  }

  /**
   * Connects a tracer (tracemalloc) to the debug reports: while set, a report shows the block's
   * allocation traceback as `dumper(p)` writes it. `null` disconnects.
   */
  setTracebackDumper(dumper: ((p: number) => string) | null): void {
    this.tracebackDumper = dumper;
  }

  /** Whether a tracer is connected (tracemalloc is tracing). */
  hasTracebackDumper(): boolean {
    return this.tracebackDumper !== null;
  }
}

/** The three domains in CPython's order. */
export const DOMAINS: readonly PyMemDomain[] = ["raw", "mem", "obj"];
const API_IDS: Record<PyMemDomain, number> = { raw: 0x72, mem: 0x6d, obj: 0x6f };
const PRESETS: readonly string[] = ["default", "malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"];

/**
 * Copies a record field by field, as `PyMem_SetAllocator` copies the C struct (works for records
 * whose functions live on a prototype). The functions are later called with the copy as `this`:
 * like C function pointers they must work from their `ctx` argument alone.
 */
function copyRecord(a: PyMemAllocatorEx): PyMemAllocatorEx {
  /* eslint-disable @typescript-eslint/unbound-method */
  return { ctx: a.ctx, malloc: a.malloc, calloc: a.calloc, realloc: a.realloc, free: a.free };
  /* eslint-enable @typescript-eslint/unbound-method */
}

/** `pymemallocator_eq`: field-by-field equality of two records (CPython compares the bytes). */
function same(a: PyMemAllocatorEx, b: PyMemAllocatorEx): boolean {
  return a.ctx === b.ctx && a.malloc === b.malloc && a.calloc === b.calloc && a.realloc === b.realloc && a.free === b.free;
}

/**
 * Creates the PyMem tier for one process, configured by a `PYTHONMALLOC` preset as a CPython 3.11
 * release build does:
 *
 * | preset                     | RAW            | MEM             | OBJ             |
 * |----------------------------|----------------|-----------------|-----------------|
 * | default, pymalloc          | malloc         | pymalloc        | pymalloc        |
 * | malloc                     | malloc         | malloc          | malloc          |
 * | debug, pymalloc_debug      | debug('r')->malloc | debug('m')->pymalloc | debug('o')->pymalloc |
 * | malloc_debug               | debug('r')->malloc | debug('m')->malloc   | debug('o')->malloc   |
 *
 * @throws PyMemUsageError when a pymalloc preset gets no `smallObject` factory.
 * @throws PyFatalError for an unknown preset (CPython's start-up failure text).
 */
export function createPyMem(options: PyMemOptions): PyMem {
  return new PyMem(options);
}
