/**
 * The plain data the renderers draw: JSON-safe objects (numbers, strings, arrays), so that a
 * picture can be drawn in Node from a live stack, or in a browser from data embedded in a page.
 * The collectors (collect-*.ts) read them from a stack; the renderers never see a stack.
 */

/** A pymalloc pool as the arena map draws it. */
export interface PoolCell {
  /**
   * `used`: carved and holding blocks of one size class (it may have no live block left for a
   * moment only: pymalloc returns an emptied pool to its arena at once); `empty`: on the
   * arena's free-pool list; `uncarved`: never carved (above `pool_address`); `unknown`: its
   * header is on a page that is not resident, so it was not read.
   */
  readonly state: "used" | "empty" | "uncarved" | "unknown";
  /** The block size of its size class in bytes (0 unless `used`). */
  readonly sizeClass: number;
  /** Live blocks (`ref.count`). */
  readonly used: number;
  /** Blocks the pool holds when full (`NUMBLOCKS`). */
  readonly capacity: number;
}

/** A live block that keeps an arena mapped. */
export interface Survivor {
  /** The block's address. */
  readonly address: number;
  /** Its size class in bytes. */
  readonly size: number;
}

/** One pymalloc arena. */
export interface ArenaCell {
  /** The arena's base address (what mmap returned). */
  readonly base: number;
  /** The first pool's address: the bytes in `[base, firstPool)` are alignment loss. */
  readonly firstPool: number;
  /** Its pools, in address order (`ntotalpools` of them). */
  readonly pools: readonly PoolCell[];
  /** When the arena is kept allocated by a few live blocks (the insight layer's pins). */
  readonly pin?: {
    /** Live blocks in it. */
    readonly liveBlocks: number;
    /** Bytes of those blocks. */
    readonly liveBytes: number;
    /** Resident bytes the arena keeps. */
    readonly residentBytes: number;
    /** Some survivors, lowest address first. */
    readonly survivors: readonly Survivor[];
  };
}

/** Everything the arena map draws. */
export interface ArenaMapData {
  /** `ARENA_SIZE` in bytes. */
  readonly arenaSize: number;
  /** `POOL_SIZE` in bytes. */
  readonly poolSize: number;
  /** `SMALL_REQUEST_THRESHOLD`: the largest size class (the colour scale's top). */
  readonly maxSizeClass: number;
  /** The arenas, in address order. */
  readonly arenas: readonly ArenaCell[];
  /** Arenas of the process left out of `arenas` (a size bound of packed snapshots). */
  readonly omitted?: number;
}

/**
 * Where a heap chunk is: held by the program, cached in tcache, in a fastbin, in the
 * unsorted, a small or a large bin, the top chunk, a fencepost, the allocator's own
 * structure (tcache struct, pymalloc's arena vector), or (TLSF) on a free list.
 */
export type ChunkState = "in-use" | "tcache" | "fastbin" | "unsorted" | "small" | "large" | "top" | "fencepost" | "structure" | "free";

/** One chunk of the heap map. */
export interface ChunkCell {
  /** The chunk header's address. */
  readonly address: number;
  /** Chunk size in bytes, header included. */
  readonly size: number;
  /** Its state. */
  readonly state: ChunkState;
}

/** Everything the heap map draws. */
export interface HeapMapData {
  /** Which allocator: glibc (ptmalloc2) or TLSF. */
  readonly allocator: "glibc" | "tlsf";
  /** Start of the heap (the first chunk). */
  readonly heapStart: number;
  /** End of the heap (the program break for glibc). */
  readonly heapEnd: number;
  /** The heap's chunks in address order. */
  readonly chunks: readonly ChunkCell[];
  /** Chunks with a mapping of their own. */
  readonly mmapped: readonly { readonly address: number; readonly size: number }[];
  /** Chunks with a mapping of their own left out of `mmapped` (a size bound), and their bytes. */
  readonly omittedMmapped?: { readonly count: number; readonly bytes: number };
  /** The chunk that keeps glibc's top from being trimmed, when there is one. */
  readonly topPin?: {
    /** Its address. */
    readonly chunk: number;
    /** Its size. */
    readonly size: number;
    /** in-use, tcache, fastbin. */
    readonly state: string;
    /** What a free of it would give back with brk. */
    readonly wouldTrim: number;
  };
}

/**
 * Page states of the page map, run-length encoded: `runs` is a flat list of pairs
 * `[code, pages, code, pages, ...]` where code 0 is not resident, 1 is swapped out, and
 * `2 + i` is resident and held by `causes[i]` of {@link PageMapData}.
 */
export interface MappingRow {
  /** First address. */
  readonly start: number;
  /** End address (exclusive). */
  readonly end: number;
  /** Its name as /proc/PID/maps prints it, or "" for an anonymous mapping. */
  readonly name: string;
  /** `[code, pages, ...]`, covering the mapping exactly. */
  readonly runs: readonly number[];
}

