/**
 * Replays a memtrace v1 trace (DESIGN.md) through a Pymalloc: recorded pointers are
 * mapped to simulated ones, each `A` line makes the next simulated arena reproduce the
 * recorded arena's offset modulo POOL_SIZE, and every pymalloc block is checked to sit at
 * the same offset inside its arena as the recorded block did.
 */
import { expect } from "vitest";
import { PointerMap, formatEvent, parseTrace, type MemtraceEvent } from "@mem/memtrace";
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

/** Where a replay sends its calls: a Pymalloc with its raw domain and arena-allocator slot. */
export interface ReplayTarget {
  pm: Pymalloc;
  malloc(domain: string, size: number): number;
  calloc(domain: string, nelem: number, elsize: number): number;
  realloc(domain: string, ptr: number, size: number): number;
  free(domain: string, ptr: number): void;
  arenaAllocator(): PyObjectArenaAllocator;
  setArenaAllocator(a: PyObjectArenaAllocator): void;
  /**
   * `# obmalloc-state <id>` (CPython 3.12+): the mem/obj calls that follow are served by the
   * obmalloc state of interpreter `id` (0: the main one), a pymalloc of its own; returns it.
   */
  selectState?(state: number): Pymalloc;
}

/** A replay target over a test host: mem/obj go to a new Pymalloc, raw to the host's raw allocator. */
export function hostTarget(host: SmallObjectHost & { arenaSlot: PyObjectArenaAllocator }, options: PymallocOptions = {}): ReplayTarget & { dumps: () => string } {
  let dumps = "";
  const pm = new Pymalloc(host, { pythonMallocStats: (t) => (dumps += t), ...options });
  // one pymalloc per obmalloc state (3.12+: an interpreter with its own obmalloc); the main
  // interpreter's writes the PYTHONMALLOCSTATS dumps
  const states = new Map<number, Pymalloc>([[0, pm]]);
  let current = pm;
  const py = (d: string): boolean => d === "mem" || d === "obj";
  return {
    pm,
    dumps: () => dumps,
    malloc: (d, n) => (py(d) ? current.malloc(n) : host.raw.malloc(n)),
    calloc: (d, n, e) => (py(d) ? current.calloc(n, e) : host.raw.calloc(n, e)),
    realloc: (d, p, n) => (py(d) ? current.realloc(p, n) : host.raw.realloc(p, n)),
    free: (d, p) => (py(d) ? current.free(p) : host.raw.free(p)),
    arenaAllocator: () => host.arenaSlot,
    setArenaAllocator: (a) => (host.arenaSlot = a),
    selectState: (state) => {
      let next = states.get(state);
      if (next === undefined) states.set(state, (next = new Pymalloc(host, { ...options, pythonMallocStats: undefined })));
      return (current = next);
    },
  };
}

/** Replays `text` on a test host with a new Pymalloc (see {@link replayOn}). */
export function replay(text: string, host: SmallObjectHost & { arenaSlot: PyObjectArenaAllocator }, options: PymallocOptions = {}, checkEvery = 0): ReplayResult {
  const target = hostTarget(host, options);
  const result = replayOn(text, target, { checkEvery });
  return { ...result, dumps: target.dumps() };
}

/**
 * Replays `text` on `target` and returns the statistics of the run. With `trim`, each
 * placed arena is trimmed to one mapping (for an mmap-backed arena allocator).
 */
