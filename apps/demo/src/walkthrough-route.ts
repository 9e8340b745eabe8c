/**
 * The road one block took down the stack, read back from each tier's own structures after
 * the call returned: the debug hooks' decoration (PyMem's inspection), pymalloc's pool
 * header and arena object, the C library's usable size and heap walk, the kernel's mapping.
 * The walk-through's story and facts are written from these numbers, so they follow the
 * configuration and are true by construction.
 *
 * ```
 *   PyObject_Malloc(n) = p
 *     [debug hooks of OBJ]   p - 16: size word, 'o', 7 x 0xFD ... p + n: 8 x 0xFD   -> asks n + 24
 *     [pymalloc]             owns the block? its pool header says the size class
 *     [debug hooks of RAW]   when pymalloc passed the request on to PyMem_RawMalloc  -> asks + 24
 *     [libc malloc]          usable size; a chunk of the brk heap or a mapping of its own
 * ```
 */
import { GlibcMalloc } from "@mem/libc-malloc";
import type { DebugBlockView, PyMemDomain } from "@mem/pymem";
import type { CPythonStack } from "./stack.js";

/** The debug hooks of one domain decorated the block (see {@link DebugBlockView}). */
export interface DebugLayer {
  /** Discriminant. */
  readonly kind: "debug";
  /** What the hooks wrote, read back from memory. */
  readonly view: DebugBlockView;
}

/** pymalloc served the block: what its pool header and arena object say. */
export interface PymallocLayer {
  /** Discriminant. */
  readonly kind: "pymalloc";
  /** The pointer pymalloc returned. */
  readonly pointer: number;
  /** The bytes pymalloc was asked for. */
  readonly request: number;
  /** `szidx` from the pool header. */
  readonly sizeIndex: number;
  /** The block size of that class (`INDEX2SIZE(szidx)`). */
  readonly blockSize: number;
  /** The pool's address. */
  readonly pool: number;
  /** `ref.count` from the pool header: blocks in use in the pool. */
  readonly blocksInUse: number;
  /** `arenaindex` from the pool header. */
  readonly arenaIndex: number;
  /** The base of that arena, from its `arena_object`. */
  readonly arena: number;
  /** `POOL_SIZE` of this pymalloc. */
  readonly poolSize: number;
  /** `ARENA_SIZE` of this pymalloc. */
  readonly arenaSize: number;
}

/** pymalloc did not serve the request (too big, or 0 bytes): it went to `PyMem_RawMalloc`. */
export interface FallbackLayer {
  /** Discriminant. */
  readonly kind: "fallback";
  /** The bytes pymalloc was asked for. */
  readonly request: number;
  /** pymalloc's `SMALL_REQUEST_THRESHOLD`. */
  readonly threshold: number;
}

/** The C library served the block. */
export interface LibcLayer {
  /** Discriminant. */
  readonly kind: "libc";
  /** Which implementation (`glibc`, `tlsf`). */
  readonly implementation: string;
  /** The pointer malloc returned. */
  readonly pointer: number;
  /** The bytes malloc was asked for. */
  readonly request: number;
  /** `malloc_usable_size(pointer)`. */
  readonly usableSize: number;
  /** Where the block lies: in the brk heap, or in a mapping of its own. */
  readonly region: "heap" | "mapping";
  /** The kernel's mapping holding the block, `[start, end)`. */
  readonly mapping: { readonly start: number; readonly end: number };
  /** glibc only: the chunk holding the block, found by walking the heap (heap blocks only). */
  readonly chunk?: { readonly address: number; readonly size: number };
}

/** One layer of a {@link BlockRoute}. */
export type RouteLayer = DebugLayer | PymallocLayer | FallbackLayer | LibcLayer;

/** The road a block of `request` bytes took, from the caller's pointer down to the C library. */
export interface BlockRoute {
  /** The domain the caller used. */
  readonly domain: PyMemDomain;
  /** What the caller was given. */
  readonly pointer: number;
  /** What the caller asked for. */
  readonly request: number;
  /** The layers in order, top down. */
  readonly layers: readonly RouteLayer[];
}

/**
 * Follows the live block `pointer` (from a `domain` call of `request` bytes) down the stack,
 * reading only: PyMem's debug decoration, pymalloc's `address_in_range` and pool header, the
 * C library's usable size and heap, the kernel's mappings.
 */
export function routeOf(
  stack: CPythonStack,
  domain: PyMemDomain,
  pointer: number,
  request: number,
  mapped: readonly Mapping[] = [],
): BlockRoute {
  const layers: RouteLayer[] = [];
  let current = pointer;
  let size = request;
  let inDomain = domain;
  for (;;) {
    const view = stack.pymem.debugBlock(inDomain, current);
    if (view !== null) {
      layers.push({ kind: "debug", view });
      current = view.base;
      size = view.underlyingSize;
    }
    const pm = stack.pymalloc;
    if (inDomain === "raw" || pm === undefined) break;
    if (pm.owns(current)) {
      const header = pm.poolHeader(current);
      const arena = pm.arenaObjects().find((a) => a.index === header.arenaindex);
      layers.push({
        kind: "pymalloc",
        pointer: current,
        request: size,
        sizeIndex: header.szidx,
        blockSize: (header.szidx + 1) * pm.params.alignment,
        pool: header.address,
        blocksInUse: header.count,
        arenaIndex: header.arenaindex,
        arena: arena?.address ?? 0,
        poolSize: pm.params.poolSize,
        arenaSize: pm.params.arenaSize,
      });
      return { domain, pointer, request, layers };
    }
    layers.push({ kind: "fallback", request: size, threshold: pm.params.smallRequestThreshold });
    inDomain = "raw";
  }
  layers.push(libcLayer(stack, current, size, mapped));
  return { domain, pointer, request, layers };
}

/** A mapping the program asked the kernel for: `[start, end)`. */
export interface Mapping {
  /** First address. */
  readonly start: number;
  /** End address, exclusive. */
  readonly end: number;
}

function libcLayer(stack: CPythonStack, pointer: number, request: number, mapped: readonly Mapping[]): LibcLayer {
  const process = stack.process;
  // The kernel merges neighbouring anonymous mappings into one VMA: the mmap call that made
  // the block's mapping, when known, says where the C library's own mapping begins and ends.
  const vma = process.mm.vmas.find(pointer);
  const mapping = mapped.find((m) => m.start <= pointer && pointer < m.end) ?? { start: vma?.start ?? 0, end: vma?.end ?? 0 };
  const region = mapping.start >= process.startBrk && mapping.end <= process.programBreak ? "heap" : "mapping";
  const base = { kind: "libc", implementation: stack.options.libc, pointer, request, usableSize: stack.libc.usableSize(pointer), region, mapping } as const;
  if (!(stack.libc instanceof GlibcMalloc) || region !== "heap") return base;
  const chunk = stack.libc.walkHeap().find((c) => c.address < pointer && pointer < c.address + c.size);
  return chunk === undefined ? base : { ...base, chunk: { address: chunk.address, size: chunk.size } };
}

/** The first layer of `kind` in `route`, if any. */
export function layerOf<K extends RouteLayer["kind"]>(route: BlockRoute, kind: K): Extract<RouteLayer, { kind: K }> | undefined {
  return route.layers.find((l): l is Extract<RouteLayer, { kind: K }> => l.kind === kind);
}

/** The C library's layer of `route` (every route ends in one unless pymalloc served the block). */
export function libcOf(route: BlockRoute): LibcLayer | undefined {
  return layerOf(route, "libc");
}
