import type { Domain, MemtraceEvent } from "./api.js";
import { MemtraceSyntaxError } from "./errors.js";
import { TraceRecord } from "./record.js";
import { isStackLine, parseStackLine } from "./stack-line.js";

/*
 * The line parser reads a line straight out of the text it came in (a chunk of a
 * file: `src` between `start` and `end`), with charCodeAt and no substrings, into a
 * reused TraceRecord. It first splits the line at single spaces into fields
 * (positions only), so that a wrong field count is reported exactly, then converts
 * each field:
 *
 *   r raw 0x7f3a10 64 0x7f3a40
 *   ^ ^   ^        ^  ^
 *   0 1   2        3  4      field index (0 = the event letter)
 */

const MAX_FIELDS = 8;
const fieldStart = new Int32Array(MAX_FIELDS + 1);
const fieldEnd = new Int32Array(MAX_FIELDS + 1);

const SPACE = 32;
const HASH = 35;
const ZERO = 48;
const LOWER_X = 120;
const HEAP_START = "# heap-start ";
const CPUS = "# cpus ";

/** Splits src[start, end) at spaces; returns the number of fields (positions of the first MAX_FIELDS kept). */
function split(src: string, start: number, end: number, line: number): number {
  let n = 0;
  let s = start;
  for (let i = start; i < end; i++) {
    if (src.charCodeAt(i) === SPACE) {
      if (i === s) throw emptyField(src, start, end, line);
      if (n < MAX_FIELDS) {
        fieldStart[n] = s;
        fieldEnd[n] = i;
      }
      n++;
      s = i + 1;
    }
  }
  if (s === end) throw emptyField(src, start, end, line);
  if (n < MAX_FIELDS) {
    fieldStart[n] = s;
    fieldEnd[n] = end;
  }
  return n + 1;
}

