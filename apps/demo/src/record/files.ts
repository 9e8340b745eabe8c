import { createReadStream, createWriteStream, openSync, readSync, closeSync, fstatSync } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";

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
