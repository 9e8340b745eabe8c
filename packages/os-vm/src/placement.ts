import { HPAGE_PMD_SIZE, PAGE_SIZE, TASK_SIZE, TASK_UNMAPPED_BASE } from "./api.js";
import { startGap, type VmaList } from "./vma.js";

/**
 * Where a new mapping goes when the caller does not fix the address: Linux x86-64's default
 * top-down layout (`arch_get_unmapped_area_topdown` and `vm_unmapped_area`).
 *
 * ```
 *  high_limit = mmap_base ─┐
 *        [ VMA ]           │  search the gaps between VMAs from the top down; the first
 *          gap  ◄── fits? ─┤  (highest) gap that holds `length` (+ alignment padding) wins,
 *        [ VMA ]           │  and the mapping goes at its top: gap_end - length, aligned down
 *          gap             │
 *  low_limit = max(4096, mmap_min_addr)
 * ```
 * A gap's top below a grows-down (stack) VMA leaves the 1 MiB stack guard gap free. If no
 * gap fits, the search is repeated bottom-up from TASK_UNMAPPED_BASE to TASK_SIZE.
 */
export interface PlacementRequest {
  /** The page-aligned length. */
  length: number;
  /** Alignment mask (0 for page alignment, 2 MiB - 1 for THP alignment). */
  alignMask: number;
  /** `mmap_base`. */
  mmapBase: number;
  /** `vm.mmap_min_addr`. */
  mmapMinAddr: number;
}

/** Highest address in a gap below `mmapBase` that holds the request, or -1. */
export function topDown(vmas: VmaList, request: PlacementRequest): number {
  const { length, alignMask, mmapBase } = request;
  const lowLimit = Math.max(PAGE_SIZE, request.mmapMinAddr);
  const needed = length + alignMask;
  const list = vmas.list;
  // Walk the gaps from the highest one below mmapBase downwards.
  const i = vmas.indexAfter(mmapBase - 1); // first VMA ending above mmapBase - 1
  let gapEnd = Math.min(mmapBase, i < list.length ? startGap(list[i]!) : mmapBase);
  for (let j = i - 1; j >= -1; j--) {
    const gapStart = j >= 0 ? Math.max(list[j]!.end, lowLimit) : lowLimit;
    if (gapEnd - gapStart >= needed) {
      let address = gapEnd - length;
      address -= address % (alignMask + 1);
      if (address >= gapStart) return address;
    }
    if (j >= 0) gapEnd = Math.min(gapEnd, startGap(list[j]!));
    if (gapEnd <= lowLimit) break;
  }
  return -1;
}

/** Lowest address at or above TASK_UNMAPPED_BASE that holds `length`, or -1 (the fallback). */
export function bottomUp(vmas: VmaList, length: number): number {
  let gapStart = TASK_UNMAPPED_BASE;
  for (let i = vmas.indexAfter(TASK_UNMAPPED_BASE); i <= vmas.list.length; i++) {
    const next = vmas.list[i];
    const gapEnd = next === undefined ? TASK_SIZE : startGap(next);
    if (gapEnd - gapStart >= length) return gapStart;
    if (next !== undefined) gapStart = Math.max(gapStart, next.end);
  }
  return -1;
}

/**
 * The address for an anonymous mapping, as 6.18's `__get_unmapped_area` chooses it:
 * THP alignment first when asked (`thp_get_unmapped_area`: search for length + 2 MiB, then
 * take the highest 2 MiB-aligned address below the gap's top), else the plain search.
 */
export function chooseAddress(vmas: VmaList, request: Omit<PlacementRequest, "alignMask">, thpAlign: boolean): number {
  if (thpAlign) {
    const padded = request.length + HPAGE_PMD_SIZE;
    const found = topDown(vmas, { ...request, length: padded, alignMask: 0 });
    if (found >= 0) {
      // ret = gap_end - len - 2M; round up to 2 MiB; an already aligned ret moves up a whole 2 MiB.
      const offSub = (HPAGE_PMD_SIZE - (found % HPAGE_PMD_SIZE)) % HPAGE_PMD_SIZE;
      return offSub === 0 ? found + HPAGE_PMD_SIZE : found + offSub;
    }
  }
  const address = topDown(vmas, { ...request, alignMask: 0 });
  return address >= 0 ? address : bottomUp(vmas, request.length);
}
