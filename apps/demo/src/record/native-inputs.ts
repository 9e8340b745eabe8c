/**
 * What a native helper is built from: its source and every header of the native directory it
 * includes, directly or through another header. All of them are part of the cache key, so a
 * changed header (exit_paths.h, shared by both recorders) builds the helpers afresh instead of
 * reusing a stale binary; a list kept by hand would miss a header added later.
 *
 *   memtrace_libc.c --#include "x.h"--> x.h --#include "y.h"--> y.h ...   (system headers: <...> or
 *                                                                          not in the directory: skipped)
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const INCLUDE = /^[ \t]*#[ \t]*include[ \t]*"([^"]+)"/gm;

/**
 * The files `source` is built from, found in `dir`: `source` first, then the local headers it
 * includes (transitively, each once, in the order first met), then any of `extra` not found so.
 * An include naming no file of `dir` (a CPython internal header) is not followed.
 */
export function nativeInputs(dir: string, source: string, extra: readonly string[] = []): string[] {
  const seen = new Set<string>([source]);
  const queue = [source];
  for (let i = 0; i < queue.length; i++) {
    const text = readFileSync(join(dir, queue[i]!), "utf8");
    for (const match of text.matchAll(INCLUDE)) {
      const name = match[1]!;
      if (seen.has(name) || !existsSync(join(dir, name))) continue;
      seen.add(name);
      queue.push(name);
    }
  }
  for (const name of extra) seen.add(name);
  return [...seen];
}