function emptyField(src: string, start: number, end: number, line: number): MemtraceSyntaxError {
  return new MemtraceSyntaxError(line, `empty field in ${quote(src.slice(start, end))} (fields are separated by exactly one space)`);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

function fieldText(src: string, i: number): string {
  return src.slice(fieldStart[i], fieldEnd[i]);
}

/** Field i as a decimal integer in 0..2^53-1. */
function dec(src: string, i: number, line: number, what: string): number {
  const s = fieldStart[i]!;
  const e = fieldEnd[i]!;
  let v = 0;
  for (let p = s; p < e; p++) {
    const d = src.charCodeAt(p) - ZERO;
    if (d < 0 || d > 9) throw new MemtraceSyntaxError(line, `${what} ${quote(fieldText(src, i))} is not a decimal number`);
    v = v * 10 + d;
  }
  if (v > Number.MAX_SAFE_INTEGER) {
    throw new MemtraceSyntaxError(line, `${what} ${fieldText(src, i)} is above 2^53-1, the largest number the stack handles`);
  }
  return v;
}

/** src[s, e) as a decimal integer in 0..2^53-1. */
function decAt(src: string, s: number, e: number, line: number, what: string): number {
  let v = 0;
  for (let p = s; p < e; p++) {
    const d = src.charCodeAt(p) - ZERO;
    if (d < 0 || d > 9) throw new MemtraceSyntaxError(line, `${what} ${quote(src.slice(s, e))} is not a decimal number`);
    v = v * 10 + d;
  }
  if (e === s) throw new MemtraceSyntaxError(line, `${what} is missing`);
  if (v > Number.MAX_SAFE_INTEGER) throw new MemtraceSyntaxError(line, `${what} ${src.slice(s, e)} is above 2^53-1, the largest number the stack handles`);
  return v;
}

/** A count or thread number: at least 1 (thread 1 is the main thread; a machine has a CPU). */
function positive(value: number, line: number, what: string): number {
  if (value === 0) throw new MemtraceSyntaxError(line, `${what} must be at least 1`);
  return value;
}

/** Field i (or src[s, e)) as a `0x` hex pointer in 0..2^53-1. */
function hexAt(src: string, s: number, e: number, line: number, what: string): number {
  if (e - s < 3 || src.charCodeAt(s) !== ZERO || src.charCodeAt(s + 1) !== LOWER_X) {
    throw new MemtraceSyntaxError(line, `${what} ${quote(src.slice(s, e))} is not a hex pointer (0x followed by hex digits)`);
  }
  let v = 0;
  for (let p = s + 2; p < e; p++) {
    const d = hexDigit(src.charCodeAt(p));
    if (d < 0) throw new MemtraceSyntaxError(line, `${what} ${quote(src.slice(s, e))} is not a hex pointer (0x followed by hex digits)`);
    v = v * 16 + d;
  }
  if (v > Number.MAX_SAFE_INTEGER) {
    throw new MemtraceSyntaxError(line, `${what} ${src.slice(s, e)} is above 2^53-1, the largest address the stack handles`);
  }
  return v;
}

function hex(src: string, i: number, line: number, what: string): number {
  return hexAt(src, fieldStart[i]!, fieldEnd[i]!, line, what);
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Field i as a domain name. */
function domain(src: string, i: number, line: number): Domain {
  const s = fieldStart[i]!;
  const len = fieldEnd[i]! - s;
  const c0 = src.charCodeAt(s);
  if (len === 3) {
    const c1 = src.charCodeAt(s + 1);
    const c2 = src.charCodeAt(s + 2);
    if (c0 === 114 && c1 === 97 && c2 === 119) return "raw";
    if (c0 === 109 && c1 === 101 && c2 === 109) return "mem";
    if (c0 === 111 && c1 === 98 && c2 === 106) return "obj";
  } else if (len === 4 && c0 === 108 && src.startsWith("libc", s)) {
    return "libc";
  }
  throw new MemtraceSyntaxError(line, `unknown domain ${quote(fieldText(src, i))} (expected raw, mem, obj or libc)`);
}

/** Checks the field count of an event with a domain: the letter, the domain and `after` more fields. */
function expectDomainFields(n: number, after: number, name: string, line: number): void {
  if (n === 1) throw new MemtraceSyntaxError(line, `${name} needs a domain and ${after} field${after === 1 ? "" : "s"} after it, got none`);
  if (n - 2 !== after) {
    throw new MemtraceSyntaxError(line, `${name} needs ${after} field${after === 1 ? "" : "s"} after the domain, got ${n - 2}`);
  }
}

/** Checks the field count of an event without a domain. */
function expectFields(n: number, want: number, name: string, line: number): void {
  if (n - 1 !== want) throw new MemtraceSyntaxError(line, `${name} needs ${want} fields, got ${n - 1}`);
}

function bytesOf(src: string, i: number, line: number): Uint8Array {
  const s = fieldStart[i]!;
  const e = fieldEnd[i]!;
  if ((e - s) % 2 !== 0) throw new MemtraceSyntaxError(line, `write bytes ${quote(fieldText(src, i))} have an odd number of hex digits`);
  const out = new Uint8Array((e - s) / 2);
  for (let p = s, k = 0; p < e; p += 2, k++) {
    const hi = hexDigit(src.charCodeAt(p));
    const lo = hexDigit(src.charCodeAt(p + 1));
    if (hi < 0 || lo < 0) throw new MemtraceSyntaxError(line, `write bytes ${quote(fieldText(src, i))} are not hex digits`);
    out[k] = hi * 16 + lo;
  }
  return out;
}

/*
 * The fast path reads a well-formed line in one pass with a cursor; at the first thing
 * it does not expect it gives up, and the careful path (split into fields, then convert
 * each) reads the line again and throws the precise error.
 */
let cur = 0;
let ok = true;

function fastSpace(src: string): void {
  if (src.charCodeAt(cur) === SPACE) cur++;
  else ok = false;
}

function fastDec(src: string, end: number): number {
  const s = cur;
  let i = cur;
  let v = 0;
  for (; i < end; i++) {
    const d = src.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  if (i === s || v > Number.MAX_SAFE_INTEGER) ok = false;
  cur = i;
  return v;
}

function fastHex(src: string, end: number): number {
  if (src.charCodeAt(cur) !== ZERO || src.charCodeAt(cur + 1) !== LOWER_X) {
    ok = false;
    return 0;
  }
  const s = cur + 2;
  let i = s;
  let v = 0;
  for (; i < end; i++) {
    const c = src.charCodeAt(i);
    if (c >= 48 && c <= 57) v = v * 16 + (c - 48);
    else if (c >= 97 && c <= 102) v = v * 16 + (c - 87);
    else break;
  }
  if (i === s || v > Number.MAX_SAFE_INTEGER) ok = false;
  cur = i;
  return v;
}

/** The domain at the cursor, followed by a space (consumed). */
function fastDomain(src: string): Domain {
  const c0 = src.charCodeAt(cur);
  const c1 = src.charCodeAt(cur + 1);
  const c2 = src.charCodeAt(cur + 2);
  const c3 = src.charCodeAt(cur + 3);
  if (c3 === SPACE) {
    cur += 4;
    if (c0 === 111 && c1 === 98 && c2 === 106) return "obj";
    if (c0 === 114 && c1 === 97 && c2 === 119) return "raw";
    if (c0 === 109 && c1 === 101 && c2 === 109) return "mem";
  } else if (c0 === 108 && c1 === 105 && c2 === 98 && c3 === 99 && src.charCodeAt(cur + 4) === SPACE) {
    cur += 5;
    return "libc";
  }
  ok = false;
  return "raw";
}

/** One-pass read of an allocation event line; returns false when the careful path must decide. */
function parseFast(src: string, start: number, end: number, rec: TraceRecord): boolean {
  const c = src.charCodeAt(start);
  ok = src.charCodeAt(start + 1) === SPACE;
  cur = start + 2;
  switch (c) {
    case 109: // m
      rec.domain = fastDomain(src);
      rec.size = fastDec(src, end);
      fastSpace(src);
      rec.result = fastHex(src, end);
      rec.kind = "malloc";
      break;
    case 102: // f
      rec.domain = fastDomain(src);
      rec.ptr = fastHex(src, end);
      rec.kind = "free";
      break;
    case 114: // r
      rec.domain = fastDomain(src);
      rec.ptr = fastHex(src, end);
      fastSpace(src);
      rec.size = fastDec(src, end);
      fastSpace(src);
      rec.result = fastHex(src, end);
      rec.kind = "realloc";
      break;
    case 99: // c
      rec.domain = fastDomain(src);
      rec.nelem = fastDec(src, end);
      fastSpace(src);
      rec.elsize = fastDec(src, end);
      fastSpace(src);
      rec.result = fastHex(src, end);
      rec.kind = "calloc";
      break;
    default:
      return false;
  }
  return ok && cur === end;
}

/**
 * Parses the line `src[start, end)` (without its newline) into `rec`, reading the text in
 * place (no substring): the fast path, with no allocation for allocation events. Throws
 * {@link MemtraceSyntaxError} naming `line` and what is wrong; `rec` may then hold
 * partial content.
 */
export function parseLineInto(src: string, start: number, end: number, line: number, rec: TraceRecord): void {
  if (end > start && src.charCodeAt(end - 1) === 13) end--; // CRLF
  if (end - start > 2 && parseFast(src, start, end, rec)) return;
  if (start === end) throw new MemtraceSyntaxError(line, "empty line (comments start with #)");
  const c = src.charCodeAt(start);
  if (c === HASH) {
    if (src.startsWith(HEAP_START, start)) {
      rec.kind = "heap-start";
      rec.address = hexAt(src, start + HEAP_START.length, end, line, "heap-start");
      return;
    }
    if (src.startsWith(CPUS, start)) {
      rec.kind = "cpus";
      rec.count = positive(decAt(src, start + CPUS.length, end, line, "cpus count"), line, "cpus count");
      return;
    }
    if (isStackLine(src, start, end)) {
      parseStackLine(src, start, end, line, rec);
      return;
    }
    rec.kind = "comment";
    rec.text = src.slice(start + 1, end);
    return;
  }
  const n = split(src, start, end, line);
  if (fieldEnd[0]! - fieldStart[0]! !== 1) throw unknownEvent(src, line);
  switch (c) {
    case 109: // m
      expectDomainFields(n, 2, "malloc", line);
      rec.kind = "malloc";
      rec.domain = domain(src, 1, line);
      rec.size = dec(src, 2, line, "malloc size");
      rec.result = hex(src, 3, line, "malloc result");
      return;
    case 99: // c
      expectDomainFields(n, 3, "calloc", line);
      rec.kind = "calloc";
      rec.domain = domain(src, 1, line);
      rec.nelem = dec(src, 2, line, "calloc nelem");
      rec.elsize = dec(src, 3, line, "calloc elsize");
      rec.result = hex(src, 4, line, "calloc result");
      return;
    case 114: // r
      expectDomainFields(n, 3, "realloc", line);
      rec.kind = "realloc";
      rec.domain = domain(src, 1, line);
      rec.ptr = hex(src, 2, line, "realloc ptr");
      rec.size = dec(src, 3, line, "realloc size");
      rec.result = hex(src, 4, line, "realloc result");
      return;
    case 102: // f
      expectDomainFields(n, 1, "free", line);
      rec.kind = "free";
      rec.domain = domain(src, 1, line);
      rec.ptr = hex(src, 2, line, "free ptr");
      return;
    case 97: // a
      expectDomainFields(n, 3, "memalign", line);
      rec.kind = "memalign";
      rec.domain = domain(src, 1, line);
      rec.alignment = dec(src, 2, line, "memalign alignment");
      rec.size = dec(src, 3, line, "memalign size");
      rec.result = hex(src, 4, line, "memalign result");
      return;
    case 65: // A
      expectFields(n, 2, "arena-alloc (A)", line);
      rec.kind = "arena-alloc";
      rec.size = arenaSize(dec(src, 1, line, "arena-alloc size"), line, "arena-alloc (A)");
      rec.result = arenaAddress(hex(src, 2, line, "arena-alloc result"), line, "arena-alloc (A) result", "an A line records an arena that was obtained");
      return;
    case 68: // D
      expectFields(n, 2, "arena-free (D)", line);
      rec.kind = "arena-free";
      rec.ptr = arenaAddress(hex(src, 1, line, "arena-free ptr"), line, "arena-free (D) ptr", "a D line records an arena that was released");
      rec.size = arenaSize(dec(src, 2, line, "arena-free size"), line, "arena-free (D)");
      return;
    case 116: // t
      expectFields(n, 1, "thread (t)", line);
      rec.kind = "thread";
      rec.thread = positive(dec(src, 1, line, "thread number"), line, "thread number");
      return;
    case 110: // n
      expectFields(n, 1, "thread-start (n)", line);
      rec.kind = "thread-start";
      rec.thread = positive(dec(src, 1, line, "thread-start number"), line, "thread-start number");
      return;
    case 120: // x
      expectFields(n, 1, "thread-exit (x)", line);
      rec.kind = "thread-exit";
      rec.thread = positive(dec(src, 1, line, "thread-exit number"), line, "thread-exit number");
      return;
    case 119: // w
      expectFields(n, 3, "write (w)", line);
      rec.kind = "write";
      rec.ptr = hex(src, 1, line, "write ptr");
      rec.offset = dec(src, 2, line, "write offset");
      rec.bytes = bytesOf(src, 3, line);
      return;
    default:
      throw unknownEvent(src, line);
  }
}

/**
 * The page size arenas are aligned to: pymalloc's arenas come from `mmap` (CPython's
 * `_PyObject_ArenaMmap`), which returns whole pages, and ARENA_SIZE is a multiple of the
 * page size in every version (256 KiB up to 3.9, 1 MiB from 3.10). 4096 is the smallest
 * page size of the platforms traces come from (x86-64 Linux).
 */
const ARENA_PAGE = 4096;

/** An `A`/`D` address: not NULL and page-aligned, or the line is refused. */
function arenaAddress(value: number, line: number, what: string, meaning: string): number {
  if (value === 0) throw new MemtraceSyntaxError(line, `${what} is NULL: ${meaning}`);
  if (value % ARENA_PAGE !== 0) {
    throw new MemtraceSyntaxError(line, `${what} 0x${value.toString(16)} is not a multiple of the page size (${ARENA_PAGE}): arenas are mmapped`);
  }
  return value;
}

/** An `A`/`D` size: a positive multiple of the page size, or the line is refused. */
function arenaSize(value: number, line: number, what: string): number {
  if (value === 0 || value % ARENA_PAGE !== 0) {
    throw new MemtraceSyntaxError(line, `${what} size ${value} is not a positive multiple of the page size (${ARENA_PAGE})`);
  }
  return value;
}

function unknownEvent(src: string, line: number): MemtraceSyntaxError {
  return new MemtraceSyntaxError(
    line,
    `unknown event ${quote(fieldText(src, 0))} (expected m, c, r, f, a, A, D, w, t, n, x, or # for a comment)`,
  );
}

const scratch = new TraceRecord();

/**
 * Parses one line (without its newline) into a fresh event.
 * @param line - the line number used in error messages
 * @throws {@link MemtraceSyntaxError} for a malformed line
 */
export function parseLine(text: string, line = 1): MemtraceEvent {
  parseLineInto(text, 0, text.length, line, scratch);
  return scratch.toEvent();
}