/** Everything the page map draws. */
export interface PageMapData {
  /** Page size in bytes (4096). */
  readonly pageSize: number;
  /** The causes a resident page can be held by (code `2 + index`). */
  readonly causes: readonly string[];
  /** The mappings, in address order. */
  readonly mappings: readonly MappingRow[];
  /** Mappings left out of `mappings` (a size bound of packed snapshots), and their bytes. */
  readonly omitted?: { readonly count: number; readonly bytes: number };
}

/** One timeline sample, as the timeline picture needs it. */
export interface TimelinePoint {
  /** Call events replayed so far. */
  readonly event: number;
  /** RssAnon in bytes (the sum of `causes`). */
  readonly rssAnon: number;
  /** Bytes the program asked for in its live blocks. */
  readonly liveRequested: number;
  /** RssAnon by cause. */
  readonly causes: Readonly<Record<string, number>>;
}

/** Everything the timeline draws (the insight layer's `TimelineResult` has this shape). */
export interface TimelineData {
  /** Samples in event order. */
  readonly timeline: readonly TimelinePoint[];
  /** The sample of the highest RssAnon. */
  readonly peak: { readonly event: number; readonly rssAnon: number };
  /** Policy events (arena released, trim, mmap threshold raised ...). */
  readonly events: readonly { readonly event: number; readonly kind: string; readonly text: string }[];
}

/** One traceback's share of the sources picture (a flame graph's input). */
export interface FlamePath {
  /** Its frames, outermost call first (the reverse of tracemalloc's order). */
  readonly frames: readonly { readonly file: string; readonly line: number }[];
  /** Resident bytes attributed to it. */
  readonly resident: number;
  /** Requested bytes of its live blocks. */
  readonly requested: number;
  /** Its live blocks. */
  readonly count?: number;
}

/** A frame of the sources picture: the sums over the tracebacks through it. */
export interface FlameNode {
  /** `file:line`, or a name of its own (`all`, `<no live block>`). */
  readonly name: string;
  /** Its file (colours group frames by file), "" for the root. */
  readonly file: string;
  /** Resident bytes. */
  readonly resident: number;
  /** Live requested bytes. */
  readonly requested: number;
  /** Live blocks. */
  readonly count: number;
  /** Its callees, biggest first. */
  readonly children: readonly FlameNode[];
  /**
   * Callees left out of `children` by {@link pruneFlameTree} (each of them narrow enough to be
   * merged into "other" anyway): how many, and per metric the sums over those of them with
   * bytes in that metric. Absent when no callee was left out.
   */
  readonly rest?: FlameRest;
}

/** Sums over the callees a pruned flame node left out (see {@link FlameNode.rest}). */
export interface FlameRestSums {
  /** Left-out callees with bytes in this metric. */
  readonly frames: number;
  /** Their resident bytes. */
  readonly resident: number;
  /** Their live requested bytes. */
  readonly requested: number;
  /** Their live blocks. */
  readonly count: number;
}

/** The callees of a flame node left out by pruning: the count, and the sums per metric. */
export interface FlameRest {
  /** Callees left out. */
  readonly pruned: number;
  /** Over those with resident bytes (what the resident picture merges). */
  readonly resident: FlameRestSums;
  /** Over those with live requested bytes (what the requested picture merges). */
  readonly requested: FlameRestSums;
}

/** An extra series the timeline draws as a line (another configuration's RSS, say). */
export interface TimelineSeries {
  /** Its legend label. */
  readonly label: string;
  /** Its points, in event order. */
  readonly points: readonly { readonly event: number; readonly value: number }[];
}

/** Options every renderer takes. */
export interface RenderOptions {
  /** Width of the picture in pixels. @defaultValue 960 */
  width?: number;
  /**
   * The node budget: at most this many shapes (rect, path, line) are drawn for the data;
   * beyond it neighbours are aggregated (legend, labels and frame come on top, a few dozen).
   * @defaultValue 4000
   */
  maxNodes?: number;
  /** The picture's title (its `<title>`); each renderer has its own default. */
  title?: string;
  /** An `id` for the root `<svg>` element. */
  id?: string;
  /** Marks the timeline at this event (the report's slider). */
  cursor?: number;
  /** Timeline only: extra series drawn as lines over the areas, each with a legend entry. */
  series?: readonly TimelineSeries[];
  /** Flame graph only: what a frame's width shows. @defaultValue "resident" */
  metric?: "resident" | "requested";
  /**
   * Flame graph only: the width in pixels below which callees are merged into "other", to
   * start with (it doubles while more than `maxNodes` frames would be drawn). A pruned tree
   * draws as its whole tree did when given the width the whole tree ended with
   * ({@link PrunedFlame.minFramePx}). @defaultValue 1
   */
  minFramePx?: number;
}
