/**
 * The public shapes of `@mem/insight`: what it reads of a stack, and what it tells.
 */
import type { GlibcMalloc, TlsfMalloc } from "@mem/libc-malloc";
import type { Process } from "@mem/os-vm";
import type { Pymalloc } from "@mem/small-object";

/**
 * The tiers of a running stack, as the insight layer reads them (read-only: nothing here
 * changes a tier's state). `apps/demo`'s `CPythonStack` has this shape.
 */
export interface InspectedStack {
  /** The process (os-vm): its page tables, VMAs and counters. */
  readonly process: Process;
  /** The C library allocator. */
  readonly libc: GlibcMalloc | TlsfMalloc;
  /** pymalloc, when the preset uses it. */
  readonly pymalloc?: Pymalloc | undefined;
  /** The options the stack was built with: `pythonMalloc` tells whether the debug hooks decorate blocks. */
  readonly options?: { readonly pythonMalloc?: string };
}

/**
 * Bytes by cause, named `<tier>.<cause>`: `pymalloc.live-blocks`, `glibc.top`,
 * `debug.pad`, `kernel.page-slack`, `other.[stack]` ... (see the README for the list).
 */
export type Causes = Record<string, number>;

/** The account of a process's resident anonymous memory at one moment. */
export interface Account {
  /** RssAnon in bytes: the sum of {@link Account.causes}, exactly. */
  readonly rssAnon: number;
  /** VmRSS in bytes (RssAnon + RssShmem). */
  readonly vmRss: number;
  /** Every resident anonymous byte, by cause; the values sum to `rssAnon`. */
  readonly causes: Causes;
  /**
   * Memory the process costs that is not in RssAnon, by cause: `kernel.page-tables` (VmPTE),
   * and `shmem.pages` (RssShmem).
   */
  readonly outside: Causes;
  /** Bytes the program can use in its live blocks (usable sizes; debug decorations excluded). */
  readonly liveUsable: number;
  /** Bytes the program asked for in its live blocks, when the caller told them (else undefined). */
  readonly liveRequested: number | undefined;
  /** Live blocks counted in `liveUsable`. */
  readonly liveBlocks: number;
}

/** One live block that keeps a pymalloc arena allocated. */
export interface PinningBlock {
  /** The block's address. */
  readonly address: number;
  /** Its size class in bytes. */
  readonly size: number;
}

/** A pymalloc arena kept allocated by its live blocks. */
export interface ArenaPin {
  /** The arena's base address. */
  readonly arena: number;
  /** Live blocks in it. */
  readonly liveBlocks: number;
  /** Bytes of those blocks (size classes). */
  readonly liveBytes: number;
  /** Resident bytes of the arena: what freeing every live block would return to the kernel (munmap), unless it is the arena pymalloc keeps. */
  readonly residentBytes: number;
  /** Some of the live blocks (up to 8), lowest address first. */
  readonly blocks: readonly PinningBlock[];
}

/** The chunk that keeps glibc's heap top from being trimmed. */
export interface TopPin {
  /** The chunk's address (the user pointer is 16 bytes later). */
  readonly chunk: number;
  /** Its size. */
  readonly size: number;
  /** Whether the program holds it (`in-use`), or glibc caches it (`tcache`, `fastbin`). */
  readonly state: string;
  /** Free bytes above it: free chunks that would merge, and the top chunk. */
  readonly freeAbove: number;
  /** `mp_.trim_threshold`. */
  readonly trimThreshold: number;
  /** Bytes a free of this chunk would give back with brk (0 when the merged top stays below the threshold). */
  readonly wouldTrim: number;
}

/** A dry run of `malloc_trim(0)`: what glibc's `mtrim` would give back, page by page. */
export interface TrimDryRun {
  /** Resident bytes in free chunks that `madvise(MADV_DONTNEED)` would drop. */
  readonly madviseBytes: number;
  /** Ranges madvise would be called on. */
  readonly ranges: readonly { readonly start: number; readonly length: number; readonly resident: number }[];
  /** Bytes the break would move down (the top chunk's trim). */
  readonly topTrimBytes: number;
  /** Resident bytes among those. */
  readonly topTrimResident: number;
  /** The drop of RssAnon malloc_trim(0) would cause. */
  readonly rssDrop: number;
  /** Resident bytes free inside pymalloc's arenas (free blocks, empty pools): malloc_trim cannot reach them. */
  readonly unreachablePymalloc: number;
}

/** What keeps memory from going back to the kernel. */
export interface Pins {
  /** pymalloc arenas with live blocks, the most wasteful first (resident bytes per live byte). */
  readonly arenas: readonly ArenaPin[];
  /** Arenas wholly free but kept (pymalloc keeps the last one of `usable_arenas`). */
  readonly keptEmptyArenas: number;
  /**
   * All the arenas kept by few survivors (live bytes at most a tenth of the arena's resident
   * bytes), counted over every arena, not only the listed ones.
   */
  readonly sparseArenas: {
    /** How many. */
    readonly count: number;
    /** Their resident bytes. */
    readonly residentBytes: number;
    /** Their live bytes. */
    readonly liveBytes: number;
    /** The fewest live blocks in one of them. */
    readonly minLiveBlocks: number;
    /** The most. */
    readonly maxLiveBlocks: number;
  };
  /** The chunk keeping glibc's top from being trimmed, when there is one. */
  readonly top: TopPin | undefined;
  /** The malloc_trim(0) dry run (glibc only). */
  readonly trim: TrimDryRun | undefined;
}
