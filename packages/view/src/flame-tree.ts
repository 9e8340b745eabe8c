/**
 * The data of the sources picture: resident (and live requested) bytes by traceback, folded
 * into a tree of frames, outermost call at the root, as a flame graph draws it.
 *
 * ```
 *   paths (outermost first)            tree
 *   main → load → json.loads  3 MiB     all 4 MiB
 *   main → load → read        1 MiB      └ main 4 MiB
 *                                           └ load 4 MiB
 *                                              ├ json.loads 3 MiB
 *                                              └ read 1 MiB
 * ```
 */
import type { FlameNode, FlamePath } from "./api.js";

interface Building {
  name: string;
  file: string;
  resident: number;
  requested: number;
  count: number;
  children: Map<string, Building>;
}

function node(name: string, file: string): Building {
  return { name, file, resident: 0, requested: 0, count: 0, children: new Map() };
}

/** The order of a node's callees: by resident bytes, then requested bytes, biggest first; then by name. */
export function flameOrder(x: FlameNode, y: FlameNode): number {
  return y.resident - x.resident || y.requested - x.requested || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
}

function freeze(b: Building): FlameNode {
  const children = [...b.children.values()].map(freeze).sort(flameOrder);
  return { name: b.name, file: b.file, resident: b.resident, requested: b.requested, count: b.count, children };
}

/**
 * Folds `paths` into one tree under a root named `root`. A frame is `file:line`; paths that
 * share their first frames share those nodes; a node's figures are the sums over the paths
 * through it (so a parent is never smaller than the sum of its children).
 */
export function flameTree(paths: readonly FlamePath[], root = "all"): FlameNode {
  const top = node(root, "");
  for (const p of paths) {
    let at = top;
    const add = (b: Building) => {
      b.resident += p.resident;
      b.requested += p.requested;
      b.count += p.count ?? 0;
    };
    add(at);
    for (const f of p.frames) {
      const key = `${f.file}:${f.line}`;
      let next = at.children.get(key);
      if (next === undefined) at.children.set(key, (next = node(f.line > 0 ? key : f.file, f.file)));
      add(next);
      at = next;
    }
  }
  return freeze(top);
}
