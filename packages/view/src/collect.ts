import { accountDetail, pinsOf, type Account, type AccountDetail, type InspectedStack, type Pins } from "@mem/insight";
import { GlibcMalloc } from "@mem/libc-malloc";
import type { ArenaMapData, HeapMapData, PageMapData } from "./api.js";
import { collectArenas } from "./collect-arenas.js";
import { collectGlibcHeap, collectTlsfHeap } from "./collect-heap.js";
import { collectPages } from "./collect-pages.js";

/** The three maps' data at one moment, with the account they were read from. */
export interface MapsData {
  /** The arena map's data, when the stack has pymalloc. */
  readonly arenas: ArenaMapData | undefined;
  /** The heap map's data. */
  readonly heap: HeapMapData;
  /** The page map's data. */
  readonly pages: PageMapData;
  /** The account of resident bytes by cause (the insight layer's). */
  readonly account: Account;
  /** The pins (the insight layer's). */
  readonly pins: Pins;
}

/** Options of {@link collectMaps}. */
export interface CollectOptions {
  /** The requested bytes by live user pointer (see the insight layer's `AccountOptions`). */
  requested?: ReadonlyMap<number, number>;
  /** The sum of requested bytes of the live blocks. */
  liveRequested?: number;
}

/**
 * Reads the arena, heap and page maps of a stack at this moment (read-only: one account of the
 * insight layer, its pins, pymalloc's pool headers on resident pages, the page tables).
 */
export function collectMaps(stack: InspectedStack, options: CollectOptions = {}): MapsData {
  const detail: AccountDetail = accountDetail(stack, options);
  const py = stack.pymalloc;
  const pins = pinsOf(stack, detail, { maxArenas: py?.narenasCurrentlyAllocated ?? 0, maxBlocks: 8 });
  const arenas = py !== undefined ? collectArenas(py, detail, pins) : undefined;
  const heap = stack.libc instanceof GlibcMalloc ? collectGlibcHeap(detail, pins) : collectTlsfHeap(stack.libc, detail);
  const pages = collectPages(stack.process, detail, arenas, heap);
  return { arenas, heap, pages, account: detail.account, pins };
}
