import type { Memory } from "@mem/hardware";
import type { SmallObjectHost } from "@mem/pymem";
import type { RadixGeometry } from "./geometry.js";

/**
 * The arena map (3.10+): a radix tree that answers "does pymalloc own this address?"
 * without touching the memory at the address.
 *
 * ```
 *   root (static, here a JS array)      mid node (PyMem_RawCalloc)     bottom node (PyMem_RawCalloc)
 *   +--------------------+              +--------------------+          +---------------------------+
 *   | ptrs[top index] ---+------------> | ptrs[mid index] ---+-------> | [bot index] tail_hi int32 |
 *   +--------------------+              +--------------------+          |             tail_lo int32 |
 *                                                                        +---------------------------+
 * ```
 * One bottom entry covers one arena-sized, arena-aligned slot of address space. An arena
 * at base B with `tail = B mod ARENA_SIZE` sets `tail_hi` of B's slot (to -1 when
 * tail is 0) and, when tail is not 0, `tail_lo` of the next slot. An address p with
 * `t = p mod ARENA_SIZE` is owned when `t < tail_lo` or (`tail_hi != 0` and `t >= tail_hi`).
 * Nodes are never freed and the node counters never decrease, as in CPython.
 */
export class ArenaMap {
  /** `arena_map_mid_count`: mid nodes allocated so far. */
  midCount = 0;
  /** `arena_map_bot_count`: bottom nodes allocated so far. */
  botCount = 0;
  /** The shape of the tree. */
  readonly radix: RadixGeometry;

  private readonly memory: Memory;
  private readonly host: SmallObjectHost;
  private readonly arenaSize: number;
  /** `arena_map_root`: mid-node addresses (CPython keeps the root in .bss, outside simulated memory). */
  private readonly root: Float64Array;
  private readonly addressSpan: number;
  private readonly botSpan: number;
  private readonly midSpan: number;
  /** `arenaSize - 1`, `1 / arenaSize` and `1 / botSpan` (powers of two: the products are exact). */
  private readonly arenaMask: number;
  private readonly inverseArenaSize: number;
  private readonly inverseBotSpan: number;
  /** A cache of what memory holds: the last bottom node looked up and its key. */
  private lastKey = -1;
  private lastBot = 0;

  /** Creates an empty map; nodes are allocated through `host.raw` as arenas are marked. */
  constructor(host: SmallObjectHost, radix: RadixGeometry, arenaSize: number) {
    this.host = host;
    this.memory = host.memory;
    this.radix = radix;
    this.arenaSize = arenaSize;
    this.root = new Float64Array(radix.topEntries);
    this.addressSpan = 2 ** radix.addressBits;
    this.botSpan = radix.botEntries; // arena slots per bottom node
    this.midSpan = radix.midEntries;
    this.arenaMask = arenaSize - 1;
    this.inverseArenaSize = 1 / arenaSize;
    this.inverseBotSpan = 1 / this.botSpan;
  }

  /**
   * `arena_map_get(p, create)`: the bottom node covering `p`, or 0. With `create`, missing
   * nodes are allocated with `PyMem_RawCalloc(1, size)` (mid first, then bottom); 0 when that fails.
   */
  private bottomNode(p: number, create: boolean): number {
    const slot = Math.floor((p < this.addressSpan ? p : p % this.addressSpan) / this.arenaSize);
    const key = Math.floor(slot / this.botSpan);
    if (key === this.lastKey) return this.lastBot;
    const i1 = Math.floor(key / this.midSpan);
    const i2 = key - i1 * this.midSpan;
    let mid = this.root[i1]!;
    if (mid === 0) {
      if (!create) return 0;
      mid = this.host.raw.calloc(1, this.radix.midBytes);
      if (mid === 0) return 0;
      this.root[i1] = mid;
      this.midCount++;
    }
    let bot = this.memory.load64(mid + i2 * 8);
    if (bot === 0) {
      if (!create) return 0;
      bot = this.host.raw.calloc(1, this.radix.botBytes);
      if (bot === 0) return 0;
      this.memory.store64(mid + i2 * 8, bot);
      this.botCount++;
    }
    this.lastKey = key;
    this.lastBot = bot;
    return bot;
  }

  /** Address of the bottom entry (`tail_hi`; `tail_lo` follows at +4) for `p`'s slot in node `bot`. */
  private entry(bot: number, p: number): number {
    const slot = Math.floor((p < this.addressSpan ? p : p % this.addressSpan) / this.arenaSize);
    return bot + (slot % this.botSpan) * 8;
  }

