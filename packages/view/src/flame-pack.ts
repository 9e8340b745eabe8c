/**
 * Flame graphs at many moments, small enough to embed: every tree pruned to what its two
 * pictures (resident and requested bytes) draw, then interned against one table of files,
 * frames and nodes shared by all moments. A page unpacks one moment at a time and draws it
 * with {@link renderFlameGraph}, which gives the same picture as the whole tree.
 *
 * ```
 *   files      ["/app/main.py", "<no live block>", …]      each file name once
 *   frames     [file, line, file, line, …]                 each (file, line) once
 *   nodes      [parent, frame, parent, frame, …]           each call path once; node 0 is the root
 *   snapshots  { event, minFramePx: [resident, requested],
 *                values: [node, resident, requested, count, …]   the nodes drawn (either metric);
 *                        -1 - node alone: the same numbers as at the moment before
 *                rest:   [node, pruned, f, r, q, c, …] }                       what was left out:
 *                        the same sums for both metrics (the usual case); when they differ,
 *                        [node, -1 - pruned, rf, rr, rq, rc, qf, qr, qq, qc]
 * ```
 */
import type { FlameNode, FlameRest, FlameRestSums } from "./api.js";
import { flameMaxNodes, flamePlotWidth, placeFlameFrames } from "./flame-graph.js";
import { flameOrder } from "./flame-tree.js";

/** What {@link pruneFlameTree} gives: the tree cut to what is drawn, and how to draw it. */
export interface PrunedFlame {
  /** The nodes either picture draws on its own; the rest summed in each node's `rest`. */
  readonly tree: FlameNode;
  /** Per metric, the merge width the whole tree's picture settled on (pass it as `minFramePx`). */
  readonly minFramePx: { readonly resident: number; readonly requested: number };
}

/** The size of the pictures a tree is pruned for. */
export interface FlamePruneOptions {
  /** The pictures' width in pixels. @defaultValue 960 */
  readonly width?: number;
  /** Their node budget. @defaultValue 4000 */
  readonly maxNodes?: number;
}

const METRICS = ["resident", "requested"] as const;

function restOf(left: readonly FlameNode[]): FlameRest {
  const sums = (metric: "resident" | "requested"): FlameRestSums => {
    const s = { frames: 0, resident: 0, requested: 0, count: 0 };
    for (const c of left) {
      if (c[metric] <= 0) continue;
      s.frames++;
      s.resident += c.resident;
      s.requested += c.requested;
      s.count += c.count;
    }
    return s;
  };
  return { pruned: left.length, resident: sums("resident"), requested: sums("requested") };
}

/**
 * Cuts `root` down to the frames its resident and requested pictures draw on their own
 * (at `width` and `maxNodes`); the callees cut from a node are summed in its `rest`, so that
 * `renderFlameGraph(tree, { metric, minFramePx: minFramePx[metric] })` draws exactly what
 * `renderFlameGraph(root, { metric })` draws, with at most about twice `maxNodes` nodes kept.
 */
export function pruneFlameTree(root: FlameNode, options: FlamePruneOptions = {}): PrunedFlame {
  const plotW = flamePlotWidth(options.width ?? 960);
  const maxNodes = flameMaxNodes(options.maxNodes);
  const keep = new Set<FlameNode>([root]);
  const minFramePx = { resident: 1, requested: 1 };
  for (const metric of METRICS) {
    const { placed, minPx } = placeFlameFrames(root, metric, plotW, maxNodes);
    minFramePx[metric] = minPx;
    for (const p of placed) if (p.merged === 0) keep.add(p.node);
  }
  const cut = (n: FlameNode): FlameNode => {
    const kept = n.children.filter((c) => keep.has(c));
    const left = n.children.filter((c) => !keep.has(c));
    return { name: n.name, file: n.file, resident: n.resident, requested: n.requested, count: n.count, children: kept.map(cut), ...(left.length > 0 ? { rest: restOf(left) } : {}) };
  };
  return { tree: cut(root), minFramePx };
}

