import type { AccountDetail, Pins } from "@mem/insight";
import type { HeapChunk, TlsfMalloc } from "@mem/libc-malloc";
import type { ChunkCell, ChunkState, HeapMapData } from "./api.js";

/** The heap-map state of a glibc chunk (normal bins by number: 1 unsorted, 2–63 small, 64+ large). */
export function chunkState(c: HeapChunk): ChunkState {
  switch (c.state) {
    case "bin":
      return c.bin === 1 ? "unsorted" : (c.bin ?? 0) < 64 ? "small" : "large";
    case "in-use":
    case "tcache":
    case "fastbin":
    case "top":
    case "fencepost":
      return c.state;
  }
}

/**
 * The heap map's data from an account: glibc's chunks as its heap walk found them (the tcache
 * struct and pymalloc's own raw blocks as allocator structures), the chunks with a mapping of
 * their own, and the pin of the top.
 */
export function collectGlibcHeap(detail: AccountDetail, pins: Pins): HeapMapData {
  const g = detail.libc.glibc;
  const structures = detail.pymalloc?.structures;
  const chunks: ChunkCell[] = detail.libc.chunks.map((c) => {
    const user = c.address + 16;
    const structure = c.state === "in-use" && (c.address === g?.tcacheChunk || structures?.has(user) === true || structures?.has(user + 16) === true);
    return { address: c.address, size: c.size, state: structure ? "structure" : chunkState(c) };
  });
  const heapStart = g?.regions[0] ?? chunks[0]?.address ?? 0;
  const heapEnd = g !== undefined && g.initialised ? g.brk : heapStart;
  const top = pins.top;
  return {
    allocator: "glibc",
    heapStart,
    heapEnd: Math.max(heapStart, heapEnd),
    chunks,
    mmapped: detail.libc.mapped.map((m) => ({ address: m.address, size: m.size })),
    ...(top !== undefined ? { topPin: { chunk: top.chunk, size: top.size, state: top.state, wouldTrim: top.wouldTrim } } : {}),
  };
}

/** The heap map's data of a TLSF allocator (blocks in use or free; region sentinels as fenceposts). */
export function collectTlsfHeap(tlsf: TlsfMalloc, detail: AccountDetail): HeapMapData {
  const view = tlsf.inspect();
  const structures = detail.pymalloc?.structures;
  const chunks: ChunkCell[] = view.blocks.map((b) => ({
    address: b.address,
    size: b.size,
    state: b.state === "sentinel" ? "fencepost" : b.state === "free" ? "free" : structures?.has(b.address + 16) === true ? "structure" : "in-use",
  }));
  const first = chunks[0];
  const last = chunks[chunks.length - 1];
  return {
    allocator: "tlsf",
    heapStart: first?.address ?? 0,
    heapEnd: last !== undefined ? last.address + last.size : 0,
    chunks,
    mmapped: detail.libc.mapped.map((m) => ({ address: m.address, size: m.size })),
  };
}
