import { MemtraceSyntaxError } from "./errors.js";
import type { TraceRecord } from "./record.js";

/*
 * The source-location records. They are comments to a reader that does not know them
 * (every line starting with `#` is one), so that readers written before them, which refuse
 * unknown event letters, skip them:
 *
 *   #F 3 12 /home/me/app.py           frame 3: line 12 of /home/me/app.py
 *   #T 7 4 3 1                        traceback 7: frames 3 then 1 (most recent first) of a stack of 4
 *   #S 7                              the allocations that follow were made at traceback 7
 *   #R 0x7f3a10e8a030                 that live block now has traceback 7 (reused from a free list)
 *   ^^ ^ ^^ ^-- the rest of the line, escaped
 *   record letter right after the #, then exactly one space
 */

const SPACE = 32;
const BACKSLASH = 92;

/** Whether `src[start, end)` is a stack record line (`#F `, `#T ` or `#S `). */
export function isStackLine(src: string, start: number, end: number): boolean {
  if (end - start < 3 || src.charCodeAt(start + 2) !== SPACE) return false;
  const c = src.charCodeAt(start + 1);
  return c === 70 || c === 84 || c === 83 || c === 82; // F T S R
}

/** The decimal integer at src[s, e) (0..2^53-1), or a syntax error naming `what`. */
function decimal(src: string, s: number, e: number, line: number, what: string): number {
  if (s >= e) throw new MemtraceSyntaxError(line, `${what} is missing`);
  let v = 0;
  for (let p = s; p < e; p++) {
    const d = src.charCodeAt(p) - 48;
    if (d < 0 || d > 9) throw new MemtraceSyntaxError(line, `${what} ${JSON.stringify(src.slice(s, e))} is not a decimal number`);
    v = v * 10 + d;
  }
  if (v > Number.MAX_SAFE_INTEGER) throw new MemtraceSyntaxError(line, `${what} ${src.slice(s, e)} is above 2^53-1`);
  return v;
}

/** The end of the field starting at `s` (the next space or `end`). */
function fieldEnd(src: string, s: number, end: number): number {
  const sp = src.indexOf(" ", s);
  return sp < 0 || sp > end ? end : sp;
}

/**
 * Turns a `#F` line's file name, `src[s, e)` as written (escaped), into the string a frame
 * holds: {@link FilenameTable.intern} gives one string per distinct name, made once and
 * holding no reference to `src`.
 */
export interface FilenameSource {
  /**
   * The unescaped file name written at `src[s, e)`.
   * @throws {@link MemtraceSyntaxError} naming `line` for a bad escape
   */
  intern(src: string, s: number, e: number, line: number): string;
}

/*
 * The fast path reads a well-formed record in one pass; at the first thing it does not
 * expect it returns false and the careful path (parseStackLineCarefully) reads the line
 * again and throws the precise error. Whatever the fast path accepts, the careful path
 * accepts with the same result (a property test checks it).
 */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** The frame ids of the `#T` line being read (a line holds at most MAX_LINE_LENGTH / 2 of them). */
const scratchFrames: number[] = [];
/** Where the last fastDecimal/fastHex stopped. */
let at = 0;