/** One moment of {@link PackedFlames}. */
export interface PackedFlame {
  /** The call event it was taken at. */
  readonly event: number;
  /** `minFramePx` for the resident and the requested picture. */
  readonly minFramePx: readonly [number, number];
  /**
   * Per node kept: its id, resident bytes, requested bytes, live blocks; or -1 minus its id
   * alone when they are those of the moment before (flat).
   */
  readonly values: readonly number[];
  /**
   * Per node with callees left out: its id, how many, then frames, resident, requested, count
   * of those left out (the same for both metrics); or, when the metrics' sums differ, its id,
   * -1 minus how many, then resident's and requested's four sums (flat).
   */
  readonly rest: readonly number[];
}

/** Flame trees at several moments, sharing one table of files, frames and nodes. */
export interface PackedFlames {
  /** The root's name. */
  readonly root: string;
  /** File names. */
  readonly files: readonly string[];
  /** Per frame: its file's index and its line (0: a name of its own, such as `<no live block>`), flat. */
  readonly frames: readonly number[];
  /** Per node: its parent's id and its frame's index, flat; node 0 is the root (-1, -1). */
  readonly nodes: readonly number[];
  /** The moments, in the order added. */
  readonly snapshots: readonly PackedFlame[];
}


/**
 * Builds {@link PackedFlames} one moment at a time: each tree is pruned
 * ({@link pruneFlameTree}) and only the numbers of its kept nodes are stored; a file, a frame
 * or a call path seen at an earlier moment is not stored again.
 */
export class FlamePacker {
  private readonly fileIds = new Map<string, number>();
  private readonly files: string[] = [];
  private readonly frameIds = new Map<string, number>();
  private readonly frames: number[] = [];
  private readonly nodeIds = new Map<string, number>();
  private readonly nodes: number[] = [-1, -1];
  private readonly snapshots: PackedFlame[] = [];
  /** The numbers of the nodes kept at the last moment added, by node id. */
  private previous = new Map<number, readonly [number, number, number]>();

  /** @param root - the root's name (`flameTree`'s `root`) */
  constructor(
    private readonly root = "all",
    private readonly options: FlamePruneOptions = {},
  ) {}

  private fileId(file: string): number {
    let id = this.fileIds.get(file);
    if (id === undefined) {
      this.fileIds.set(file, (id = this.files.length));
      this.files.push(file);
    }
    return id;
  }

  private frameId(node: FlameNode): number {
    const line = node.name === node.file ? 0 : Number(node.name.slice(node.file.length + 1));
    const key = `${line}:${node.file}`;
    let id = this.frameIds.get(key);
    if (id === undefined) {
      this.frameIds.set(key, (id = this.frames.length / 2));
      this.frames.push(this.fileId(node.file), line);
    }
    return id;
  }

  private nodeId(parent: number, node: FlameNode): number {
    const frame = this.frameId(node);
    const key = `${parent},${frame}`;
    let id = this.nodeIds.get(key);
    if (id === undefined) {
      this.nodeIds.set(key, (id = this.nodes.length / 2));
      this.nodes.push(parent, frame);
    }
    return id;
  }

  /** Adds the tree at `event` (a tree of `flameTree`: frames named `file:line` or by their file alone). */
  add(event: number, tree: FlameNode): void {
    const pruned = pruneFlameTree(tree, this.options);
    const values: number[] = [];
    const rest: number[] = [];
    const now = new Map<number, readonly [number, number, number]>();
    const walk = (n: FlameNode, id: number) => {
      const before = this.previous.get(id);
      if (before !== undefined && before[0] === n.resident && before[1] === n.requested && before[2] === n.count) values.push(-1 - id);
      else values.push(id, n.resident, n.requested, n.count);
      now.set(id, [n.resident, n.requested, n.count]);
      const r = n.rest;
      if (r !== undefined) {
        const sums = (m: FlameRestSums) => [m.frames, m.resident, m.requested, m.count];
        const [a, b] = [sums(r.resident), sums(r.requested)];
        if (a.every((x, k) => x === b[k])) rest.push(id, r.pruned, ...a);
        else rest.push(id, -1 - r.pruned, ...a, ...b);
      }
      for (const c of n.children) walk(c, this.nodeId(id, c));
    };
    walk(pruned.tree, 0);
    this.previous = now;
    this.snapshots.push({ event, minFramePx: [pruned.minFramePx.resident, pruned.minFramePx.requested], values, rest });
  }

