import type { AccountDetail, Pins } from "@mem/insight";
import type { Pymalloc } from "@mem/small-object";
import type { ArenaCell, ArenaMapData, PoolCell } from "./api.js";

/** pool_header fields read (see small-object's layout.ts). */
const COUNT = 0;
const SZIDX = 36;

/** An arena is flagged pinned when its resident bytes are at least this many times its live bytes. */
export const PIN_WASTE_RATIO = 4;

/**
 * The arena map's data, read from pymalloc's `arenas` vector and pool headers in simulated
 * memory (read-only: only headers on resident pages are read, so nothing is faulted in).
 * An arena is pinned when the insight layer's pins list it and it keeps at least
 * {@link PIN_WASTE_RATIO} times as many resident bytes as its live blocks use.
 */
export function collectArenas(pymalloc: Pymalloc, detail: AccountDetail, pins: Pins): ArenaMapData {
  const s = pymalloc.state();
  const mem = s.memory;
  const { poolSize, arenaSize, alignment, smallRequestThreshold } = pymalloc.params;
  const overhead = pymalloc.geometry.poolOverhead;
  const pinOf = new Map(pins.arenas.map((p) => [p.arena, p]));
  const arenas: ArenaCell[] = [];
  for (const ao of pymalloc.arenaObjects()) {
    const base = ao.address;
    const first = base % poolSize === 0 ? base : base + poolSize - (base % poolSize);
    const pools: PoolCell[] = [];
    for (let i = 0; i < ao.ntotalpools; i++) {
      const pool = first + i * poolSize;
      if (pool >= ao.poolAddress) pools.push({ state: "uncarved", sizeClass: 0, used: 0, capacity: 0 });
      else if (!detail.ledger.isResident(pool)) pools.push({ state: "unknown", sizeClass: 0, used: 0, capacity: 0 });
      else {
        const count = mem.load32(pool + COUNT);
        if (count === 0) pools.push({ state: "empty", sizeClass: 0, used: 0, capacity: 0 });
        else {
          const size = (mem.load32(pool + SZIDX) + 1) * alignment;
          pools.push({ state: "used", sizeClass: size, used: count, capacity: Math.floor((poolSize - overhead) / size) });
        }
      }
    }
    const pin = pinOf.get(base);
    const cell: ArenaCell =
      pin !== undefined && pin.residentBytes >= PIN_WASTE_RATIO * pin.liveBytes
        ? { base, firstPool: first, pools, pin: { liveBlocks: pin.liveBlocks, liveBytes: pin.liveBytes, residentBytes: pin.residentBytes, survivors: pin.blocks.map((b) => ({ address: b.address, size: b.size })) } }
        : { base, firstPool: first, pools };
    arenas.push(cell);
  }
  arenas.sort((a, b) => a.base - b.base);
  return { arenaSize, poolSize, maxSizeClass: smallRequestThreshold, arenas };
}
