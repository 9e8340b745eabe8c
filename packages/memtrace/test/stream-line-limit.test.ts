import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_LINE_LENGTH, MemtraceLineTooLongError, MemtraceSyntaxError, TraceStream } from "../src/index.js";

describe("TraceStream line bound", () => {
  it("stops a newline-free input (such as /dev/zero) at the limit with a typed error naming the line", () => {
    const s = new TraceStream(() => undefined, { maxLineLength: 100 });
    s.push("# memtrace v1\n");
    const zeros = "\0".repeat(64);
    s.push(zeros);
    let error: unknown;
    try {
      for (let i = 0; i < 10; i++) s.push(zeros);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemtraceLineTooLongError);
    expect(error).toBeInstanceOf(MemtraceSyntaxError);
    const e = error as MemtraceLineTooLongError;
    expect(e.line).toBe(2);
    expect(e.limit).toBe(100);
    expect(e.message).toBe("memtrace: line 2: line longer than 100 characters (the limit of a trace line; is this a memtrace file?)");
  });

  it("also stops a long line inside one chunk, and an unfinished one as soon as it is too long", () => {
    const inChunk = new TraceStream(() => undefined, { maxLineLength: 20 });
    expect(() => inChunk.push(`# memtrace v1\n# ${"x".repeat(30)}\n`)).toThrow(/line 2: line longer than 20 characters/);
    const atEnd = new TraceStream(() => undefined, { maxLineLength: 20 });
    atEnd.push(`# memtrace v1\n# ${"x".repeat(18)}`);
    expect(() => atEnd.end()).not.toThrow();
    const unfinished = new TraceStream(() => undefined, { maxLineLength: 20 });
    expect(() => unfinished.push(`# memtrace v1\n# ${"x".repeat(19)}`)).toThrow(MemtraceLineTooLongError);
  });

  it("defaults to 1 MiB and accepts lines up to the limit whatever the chunking", () => {
    expect(MAX_LINE_LENGTH).toBe(1 << 20);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 8 }), (len, cuts) => {
        const text = `# memtrace v1\n#${"y".repeat(len)}\nf raw 0x10\n`;
        const lines: number[] = [];
        const s = new TraceStream((_r, line) => lines.push(line), { maxLineLength: 30 });
        let pos = 0;
        let failed: unknown;
        try {
          for (let i = 0; pos < text.length; i++) {
            const n = cuts[i % cuts.length]!;
            s.push(text.slice(pos, pos + n));
            pos += n;
          }
          s.end();
        } catch (e) {
          failed = e;
        }
        if (len + 1 <= 30) expect(lines).toEqual([1, 2, 3]);
        else expect((failed as MemtraceLineTooLongError).line).toBe(2);
      }),
    );
  });
});
