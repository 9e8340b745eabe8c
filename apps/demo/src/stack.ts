/**
 * The composition root: the one place where the tiers are wired into the CPython 3.11
 * allocation stack (RAM → kernel and process → libc malloc → PyMem domains → pymalloc).
 * Every tier is chosen here, so swapping one is a change of option.
 */
import { PhysicalMemory } from "@mem/hardware";
import { Glibc241Malloc, Glibc242Malloc, Glibc243Malloc, GlibcMalloc, TlsfMalloc, type CAllocator, type GlibcMallocOptions } from "@mem/libc-malloc";
import { Kernel, type OvercommitPolicy, type Process, type ProcessSpace } from "@mem/os-vm";
import { createPyMem, type PyMem, type PythonMallocPreset, type SmallObjectHost } from "@mem/pymem";
import { Pymalloc, type PymallocVersion } from "@mem/small-object";

/**
 * The C library implementations a stack can be built with: glibc 2.36's ptmalloc2, or a
 * TLSF allocator (two-level segregated fit) behind the same interface.
 */
export const LIBC_IMPLEMENTATIONS = ["glibc", "tlsf"] as const;
/** One of {@link LIBC_IMPLEMENTATIONS}. */
export type LibcImplementation = (typeof LIBC_IMPLEMENTATIONS)[number];
/** The `PYTHONMALLOC` presets of a CPython 3.11 release build. */
export const PYTHONMALLOC_PRESETS = ["default", "malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"] as const;
/**
 * The glibc releases with a malloc model: 2.36 (Debian 12), 2.41 (Debian 13), 2.43 (Debian
 * unstable), each checked against the real one, and 2.42 from its sources only (see
 * {@link UNCHECKED_GLIBC_RELEASES}).
 */
export const GLIBC_RELEASES = ["2.36", "2.41", "2.42", "2.43"] as const;
/** Releases whose model was written from the sources and never compared with a real build (no distribution ships 2.42). */
export const UNCHECKED_GLIBC_RELEASES: readonly GlibcRelease[] = ["2.42"];
/** One of {@link GLIBC_RELEASES}. */
export type GlibcRelease = (typeof GLIBC_RELEASES)[number];
/** The pymalloc parameter presets. */
export const PYMALLOC_VERSION_NAMES = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"] as const;

/** Options of {@link createStack}: each replaces one tier. */
export interface StackOptions {
  /** Installed RAM in bytes. @defaultValue 1 GiB */
  ramSize?: number;
  /** The C library allocator. @defaultValue "glibc" */
  libc?: LibcImplementation;
  /** The `PYTHONMALLOC` preset. @defaultValue "default" */
  pythonMalloc?: PythonMallocPreset;
  /** The pymalloc parameter preset. @defaultValue "3.11" */
  pymallocVersion?: PymallocVersion;
  /**
   * `vm.overcommit_memory`: 0 heuristic (a page fault that finds no frame runs the OOM killer),
   * 1 always, 2 never (mmap and brk fail with ENOMEM beyond the commit limit). @defaultValue 0
   */
  overcommit?: OvercommitPolicy;
  /** Swap space in bytes (a multiple of 4096, at least 8192), or 0 for none, as on this machine. @defaultValue 0 */
  swapSize?: number;
  /**
   * glibc's malloc settings (the `glibc.malloc.*` tunables; see glibc-tunables.ts for reading
   * them from GLIBC_TUNABLES and MALLOC_*_). Ignored by `libc: "tlsf"`. @defaultValue glibc's defaults
   */
  glibc?: GlibcMallocOptions;
  /** Which glibc release's malloc (`libc: "glibc"` only). @defaultValue "2.36" */
  glibcRelease?: GlibcRelease;
  /**
   * Makes everything random in the stack reproducible: glibc's `tcache_key` (8 random bytes
   * in glibc) is derived from it unless `glibc.tcacheKey` is given. @defaultValue random
   */
  seed?: number;
  /**
   * Lets the caller wrap the process before the allocators see it (the walk-through
   * wraps it to watch the system calls, like strace).
   */
  wrapProcess?: (process: ProcessSpace) => ProcessSpace;
  /** Lets the caller wrap the C allocator before PyMem sees it. */
  wrapLibc?: (libc: CAllocator) => CAllocator;
}

/** The tiers of one running stack. */
export interface CPythonStack {
  /** Physical RAM. */
  readonly ram: PhysicalMemory;
  /** The kernel: physical page allocator, processes. */
  readonly kernel: Kernel;
  /** The Python process. */
  readonly process: Process;
  /** The C library allocator of the process (the concrete implementation). */
  readonly libc: GlibcMalloc | TlsfMalloc;
  /** The PyMem tier: the three domains. */
  readonly pymem: PyMem;
  /** The pymalloc instance, when the preset uses pymalloc. */
  readonly pymalloc: Pymalloc | undefined;
  /** The options in force, defaults filled in. */
  readonly options: Required<Omit<StackOptions, "wrapProcess" | "wrapLibc" | "glibc" | "seed">> & {
    /** glibc's malloc settings in force (the tcache key included). */
    readonly glibc: GlibcMallocOptions;
    /** The seed, if one was given. */
    readonly seed: number | undefined;
  };
}