/** Digits from `p` up to a space or `end` (at least one, no other character), or -1. */
function fastDecimal(src: string, p: number, end: number): number {
  let v = 0;
  const s = p;
  for (; p < end; p++) {
    const d = src.charCodeAt(p) - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  at = p;
  if (p === s || v > MAX_SAFE || (p < end && src.charCodeAt(p) !== SPACE)) return -1;
  return v;
}

/**
 * One-pass read of a stack record into `rec`; false when the careful path must decide.
 * `names` makes a frame's file name (the careful path, without it, slices the line).
 */
function parseStackLineFast(src: string, start: number, end: number, rec: TraceRecord, names: FilenameSource | undefined, line: number): boolean {
  const letter = src.charCodeAt(start + 1);
  const p = start + 3;
  if (letter === 83) {
    // #S <traceback-id>
    const v = fastDecimal(src, p, end);
    if (v < 0 || at !== end) return false;
    rec.kind = "stack";
    rec.traceback = v;
    return true;
  }
  if (letter === 82) {
    // #R <ptr>: 0x and lowercase hex digits, as the careful path accepts
    if (end - p < 3 || src.charCodeAt(p) !== 48 || src.charCodeAt(p + 1) !== 120) return false;
    let v = 0;
    for (let q = p + 2; q < end; q++) {
      const c = src.charCodeAt(q);
      if (c >= 48 && c <= 57) v = v * 16 + (c - 48);
      else if (c >= 97 && c <= 102) v = v * 16 + (c - 87);
      else return false;
    }
    if (v > MAX_SAFE) return false;
    rec.kind = "retrace";
    rec.ptr = v;
    return true;
  }
  if (letter === 70) {
    // #F <id> <lineno> <filename>
    const id = fastDecimal(src, p, end);
    if (id < 0 || at === end) return false;
    const lineno = fastDecimal(src, at + 1, end);
    if (lineno < 0 || at === end) return false;
    if (names === undefined) return false;
    // a bad escape is thrown by intern, with the careful path's message
    rec.filename = names.intern(src, at + 1, end, line);
    rec.kind = "frame";
    rec.id = id;
    rec.lineno = lineno;
    return true;
  }
  // #T <id> <total> <frame-id>...
  const id = fastDecimal(src, p, end);
  if (id < 0 || at === end) return false;
  const total = fastDecimal(src, at + 1, end);
  if (total < 0 || at === end) return false;
  let n = 0;
  do {
    const f = fastDecimal(src, at + 1, end);
    if (f < 0) return false;
    scratchFrames[n++] = f;
  } while (at !== end);
  if (total < n) return false;
  rec.kind = "traceback";
  rec.id = id;
  rec.total = total;
  // an array of exactly n elements (an array grown by push keeps room for 17), packed like
  // the record's initial empty one (a holey array would change the record's hidden class
  // and throw away the optimised code that reads records)
  rec.frames = scratchFrames.slice(0, n);
  return true;
}

/**
 * Parses a stack record line (one {@link isStackLine} accepted) into `rec`: a fast one-pass
 * read, and for anything it does not expect, the careful read that names what is wrong.
 * With `names`, a frame's file name is interned ({@link FilenameSource}); without, it is
 * unescaped from the line.
 * @throws {@link MemtraceSyntaxError} naming the line: a missing or non-decimal field, an
 *   empty field, a traceback without frames, a badly escaped file name
 */
export function parseStackLine(src: string, start: number, end: number, line: number, rec: TraceRecord, names?: FilenameSource): void {
  if (!parseStackLineFast(src, start, end, rec, names, line)) parseStackLineCarefully(src, start, end, line, rec);
}

/**
 * The careful read of a stack record: every field checked in turn, the first problem thrown
 * with its precise message. Exported for tests (the fast path must agree with it).
 * @throws {@link MemtraceSyntaxError} as {@link parseStackLine}
 */
export function parseStackLineCarefully(src: string, start: number, end: number, line: number, rec: TraceRecord): void {
  const letter = src.charCodeAt(start + 1);
  let p = start + 3;
  if (letter === 83) {
    // #S <traceback-id>
    const e = fieldEnd(src, p, end);
    if (e !== end) throw new MemtraceSyntaxError(line, `stack (#S) needs 1 field, the traceback id, got more`);
    rec.kind = "stack";
    rec.traceback = decimal(src, p, e, line, "stack (#S) traceback id");
    return;
  }
  if (letter === 82) {
    // #R <ptr>
    const e = fieldEnd(src, p, end);
    if (e !== end) throw new MemtraceSyntaxError(line, "retrace (#R) needs 1 field, the block's pointer, got more");
    if (e - p < 3 || src.charCodeAt(p) !== 48 || src.charCodeAt(p + 1) !== 120) {
      throw new MemtraceSyntaxError(line, `retrace (#R) ptr ${JSON.stringify(src.slice(p, e))} is not a hex pointer (0x followed by hex digits)`);
    }
    let v = 0;
    for (let q = p + 2; q < e; q++) {
      const c = src.charCodeAt(q);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) throw new MemtraceSyntaxError(line, `retrace (#R) ptr ${JSON.stringify(src.slice(p, e))} is not a hex pointer (0x followed by hex digits)`);
      v = v * 16 + d;
    }
    if (v > Number.MAX_SAFE_INTEGER) throw new MemtraceSyntaxError(line, `retrace (#R) ptr ${src.slice(p, e)} is above 2^53-1`);
    rec.kind = "retrace";
    rec.ptr = v;
    return;
  }
  if (letter === 70) {
    // #F <id> <lineno> <filename>
    const e1 = fieldEnd(src, p, end);
    const id = decimal(src, p, e1, line, "frame (#F) id");
    if (e1 === end) throw new MemtraceSyntaxError(line, "frame (#F) needs an id, a line number and a file name");
    p = e1 + 1;
    const e2 = fieldEnd(src, p, end);
    const lineno = decimal(src, p, e2, line, "frame (#F) line number");
    if (e2 === end) throw new MemtraceSyntaxError(line, "frame (#F) needs a file name after the line number");
    rec.kind = "frame";
    rec.id = id;
    rec.lineno = lineno;
    rec.filename = unescapeFilename(src, e2 + 1, end, line);
    return;
  }
  // #T <id> <total> <frame-id>...
  const e1 = fieldEnd(src, p, end);
  const id = decimal(src, p, e1, line, "traceback (#T) id");
  if (e1 === end) throw new MemtraceSyntaxError(line, "traceback (#T) needs an id, the stack's total frame count and at least one frame id");
  p = e1 + 1;
  const e2 = fieldEnd(src, p, end);
  const total = decimal(src, p, e2, line, "traceback (#T) total");
  if (e2 === end) throw new MemtraceSyntaxError(line, "traceback (#T) needs at least one frame id after the total");
  const frames: number[] = [];
  p = e2 + 1;
  for (;;) {
    const e = fieldEnd(src, p, end);
    frames.push(decimal(src, p, e, line, `traceback (#T) frame id ${frames.length + 1}`));
    if (e === end) break;
    p = e + 1;
  }
  if (total < frames.length) {
    throw new MemtraceSyntaxError(line, `traceback (#T) total ${total} is less than its ${frames.length} frames (total counts the frames before the limit cut the stack)`);
  }
  rec.kind = "traceback";
  rec.id = id;
  rec.total = total;
  rec.frames = frames;
}

