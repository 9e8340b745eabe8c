/**
 * Read-only snapshots of a C allocator's layout and policy, for inspection tools (the insight
 * layer's account of resident bytes, pins and trim dry runs). Taking one changes nothing:
 * no memory is touched that the allocator has not touched, no state moves.
 */

import type { HeapChunk } from "./api.js";

/**
 * Where glibc's state and heap are, its policy parameters and counters.
 *
 * ```
 *   libc .data: main_arena [arena, arena + mainArenaSize)
 *   heap:  heapStart ─► [tcache struct][chunk]...[chunk][top ......... brk)
 *   elsewhere: mmapped chunks (one mapping each; glibc keeps no list of them, only counters)
 * ```
 */
export interface GlibcInspection {
  /** Whether `ptmalloc_init` ran (before that, the fields below that live in memory read 0). */
  readonly initialised: boolean;
  /** Address of `main_arena`. */
  readonly arena: number;
  /** `sizeof(struct malloc_state)`: 0x898 (2.43: 0x840). */
  readonly mainArenaSize: number;
  /** Start of every heap region (the first is the heap start; more only after brk failed). */
  readonly regions: readonly number[];
  /** `av->top` (0 before initialisation). */
  readonly top: number;
  /** The top chunk's size (0 before initialisation). */
  readonly topSize: number;
  /** The current program break. */
  readonly brk: number;
  /** The current thread's tcache struct's chunk address (its user pointer less 16), 0 when there is none. */
  readonly tcacheChunk: number;
  /** Every live thread's tcache struct (chunk addresses, in any heap). */
  readonly tcacheChunks: readonly number[];
  /** `av->system_mem`. */
  readonly systemMem: number;
  /** `mp_.mmap_threshold`. */
  readonly mmapThreshold: number;
  /** `mp_.trim_threshold`. */
  readonly trimThreshold: number;
  /** `mp_.top_pad`. */
  readonly topPad: number;
  /** Whether the mmap threshold still moves (`!mp_.no_dyn_threshold`). */
  readonly dynamicThreshold: boolean;
  /** `mp_.n_mmaps`: mmapped chunks live. */
  readonly nMmaps: number;
  /** `mp_.mmapped_mem`: bytes in mmapped chunks. */
  readonly mmappedMem: number;
}

/** One block of a TLSF heap, as {@link TlsfInspection.blocks} lists it. */
export interface TlsfBlock {
  /** Address of the block header (the user pointer is 16 bytes later). */
  readonly address: number;
  /** Block size, header included (16 for a region's sentinel). */
  readonly size: number;
  /** In use by the program, free (on a list), or a region's end sentinel. */
  readonly state: "in-use" | "free" | "sentinel";
}

/** Where a TLSF allocator's control block and heap regions are. */
export interface TlsfInspection {
  /** Address of the control block (bitmaps and list heads, its own mapping). */
  readonly control: number;
  /** Bytes of the control block. */
  readonly controlSize: number;
  /** Every block of every heap region, in address order, sentinels included. */
  readonly blocks: readonly TlsfBlock[];
  /** Blocks with a mapping of their own (MAPPED flag, 4 in the size field) live now. */
  readonly mapped: number;
  /** Bytes in those mappings. */
  readonly mappedBytes: number;
}

/**
 * One thread arena as {@link GlibcMalloc.walkThreadHeaps} sees it: its heaps (64 MiB-aligned
 * reservations, each starting with its `heap_info`; the first also holds the arena's
 * `malloc_state`) and their chunks in address order.
 *
 * ```
 *   first heap:  [heap_info 0x30][malloc_state 0x898][pad][chunk]...[top ....)[---p reserved rest]
 *   later heaps: [heap_info 0x30][chunk]...[fenceposts]  or ...[top ....)
 * ```
 */
export interface ThreadHeapWalk {
  /** Address of the arena's `malloc_state` (just after the first heap's `heap_info`). */
  readonly arena: number;
  /** `sizeof(struct malloc_state)`: 0x898 (2.43: 0x840). */
  readonly arenaSize: number;
  /** The heaps, oldest first: where each starts and its accessible size (`heap_info.size`). */
  readonly heaps: readonly { readonly start: number; readonly size: number }[];
  /** `sizeof(heap_info)`: 0x30. */
  readonly heapInfoSize: number;
  /** The chunks of every heap, oldest heap first, in address order (the top chunk last). */
  readonly chunks: readonly HeapChunk[];
  /** Chunk addresses of the threads' tcache structs that lie in these heaps. */
  readonly tcacheStructs: readonly number[];
}