export function replayOn(text: string, target: ReplayTarget, opts: { checkEvery?: number; trim?: boolean; ignoreArenas?: boolean } = {}): ReplayResult {
  const checkEvery = opts.checkEvery ?? 0;
  const follow = opts.ignoreArenas !== true; // false: another version's geometry; A/D lines and offsets are not comparable
  const pm0 = target.pm;
  const inner = target.arenaAllocator();
  const arenaSize = pm0.params.arenaSize;
  const placed = new PlacedArenaAllocator(() => inner, { modulus: pm0.params.poolSize, trim: opts.trim ?? false });
  const simulatedArenas: number[] = [];
  target.setArenaAllocator({
    ctx: null,
    alloc: (_c, size) => {
      const p = placed.alloc(placed, size);
      if (p !== 0) simulatedArenas.push(p);
      return p;
    },
    free: (_c, p, size) => placed.free(placed, p, size),
  });
  let pm = pm0; // the pymalloc serving mem/obj now (another one after "# obmalloc-state N")
  const states = new Set([pm0]);
  const map = new PointerMap(1 << 16); // recorded pointer -> simulated pointer (a JS Map is slow here)
  const pendingRecorded: number[] = [];
  const arenas: Pair[] = []; // live recorded arena <-> simulated arena
  let events = 0;
  let arenasRecorded = 0;
  let released = 0;
  let blocksCompared = 0;

  let current: MemtraceEvent | null = null;
  // Describes the event being replayed; called only to build an error message.
  const line = (): string => `event ${events + 1} (${current === null ? "?" : formatEvent(current)})`;

  const sync = (): void => {
    if (!follow) return;
    while (simulatedArenas.length > 0) {
      const recorded = pendingRecorded.shift();
      const simulated = simulatedArenas.shift()!;
      if (recorded === undefined) throw new Error(`event ${events}: pymalloc obtained an arena the recording did not`);
      arenas.push({ recorded, simulated });
    }
  };
  const compareBlock = (recorded: number, simulated: number, line: () => string): void => {
    if (!follow || recorded === 0 || simulated === 0 || !pm.owns(simulated)) return;
    const a = arenas.find((x) => recorded - x.recorded >= 0 && recorded - x.recorded < arenaSize);
    if (a === undefined) throw new Error(`${line()}: the recorded block lies in no recorded arena`);
    if (simulated - a.simulated !== recorded - a.recorded) {
      throw new Error(`${line()}: simulated block at arena offset 0x${(simulated - a.simulated).toString(16)}, recorded 0x${(recorded - a.recorded).toString(16)}`);
    }
    blocksCompared++;
  };
  const sim = (rec: number, line: () => string): number => {
    if (rec === 0) return 0;
    const s = map.get(rec);
    if (s < 0) throw new Error(`${line()}: pointer not live in the replay`);
    return s;
  };

  const py = (domain: string): boolean => domain === "mem" || domain === "obj";
  const t = target;
  for (const e of parseTrace(text)) {
    current = e;
    switch (e.kind) {
      case "arena-alloc":
        arenasRecorded++;
        if (!follow) break;
        pendingRecorded.push(e.result);
        placed.expect(e.result);
        break;
      case "arena-free": {
        released++;
        if (!follow) break;
        const i = arenas.findIndex((x) => x.recorded === e.ptr);
        if (i < 0) throw new Error(`${line()}: released arena unknown`);
        arenas.splice(i, 1);
        break;
      }
      case "malloc": {
        const p = t.malloc(e.domain, e.size);
        sync();
        if ((p === 0) !== (e.result === 0)) throw new Error(`${line()}: simulated result 0x${p.toString(16)}`);
        if (e.result !== 0) map.set(e.result, p);
        if (py(e.domain)) compareBlock(e.result, p, line);
        break;
      }
      case "calloc": {
        const p = t.calloc(e.domain, e.nelem, e.elsize);
        sync();
        if (e.result !== 0) map.set(e.result, p);
        if (py(e.domain)) compareBlock(e.result, p, line);
        break;
      }
      case "realloc": {
        const old = sim(e.ptr, line);
        const p = t.realloc(e.domain, old, e.size);
        sync();
        if (e.result !== 0) {
          map.delete(e.ptr);
          map.set(e.result, p);
          if (py(e.domain)) compareBlock(e.result, p, line);
        }
        break;
      }
      case "free": {
        const p = sim(e.ptr, line);
        t.free(e.domain, p);
        map.delete(e.ptr);
        break;
      }
      case "comment": {
        const state = /^ obmalloc-state (\d+)$/.exec(e.text);
        if (state !== null) {
          if (t.selectState === undefined) throw new Error(`${line()}: this replay target has one obmalloc state`);
          pm = t.selectState(Number(state[1]));
          states.add(pm);
        }
        continue;
      }
      default:
        continue; // heap-start; memalign and writes do not occur in pymalloc recordings
    }
    events++;
    if (checkEvery > 0 && events % checkEvery === 0) pm.check();
  }
  if (follow) {
    expect(placed.pendingCount, "every recorded arena was obtained").toBe(0);
    const releasedSimulated = [...states].reduce((n, x) => n + x.ntimesArenaAllocated - x.narenasCurrentlyAllocated, 0);
    expect(releasedSimulated, "arenas released as recorded").toBe(released);
  }
  return { pm: pm0, events, arenasRecorded, arenasReleasedRecorded: released, blocksCompared, dumps: "" };
}
