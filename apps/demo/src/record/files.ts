import { closeSync, createReadStream, createWriteStream, existsSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";

/** Throws unless the directory `path` would be written into exists (checked before a long recording starts). */
export function checkWritable(path: string, what: string, fail: (message: string) => Error): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw fail(`cannot write the ${what} to ${path}: ${dir} is not a directory`);
}

/** Whether a path names a gzip file (by its `.gz` suffix). */
export function isGzip(path: string): boolean {
  return path.endsWith(".gz");
}

/** Compresses `from` into `to` (gzip, level 9). */
export async function gzipFile(from: string, to: string): Promise<void> {
  await pipeline(createReadStream(from), createGzip({ level: 9 }), createWriteStream(to));
}

/** The file's bytes as a stream, decompressed when it is a `.gz`. */
export function openTrace(path: string): Readable {
  const raw = createReadStream(path);
  return isGzip(path) ? raw.pipe(createGunzip()) : raw;
}

/** The text of a trace as string chunks, decompressed when it is a `.gz`. */
export async function* traceChunks(path: string): AsyncGenerator<string> {
  const stream = openTrace(path);
  stream.setEncoding("utf8");
  for await (const chunk of stream) yield chunk as string;
}

/** The last `bytes` bytes of a (plain) file as text. */
export function readTail(path: string, bytes = 4096): string {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, bytes);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, size - n);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}