function hexValue(src: string, s: number, n: number, line: number): number {
  let v = 0;
  for (let p = s; p < s + n; p++) {
    const c = src.charCodeAt(p);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0 || Number.isNaN(c)) throw new MemtraceSyntaxError(line, `bad escape in a frame's file name: ${JSON.stringify(src.slice(s - 2, s + n))} needs ${n} hex digits`);
    v = v * 16 + d;
  }
  return v;
}

/**
 * A file name as a `#F` line holds it, unescaped: `\\` a backslash, `\n` `\r` `\t`, `\xHH`
 * a character below U+0100, `\uHHHH` a UTF-16 code unit (how a recorder writes a lone
 * surrogate, as Python's `surrogateescape` makes for undecodable bytes); anything else
 * after a backslash is an error.
 */
export function unescapeFilename(src: string, s: number, e: number, line: number): string {
  const first = src.indexOf("\\", s);
  if (first < 0 || first >= e) return src.slice(s, e);
  let out = src.slice(s, first);
  for (let p = first; p < e; ) {
    const c = src.charCodeAt(p);
    if (c !== BACKSLASH) {
      out += src[p];
      p++;
      continue;
    }
    if (p + 1 >= e) throw new MemtraceSyntaxError(line, "a frame's file name ends with a lone backslash (a backslash is written \\\\)");
    const k = src[p + 1];
    if (k === "\\") out += "\\";
    else if (k === "n") out += "\n";
    else if (k === "r") out += "\r";
    else if (k === "t") out += "\t";
    else if (k === "x" || k === "u") {
      const n = k === "x" ? 2 : 4;
      if (p + 2 + n > e) throw new MemtraceSyntaxError(line, `bad escape in a frame's file name: \\${k} needs ${n} hex digits`);
      out += String.fromCharCode(hexValue(src, p + 2, n, line));
      p += 2 + n;
      continue;
    } else {
      throw new MemtraceSyntaxError(line, `bad escape \\${k} in a frame's file name (expected \\\\, \\n, \\r, \\t, \\xHH or \\uHHHH)`);
    }
    p += 2;
  }
  return out;
}

/**
 * A file name as a `#F` line writes it: a backslash doubled, `\n` `\r` `\t`, other control
 * characters `\xHH`, a lone surrogate `\uHHHH`; spaces and every other character as they
 * are (the file name is the rest of the line).
 */
export function escapeFilename(name: string): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === BACKSLASH) out += "\\\\";
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c === 9) out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = name.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += name[i]! + name[i + 1]!;
        i++;
      } else out += `\\u${c.toString(16)}`;
    } else out += name[i]!;
  }
  return out;
}