/** Builds the default CPython 3.11 stack, with any tier replaced through `options`. */
export function createStack(options: StackOptions = {}): CPythonStack {
  const settings = {
    ramSize: options.ramSize ?? 1024 * 1024 * 1024,
    libc: options.libc ?? "glibc",
    glibcRelease: options.glibcRelease ?? "2.36",
    pythonMalloc: options.pythonMalloc ?? "default",
    pymallocVersion: options.pymallocVersion ?? "3.11",
    overcommit: options.overcommit ?? 0,
    swapSize: options.swapSize ?? 0,
  } satisfies Omit<CPythonStack["options"], "glibc" | "seed">;
  if (!(LIBC_IMPLEMENTATIONS as readonly string[]).includes(settings.libc)) {
    throw new RangeError(`mem-demo: unknown libc implementation "${settings.libc}" (one of: ${LIBC_IMPLEMENTATIONS.join(", ")})`);
  }
  const ram = new PhysicalMemory({ size: settings.ramSize });
  if (![0, 1, 2].includes(settings.overcommit)) throw new RangeError(`mem-demo: overcommit must be 0, 1 or 2, got ${String(settings.overcommit)}`);
  if (!Number.isSafeInteger(settings.swapSize) || settings.swapSize < 0 || settings.swapSize % 4096 !== 0 || settings.swapSize === 4096) {
    throw new RangeError(`mem-demo: swap must be 0 or a multiple of 4096 bytes of at least 8192, got ${String(settings.swapSize)}`);
  }
  const swap = settings.swapSize > 0 ? new PhysicalMemory({ size: settings.swapSize }) : undefined;
  const kernel = new Kernel({ ram, overcommitMemory: settings.overcommit, ...(swap ? { swap } : {}) });
  const process = kernel.createProcess({ comm: "python3" });
  const seen = options.wrapProcess ? options.wrapProcess(process) : process;
  const glibc: GlibcMallocOptions = { ...options.glibc };
  if (glibc.tcacheKey === undefined && options.seed !== undefined) glibc.tcacheKey = seededKey(options.seed);
  if (!(GLIBC_RELEASES as readonly string[]).includes(settings.glibcRelease)) {
    throw new RangeError(`mem-demo: no model of glibc ${String(settings.glibcRelease)} (one of: ${GLIBC_RELEASES.join(", ")})`);
  }
  const libc = settings.libc === "glibc" ? glibcMalloc(settings.glibcRelease, seen, glibc) : new TlsfMalloc(seen);
  let pymalloc: Pymalloc | undefined;
  const pymem = createPyMem({
    process: seen,
    libc: options.wrapLibc ? options.wrapLibc(libc) : libc,
    pythonMalloc: settings.pythonMalloc,
    smallObject: (host: SmallObjectHost) => {
      pymalloc = new Pymalloc(host, { version: settings.pymallocVersion });
      return pymalloc.allocator;
    },
  });
  const used = { ...settings, glibc: libc instanceof GlibcMalloc ? { ...glibc, tcacheKey: libc.tcacheKey } : glibc, seed: options.seed };
  return { ram, kernel, process, libc, pymem, pymalloc, options: used };
}

/**
 * A 53-bit `tcache_key` from a seed (splitmix64's first output, top 53 bits): the same seed
 * gives the same key, different seeds give unrelated keys.
 */
export function seededKey(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`mem-demo: the seed must be a non-negative integer, got ${String(seed)}`);
  const mask = (1n << 64n) - 1n;
  let z = (BigInt(seed) + 0x9e3779b97f4a7c15n) & mask;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
  z ^= z >> 31n;
  return Number(z >> 11n);
}

/**
 * The C library's own statistics: glibc's `malloc_stats()` text, or for an implementation
 * without one, its `mallinfo2()` fields.
 */
export function libcStatsText(libc: CPythonStack["libc"]): string {
  if (libc instanceof GlibcMalloc) return libc.mallocStats();
  const info = libc.mallinfo2();
  return Object.entries(info)
    .map(([field, value]) => `${field.padEnd(9)}= ${String(value).padStart(12)}`)
    .join("\n") + "\n";
}

/** The malloc model of a glibc release. */
function glibcMalloc(release: GlibcRelease, process: ProcessSpace, options: GlibcMallocOptions): GlibcMalloc {
  switch (release) {
    case "2.41":
      return new Glibc241Malloc(process, options);
    case "2.42":
      return new Glibc242Malloc(process, options);
    case "2.43":
      return new Glibc243Malloc(process, options);
    default:
      return new GlibcMalloc(process, options);
  }
}
