/**
 * Python's text formats as tracemalloc's classes use them: `"%.1f"`/`"%.0f"` (round half to
 * even on the exact binary value, unlike JavaScript's `toFixed`, which rounds ties up),
 * `tracemalloc._format_size`, and `repr()` of a `str`.
 */

/**
 * `"%.{digits}f" % x` (with `+` when `plus`) for digits 0 or 1, as CPython prints it. A tie
 * (x exactly halfway) happens only when 2^(digits+1)·x is an odd integer; it goes to the even neighbour.
 */
export function pyFixed(x: number, digits: 0 | 1, plus: boolean): string {
  const twice = x * 2 ** (digits + 1);
  let s: string;
  if (Number.isInteger(twice) && Math.abs(twice % 2) === 1) {
    const scale = digits === 0 ? 1 : 10;
    const low = Math.floor(x * scale);
    const even = low % 2 === 0 ? low : low + 1;
    s = (even / scale).toFixed(digits);
  } else {
    s = x.toFixed(digits);
  }
  return plus && !s.startsWith("-") ? `+${s}` : s;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** `tracemalloc._format_size(size, sign)`: `10.0 KiB`, `+20.8 KiB`, `99 B` ... */
export function formatSize(size: number, sign: boolean): string {
  for (const unit of UNITS) {
    if (Math.abs(size) < 100 && unit !== "B") return `${pyFixed(size, 1, sign)} ${unit}`;
    if (Math.abs(size) < 10 * 1024 || unit === "TiB") return `${pyFixed(size, 0, sign)} ${unit}`;
    size /= 1024;
  }
  /* c8 ignore next */
  throw new Error("unreachable");
}

/** `"%+i" % n`. */
export function signedInt(n: number): string {
  return n >= 0 ? `+${n}` : String(n);
}

/** `repr(s)` of a Python `str` (quote choice and escapes of printable-ASCII strings and control characters). */
export function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

/** Python's `str` ordering: by code point (JavaScript's `<` compares UTF-16 units). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** `_Py_DumpASCII`: how a fatal-error dump writes a string (non-ASCII escaped, at most 500 characters). */
export function dumpAscii(s: string): string {
  let out = "";
  let count = 0;
  for (const ch of s) {
    if (count++ === 500) return out + "...";
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out += ch;
    else if (c <= 0xff) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += `\\U${c.toString(16).padStart(8, "0")}`;
  }
  return out;
}
