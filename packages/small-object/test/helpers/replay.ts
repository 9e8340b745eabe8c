/**
 * Replays a memtrace v1 trace (DESIGN.md) through a Pymalloc: recorded pointers are
 * mapped to simulated ones, each `A` line makes the next simulated arena reproduce the
 * recorded arena's offset modulo POOL_SIZE, and every pymalloc block is checked to sit at
 * the same offset inside its arena as the recorded block did.
 */
import { expect } from "vitest";
import type { PyObjectArenaAllocator, SmallObjectHost } from "@mem/pymem";
import { PlacedArenaAllocator, Pymalloc, type PymallocOptions } from "../../src/index.js";

export interface ReplayResult {
  pm: Pymalloc;
  events: number;
  arenasRecorded: number;
  arenasReleasedRecorded: number;
  blocksCompared: number;
  /** The PYTHONMALLOCSTATS dumps the replay produced (one per new_arena call). */
  dumps: string;
}

interface Pair {
  recorded: number;
  simulated: number;
}

const hexToNum = (s: string): number => {
  const v = Number.parseInt(s, 16);
  if (!Number.isSafeInteger(v)) throw new Error(`bad pointer ${s}`);
  return v;
};

/** Replays `text` (the trace's lines) on `host` and returns the allocator after the last event. */
export function replay(text: string, host: SmallObjectHost & { arenaSlot: PyObjectArenaAllocator }, options: PymallocOptions = {}, checkEvery = 0): ReplayResult {
  const inner = host.arenaSlot;
  let dumps = "";
  const pm0 = new Pymalloc(host, { pythonMallocStats: (t) => (dumps += t), ...options });
  const arenaSize = pm0.params.arenaSize;
  const placed = new PlacedArenaAllocator(() => inner, { modulus: pm0.params.poolSize });
  const simulatedArenas: number[] = [];
  host.arenaSlot = {
    ctx: null,
    alloc: (_c, size) => {
      const p = placed.alloc(placed, size);
      if (p !== 0) simulatedArenas.push(p);
      return p;
    },
    free: (_c, p, size) => placed.free(placed, p, size),
  };
  const pm = pm0;
  const map = new Map<number, number>();
  const pendingRecorded: number[] = [];
  const arenas: Pair[] = []; // live recorded arena <-> simulated arena
  let events = 0;
  let arenasRecorded = 0;
  let released = 0;
  let blocksCompared = 0;

  const sync = (): void => {
    while (simulatedArenas.length > 0) {
      const recorded = pendingRecorded.shift();
      const simulated = simulatedArenas.shift()!;
      if (recorded === undefined) throw new Error(`event ${events}: pymalloc obtained an arena the recording did not`);
      arenas.push({ recorded, simulated });
    }
  };
  const compareBlock = (recorded: number, simulated: number, line: string): void => {
    if (recorded === 0 || simulated === 0 || !pm.owns(simulated)) return;
    const a = arenas.find((x) => recorded - x.recorded >= 0 && recorded - x.recorded < arenaSize);
    if (a === undefined) throw new Error(`${line}: the recorded block lies in no recorded arena`);
    if (simulated - a.simulated !== recorded - a.recorded) {
      throw new Error(`${line}: simulated block at arena offset 0x${(simulated - a.simulated).toString(16)}, recorded 0x${(recorded - a.recorded).toString(16)}`);
    }
    blocksCompared++;
  };
  const sim = (rec: number, line: string): number => {
    if (rec === 0) return 0;
    const s = map.get(rec);
    if (s === undefined) throw new Error(`${line}: pointer not live in the replay`);
    return s;
  };

  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(" ");
    const op = f[0]!;
    events++;
    switch (op) {
      case "A":
        arenasRecorded++;
        pendingRecorded.push(hexToNum(f[2]!));
        placed.expect(hexToNum(f[2]!));
        break;
      case "D": {
        released++;
        const base = hexToNum(f[1]!);
        const i = arenas.findIndex((x) => x.recorded === base);
        if (i < 0) throw new Error(`${line}: released arena unknown`);
        arenas.splice(i, 1);
        break;
      }
      case "m": {
        const pyDomain = f[1] !== "raw";
        const size = Number(f[2]);
        const res = hexToNum(f[3]!);
        const p = pyDomain ? pm.malloc(size) : host.raw.malloc(size);
        sync();
        if ((p === 0) !== (res === 0)) throw new Error(`${line}: simulated result 0x${p.toString(16)}`);
        if (res !== 0) map.set(res, p);
        if (pyDomain) compareBlock(res, p, line);
        break;
      }
      case "c": {
        const pyDomain = f[1] !== "raw";
        const res = hexToNum(f[4]!);
        const p = pyDomain ? pm.calloc(Number(f[2]), Number(f[3])) : host.raw.calloc(Number(f[2]), Number(f[3]));
        sync();
        if (res !== 0) map.set(res, p);
        if (pyDomain) compareBlock(res, p, line);
        break;
      }
      case "r": {
        const pyDomain = f[1] !== "raw";
        const old = hexToNum(f[2]!);
        const res = hexToNum(f[4]!);
        const p = pyDomain ? pm.realloc(sim(old, line), Number(f[3])) : host.raw.realloc(sim(old, line), Number(f[3]));
        sync();
        if (res !== 0) {
          map.delete(old);
          map.set(res, p);
          if (pyDomain) compareBlock(res, p, line);
        }
        break;
      }
      case "f": {
        const ptr = hexToNum(f[2]!);
        const p = sim(ptr, line);
        if (f[1] === "raw") host.raw.free(p);
        else pm.free(p);
        map.delete(ptr);
        break;
      }
      default:
        break; // 'a' (memalign) and 'w' do not occur in pymalloc recordings
    }
    if (checkEvery > 0 && events % checkEvery === 0) pm.check();
  }
  expect(placed.pendingCount, "every recorded arena was obtained").toBe(0);
  expect(pm.ntimesArenaAllocated - pm.narenasCurrentlyAllocated, "arenas released as recorded").toBe(released);
  return { pm, events, arenasRecorded, arenasReleasedRecorded: released, blocksCompared, dumps };
}