  /** The moments added so far, with their shared tables. */
  packed(): PackedFlames {
    return { root: this.root, files: [...this.files], frames: [...this.frames], nodes: [...this.nodes], snapshots: [...this.snapshots] };
  }
}

/** One moment unpacked: the tree to draw and the options that draw it as the whole tree was. */
export interface UnpackedFlame {
  /** The call event. */
  readonly event: number;
  /** The pruned tree. */
  readonly tree: FlameNode;
  /** `minFramePx` per metric. */
  readonly minFramePx: { readonly resident: number; readonly requested: number };
}

interface Building {
  name: string;
  file: string;
  resident: number;
  requested: number;
  count: number;
  children: Building[];
  rest?: FlameRest;
}

/**
 * The tree of moment `index` of `packed` (what {@link FlamePacker.add} was given, pruned).
 * @throws RangeError for an index with no moment, or a node whose parent was not kept
 */
export function unpackFlame(packed: PackedFlames, index: number): UnpackedFlame {
  const s = packed.snapshots[index];
  if (s === undefined) throw new RangeError(`view: flame snapshot ${index} does not exist (${packed.snapshots.length} snapshots)`);
  // the numbers of every node at each moment up to this one (a node may say "as before")
  let previous = new Map<number, readonly [number, number, number]>();
  let numbers = previous;
  for (let k = 0; k <= index; k++) {
    const v = packed.snapshots[k]!.values;
    numbers = new Map();
    for (let i = 0; i < v.length; ) {
      if (v[i]! < 0) {
        const id = -1 - v[i]!;
        const before = previous.get(id);
        if (before === undefined) throw new RangeError(`view: flame snapshot ${k}: node ${id} is "as before", but was not in snapshot ${k - 1}`);
        numbers.set(id, before);
        i += 1;
      } else {
        numbers.set(v[i]!, [v[i + 1]!, v[i + 2]!, v[i + 3]!]);
        i += 4;
      }
    }
    previous = numbers;
  }
  const byId = new Map<number, Building>();
  for (const [id, [resident, requested, count]] of numbers) {
    let name = packed.root;
    let file = "";
    if (id !== 0) {
      const frame = packed.nodes[2 * id + 1]!;
      file = packed.files[packed.frames[2 * frame]!]!;
      const line = packed.frames[2 * frame + 1]!;
      name = line > 0 ? `${file}:${line}` : file;
    }
    byId.set(id, { name, file, resident, requested, count, children: [] });
  }
  for (const [id, b] of byId) {
    if (id === 0) continue;
    const parent = byId.get(packed.nodes[2 * id]!);
    if (parent === undefined) throw new RangeError(`view: flame snapshot ${index}: node ${id}'s parent ${packed.nodes[2 * id]} is not in it`);
    parent.children.push(b);
  }
  for (let i = 0; i < s.rest.length; ) {
    const b = byId.get(s.rest[i]!);
    if (b === undefined) throw new RangeError(`view: flame snapshot ${index}: rest of node ${s.rest[i]}, which is not in it`);
    const sums = (at: number): FlameRestSums => ({ frames: s.rest[at]!, resident: s.rest[at + 1]!, requested: s.rest[at + 2]!, count: s.rest[at + 3]! });
    const pruned = s.rest[i + 1]!;
    if (pruned >= 0) {
      const both = sums(i + 2);
      b.rest = { pruned, resident: both, requested: both };
      i += 6;
    } else {
      b.rest = { pruned: -1 - pruned, resident: sums(i + 2), requested: sums(i + 6) };
      i += 10;
    }
  }
  for (const b of byId.values()) b.children.sort(flameOrder);
  const root = byId.get(0);
  if (root === undefined) throw new RangeError(`view: flame snapshot ${index} has no root`);
  return { event: s.event, tree: root, minFramePx: { resident: s.minFramePx[0], requested: s.minFramePx[1] } };
}

/**
 * The moment a slider at `event` shows: the last snapshot taken at or before it (snapshots in
 * event order), or -1 when all are later.
 */
export function flameIndexAt(packed: PackedFlames, event: number): number {
  let at = -1;
  packed.snapshots.forEach((s, i) => {
    if (s.event <= event) at = i;
  });
  return at;
}