  /**
   * `arena_map_mark_used(base, is_used)`: records (or erases) the arena at `base`.
   * Returns false when a node could not be allocated; the map is then as before.
   */
  markUsed(base: number, used: boolean): boolean {
    const hi = this.bottomNode(base, used);
    if (hi === 0) return false;
    const tail = base % this.arenaSize;
    const hiEntry = this.entry(hi, base);
    if (tail === 0) {
      this.memory.store32(hiEntry, used ? 0xffffffff : 0);
      return true;
    }
    this.memory.store32(hiEntry, used ? tail : 0);
    const next = base + this.arenaSize;
    const lo = this.bottomNode(next, used);
    if (lo === 0) {
      this.memory.store32(hiEntry, 0);
      return false;
    }
    this.memory.store32(this.entry(lo, next) + 4, used ? tail : 0);
    return true;
  }

  /** `arena_map_is_used(p)`: whether `p` lies inside an arena recorded in the map. */
  isUsed(p: number): boolean {
    const bot = this.bottomNode(p, false);
    if (bot === 0) return false;
    const e = this.entry(bot, p);
    const hi = this.memory.load32(e) | 0;
    const lo = this.memory.load32(e + 4) | 0;
    const t = p % this.arenaSize;
    return t < lo || (hi !== 0 && t >= hi);
  }

  /**
   * The base of the arena that owns `p` according to the map, or -1 when none does
   * (used to validate frees before touching the pool header).
   */
  arenaBase(p: number): number {
    // p is an integer below 2^53 (the caller checked), so the mask and the products are exact.
    const t = p & this.arenaMask;
    const slotBase = p - t;
    const slot = (slotBase < this.addressSpan ? slotBase : slotBase % this.addressSpan) * this.inverseArenaSize;
    const key = Math.floor(slot * this.inverseBotSpan);
    const bot = key === this.lastKey ? this.lastBot : this.bottomNode(p, false);
    if (bot === 0) return -1;
    // one 8-byte load: tail_hi in the low half, tail_lo (0 .. ARENA_SIZE - 1) in the high half
    const both = this.memory.load64(bot + (slot - key * this.botSpan) * 8);
    const lo = Math.floor(both * 2 ** -32);
    const hi = (both - lo * 4294967296) | 0;
    if (hi !== 0 && t >= hi) return hi === -1 ? slotBase : slotBase + hi;
    if (t < lo) return slotBase - this.arenaSize + lo;
    return -1;
  }

  /** The mid-node addresses held by the root, for the checker and for inspection. */
  midNodes(): number[] {
    const out: number[] = [];
    for (const m of this.root) if (m !== 0) out.push(m);
    return out;
  }

  /**
   * Every non-zero bottom entry of the tree, read from memory node by node: the base
   * address of the arena-sized slot it covers and its `tail_hi` / `tail_lo`.
   */
  entries(): { slot: number; tailHi: number; tailLo: number }[] {
    const out: { slot: number; tailHi: number; tailLo: number }[] = [];
    const slotsPerMid = this.midSpan * this.botSpan;
    for (let i1 = 0; i1 < this.root.length; i1++) {
      const mid = this.root[i1]!;
      if (mid === 0) continue;
      const midBytes = this.memory.read(mid, this.radix.midBytes);
      const midView = new DataView(midBytes.buffer, midBytes.byteOffset, midBytes.byteLength);
      for (let i2 = 0; i2 < this.midSpan; i2++) {
        const bot = midView.getUint32(i2 * 8, true) + midView.getUint32(i2 * 8 + 4, true) * 4294967296;
        if (bot === 0) continue;
        const botBytes = this.memory.read(bot, this.radix.botBytes);
        const botView = new DataView(botBytes.buffer, botBytes.byteOffset, botBytes.byteLength);
        for (let i3 = 0; i3 < this.botSpan; i3++) {
          const tailHi = botView.getInt32(i3 * 8, true);
          const tailLo = botView.getInt32(i3 * 8 + 4, true);
          if (tailHi === 0 && tailLo === 0) continue;
          out.push({ slot: (i1 * slotsPerMid + i2 * this.botSpan + i3) * this.arenaSize, tailHi, tailLo });
        }
      }
    }
    return out;
  }
}
