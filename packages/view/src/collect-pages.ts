import type { AccountDetail } from "@mem/insight";
import type { Process } from "@mem/os-vm";
import type { ArenaMapData, HeapMapData, MappingRow, PageMapData } from "./api.js";

const PAGE = 4096;
/** x86-64 page-table entry bits (os-vm's page-table.ts): present, PROT_NONE, and its swap-entry mark. */
const PTE_PRESENT = 1 << 0;
const PTE_PROTNONE = 1 << 8;
const PTE_SWAP = 1 << 10;

/** A byte range and the cause that holds it, for the page map. */
interface Holder {
  readonly start: number;
  readonly end: number;
  readonly cause: string;
}

/** The page map's holder of a heap chunk state. */
function heapCause(state: string, tlsf: boolean): string {
  const lib = tlsf ? "libc" : "glibc";
  if (state === "in-use") return `${lib}.in-use`;
  if (state === "top") return "glibc.top";
  if (state === "structure" || state === "fencepost") return "glibc.structures";
  return `${lib}.free`;
}

/**
 * The page map's data: every mapping of the process, each page not resident, swapped out,
 * or resident and held by the cause with most bytes on it. The holders are coarse groups
 * of the insight layer's causes, read from the arena and heap maps: `pymalloc.used-pools`,
 * `pymalloc.empty-pools`, `pymalloc.other` (alignment loss, never-carved pools),
 * `glibc.in-use`, `glibc.free` (tcache, fastbins, bins), `glibc.top`, `glibc.mmapped`,
 * `glibc.structures` (thread heaps too: their heap_info and malloc_state are structures); a page no holder covers is `other.<mapping>` (`other.[stack]`,
 * `other.libc.so.6`, `other.anon`). Read-only: page tables are walked, nothing is faulted.
 */
export function collectPages(process: Process, detail: AccountDetail, arenas: ArenaMapData | undefined, heap: HeapMapData): PageMapData {
  const holders: Holder[] = [];
  for (const a of arenas?.arenas ?? []) {
    holders.push({ start: a.base, end: a.firstPool, cause: "pymalloc.other" });
    a.pools.forEach((p, i) => {
      const start = a.firstPool + i * arenas!.poolSize;
      holders.push({ start, end: start + arenas!.poolSize, cause: p.state === "used" ? "pymalloc.used-pools" : p.state === "empty" ? "pymalloc.empty-pools" : "pymalloc.other" });
    });
    const poolsEnd = a.firstPool + a.pools.length * arenas!.poolSize;
    holders.push({ start: poolsEnd, end: a.base + arenas!.arenaSize, cause: "pymalloc.other" });
  }
  const tlsf = heap.allocator === "tlsf";
  for (const c of heap.chunks) holders.push({ start: c.address, end: c.address + c.size, cause: heapCause(c.state, tlsf) });
  // thread heaps (glibc): heap_info and malloc_state, the threads' tcache structs, the chunks
  const tcacheStructs = new Set(detail.libc.glibc?.tcacheChunks ?? []);
  for (const [start, end] of detail.libc.threadStructures) holders.push({ start, end, cause: "glibc.structures" });
  for (const chunks of detail.libc.threadChunks) {
    for (const c of chunks) holders.push({ start: c.address, end: c.address + c.size, cause: c.state === "in-use" && tcacheStructs.has(c.address) ? "glibc.structures" : heapCause(c.state, false) });
  }
  for (const m of heap.mmapped) holders.push({ start: m.address, end: m.address + m.size, cause: tlsf ? "libc.in-use" : "glibc.mmapped" });
  holders.sort((x, y) => x.start - y.start);
  const causes: string[] = [];
  const codeOf = new Map<string, number>();
  const code = (cause: string): number => {
    let c = codeOf.get(cause);
    if (c === undefined) {
      c = 2 + causes.length;
      causes.push(cause);
      codeOf.set(cause, c);
    }
    return c;
  };
  const swapped = swappedPages(process);
  const mappings: MappingRow[] = [];
  let j = 0;
  for (const vma of detail.vmas) {
    const name = vma.name ?? "";
    const fallback = `other.${name === "" ? "anon" : (name.split("/").pop() ?? name)}`;
    const runs: number[] = [];
    const push = (c: number, n: number) => {
      if (n <= 0) return;
      if (runs.length > 0 && runs[runs.length - 2] === c) runs[runs.length - 1]! += n;
      else runs.push(c, n);
    };
    const gap = (from: number, to: number) => {
      if (swapped.size === 0) push(0, to - from);
      else for (let p = from; p < to; p++) push(swapped.has(p) ? 1 : 0, 1);
    };
    let at = vma.start / PAGE;
    for (const page of vma.pages) {
      gap(at, page);
      const lo = page * PAGE;
      const hi = lo + PAGE;
      while (j < holders.length && holders[j]!.end <= lo) j++;
      // holders are sorted and disjoint: those on this page are contiguous from j
      let best = fallback;
      let most = 0;
      const share = new Map<string, number>();
      for (let k = j; k < holders.length && holders[k]!.start < hi; k++) {
        const h = holders[k]!;
        const n = Math.min(hi, h.end) - Math.max(lo, h.start);
        if (n <= 0) continue;
        const total = (share.get(h.cause) ?? 0) + n;
        share.set(h.cause, total);
        if (total > most) [best, most] = [h.cause, total];
      }
      push(code(best), 1);
      at = page + 1;
    }
    gap(at, vma.end / PAGE);
    mappings.push({ start: vma.start, end: vma.end, name, runs });
  }
  return { pageSize: PAGE, causes, mappings };
}

/** Page numbers holding a swap entry (only walked when the process has swapped pages). */
function swappedPages(process: Process): Set<number> {
  const out = new Set<number>();
  const mm = process.mm;
  if (mm.swapEntries === 0) return out;
  const ram = mm.kernelPages.ram;
  for (const vma of mm.vmas.list) {
    mm.pageTable.forEachEntry(vma.start / PAGE, vma.end / PAGE, (slot, vpn) => {
      const low = ram.load32(slot);
      if ((low & (PTE_PRESENT | PTE_PROTNONE)) === 0 && (low & PTE_SWAP) !== 0) out.add(vpn);
    });
  }
  return out;
}
