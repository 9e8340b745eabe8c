/**
 * The bytes of a CPython stderr report held as a binary string.
 *
 * CPython writes its debug dumps and fatal errors with `fprintf`, byte by byte: the API id
 * of a debug block goes out through `%c`, one raw byte, so a corrupted id of 0xe9 is the
 * single byte 0xe9, not the UTF-8 pair 0xc3 0xa9. The reports of this package are binary
 * strings: each character is one byte written (its code, 0..255; Latin-1 when read as text).
 * Write them with these bytes, not as UTF-8. A character above 0xff cannot come from CPython's
 * own output (its tracebacks escape non-ASCII text); if a caller-supplied part holds one, it
 * is encoded as UTF-8.
 */
export function reportBytes(report: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < report.length; i++) {
    const code = report.charCodeAt(i);
    if (code <= 0xff) {
      out.push(code);
      continue;
    }
    const point = report.codePointAt(i)!;
    if (point > 0xffff) i++;
    for (const b of new TextEncoder().encode(String.fromCodePoint(point))) out.push(b);
  }
  return Uint8Array.from(out);
}
