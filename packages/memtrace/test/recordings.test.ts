/**
 * The real recordings committed as fixtures (CPython runs in small-object, C programs in
 * libc-malloc) read with the streaming reader, and checked for the invariants every
 * recording must hold: the header, a heap start, every freed or reallocated pointer handed
 * out earlier and still live, every released arena obtained earlier, and as many events
 * as the recorder counted.
 */
import { createReadStream, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { describe, expect, it } from "vitest";
import { PointerMap, forEachRecord, formatEvent, type TraceRecord } from "../src/index.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const pythonDir = join(root, "small-object/test/fixtures/recordings");
const libcDir = join(root, "libc-malloc/test/fixtures/recordings");

function traces(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".memtrace.gz")).sort() : [];
}

async function* gunzipText(path: string): AsyncGenerator<string> {
  const stream = createReadStream(path).pipe(createGunzip());
  stream.setEncoding("utf8");
  for await (const chunk of stream) yield chunk as string;
}

interface Summary {
  events: number;
  heapStart: number;
  arenas: number;
  released: number;
  comments: string[];
  problems: string[];
}

async function check(path: string): Promise<Summary> {
  const live = new PointerMap(1 << 16);
  const arenas = new Set<number>();
  const s: Summary = { events: 0, heapStart: 0, arenas: 0, released: 0, comments: [], problems: [] };
  const take = (r: TraceRecord, line: number): void => {
    if (r.ptr !== 0 && live.delete(r.ptr) === -1) s.problems.push(`line ${line}: ${formatEvent(r)}: pointer not live`);
  };
  const give = (r: TraceRecord, line: number): void => {
    if (r.result === 0) return;
    if (live.has(r.result)) s.problems.push(`line ${line}: ${formatEvent(r)}: result already live`);
    live.set(r.result, 1);
  };
  await forEachRecord(gunzipText(path), (r, line) => {
    switch (r.kind) {
      case "comment":
        s.comments.push(r.text);
        return;
      case "heap-start":
        s.heapStart = r.address;
        return;
      case "arena-alloc":
        s.arenas++;
        if (arenas.has(r.result)) s.problems.push(`line ${line}: arena obtained twice`);
        arenas.add(r.result);
        return;
      case "arena-free":
        s.released++;
        if (!arenas.delete(r.ptr)) s.problems.push(`line ${line}: released arena ${r.ptr} was not obtained`);
        return;
      case "free":
        s.events++;
        take(r, line);
        return;
      case "realloc":
        s.events++;
        if (r.result === 0 && r.size !== 0) return; // failed: the block stays
        take(r, line);
        give(r, line);
        return;
      case "write":
      case "cpus":
      case "thread":
      case "thread-start":
      case "thread-exit":
      case "frame":
      case "traceback":
      case "stack":
      case "retrace":
        return; // not calls: threads and source locations
      default:
        s.events++;
        give(r, line);
    }
  });
  return s;
}

describe.each(traces(pythonDir))("CPython recording %s", (file) => {
  it("holds the recorder's invariants", { timeout: 30_000 }, async () => {
    const s = await check(join(pythonDir, file));
    expect(s.problems).toEqual([]);
    expect(s.comments[0]).toBe(" memtrace v1");
    expect(s.heapStart).toBeGreaterThan(0);
    const end = s.comments.find((c) => c.startsWith(" end atexit:"));
    expect(end).toBeDefined();
    const m = /(\d+) events, (\d+) arenas allocated, (\d+) arenas released, \d+ data-stack chunks, 0 untracked frees, 0 untracked reallocs/.exec(end!);
    expect(m).not.toBeNull();
    expect([s.events, s.arenas, s.released]).toEqual([Number(m![1]), Number(m![2]), Number(m![3])]);
    expect(existsSync(join(pythonDir, file.replace(".memtrace.gz", ".stats.txt")))).toBe(true);
  });
});

describe.each(traces(libcDir))("C program recording %s", (file) => {
  it("holds the recorder's invariants", { timeout: 30_000 }, async () => {
    const s = await check(join(libcDir, file));
    expect(s.problems).toEqual([]);
    expect(s.comments[0]).toBe(" memtrace v1");
    expect(s.heapStart % 4096).toBe(0);
    expect(s.heapStart).toBeGreaterThan(0);
    const exit = s.comments.find((c) => c.startsWith(" exit: "));
    expect(Number(/ exit: (\d+) events/.exec(exit!)![1])).toBeLessThanOrEqual(s.events);
  });
});

it("finds the committed recordings", () => {
  expect(traces(pythonDir).length).toBeGreaterThanOrEqual(5);
  expect(traces(libcDir).length).toBeGreaterThanOrEqual(5);
});
