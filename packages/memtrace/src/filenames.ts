import { unescapeFilename, type FilenameSource } from "./stack-line.js";

/*
 * The file names of a trace's `#F` lines, interned: one string per distinct name. Many
 * frames share a file (a frame is a file and a line), and a name sliced out of the chunk it
 * was read from would keep the whole chunk (64 KiB or more) alive for as long as the frame
 * lives, so each distinct name is copied once and every later frame naming it gets the copy.
 * Looked up by the escaped text as written, without building a string:
 *
 *   slot = hash(chars of src[s, e)) & mask      open addressing, linear probing
 *   raw[slot]    the name as written (a copy)   compared with src.startsWith(raw, s)
 *   name[slot]   the name unescaped             what the frame holds
 */

/**
 * FNV-1a over the length and the last 24 UTF-16 code units of src[s, e): names of one
 * program share long directory prefixes and differ at the end (a full comparison settles
 * every match).
 */
function hashOf(src: string, s: number, e: number): number {
  let h = Math.imul(0x811c9dc5 ^ (e - s), 0x01000193);
  for (let p = Math.max(s, e - 24); p < e; p++) h = Math.imul(h ^ src.charCodeAt(p), 0x01000193);
  return h | 0;
}

/** src[s, e) as a string of its own: never a slice that keeps `src` alive. */
function copyOf(src: string, s: number, e: number): string {
  let out = "";
  const codes: number[] = [];
  for (let p = s; p < e; p += 4096) {
    codes.length = 0;
    for (let q = p; q < Math.min(e, p + 4096); q++) codes.push(src.charCodeAt(q));
    out += String.fromCharCode(...codes);
  }
  return out;
}

/** The interned file names of one trace (see the comment above). */
export class FilenameTable implements FilenameSource {
  private raw: (string | undefined)[] = new Array<string | undefined>(64);
  private name: string[] = new Array<string>(64);
  private hash = new Int32Array(64);
  private mask = 63;
  private count = 0;

  /** Number of distinct names. */
  get size(): number {
    return this.count;
  }

  /**
   * The unescaped file name written at `src[s, e)`: the same string for the same text.
   * @throws {@link MemtraceSyntaxError} naming `line` for a bad escape (the first time a text is seen)
   */
  intern(src: string, s: number, e: number, line: number): string {
    const h = hashOf(src, s, e);
    const length = e - s;
    let slot = h & this.mask;
    for (;;) {
      const raw = this.raw[slot];
      if (raw === undefined) break;
      if (this.hash[slot] === h && raw.length === length && src.startsWith(raw, s)) return this.name[slot]!;
      slot = (slot + 1) & this.mask;
    }
    const raw = copyOf(src, s, e);
    const name = raw.includes("\\") ? unescapeFilename(raw, 0, raw.length, line) : raw;
    this.raw[slot] = raw;
    this.name[slot] = name;
    this.hash[slot] = h;
    if (++this.count * 2 > this.mask) this.grow();
    return name;
  }

  private grow(): void {
    const { raw, name, hash } = this;
    const capacity = (this.mask + 1) * 2;
    this.raw = new Array<string | undefined>(capacity);
    this.name = new Array<string>(capacity);
    this.hash = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i];
      if (r === undefined) continue;
      let slot = hash[i]! & this.mask;
      while (this.raw[slot] !== undefined) slot = (slot + 1) & this.mask;
      this.raw[slot] = r;
      this.name[slot] = name[i]!;
      this.hash[slot] = hash[i]!;
    }
  }
}
