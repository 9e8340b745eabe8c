import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FilenameTable } from "../src/filenames.js";
import { TraceRecord } from "../src/record.js";
import { parseStackLine, parseStackLineCarefully } from "../src/stack-line.js";
import { MemtraceSyntaxError, TraceStream, parseLine, type MemtraceEvent } from "../src/index.js";

/** The record or the error message a parse of `text` gives. */
function outcome(parse: (rec: TraceRecord) => void): MemtraceEvent | string {
  const rec = new TraceRecord();
  try {
    parse(rec);
    return rec.toEvent();
  } catch (error) {
    if (error instanceof MemtraceSyntaxError) return error.message;
    throw error;
  }
}

/** Stack record lines, mostly well-formed, often broken in one place. */
const stackLine = fc
  .tuple(
    fc.constantFrom("#F ", "#T ", "#S ", "#R "),
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom("0", "1", "7", "42", "9007199254740991", "9007199254740992", "123456789012345678") },
        { weight: 3, arbitrary: fc.constant(" ") },
        { weight: 2, arbitrary: fc.constantFrom("0x", "0x7f00a0", "0xABC", "0xg", "abc", "f") },
        { weight: 2, arbitrary: fc.constantFrom("a.py", "/tmp/my app.py", "<unknown>", "\\\\", "\\n", "\\x41", "\\u00e9", "\\x4", "\\q", "\\", "é", "-1", "\r") },
      ),
      { maxLength: 8 },
    ),
  )
  .map(([head, parts]) => head + parts.join(""));

describe("the stack records' fast path", () => {
  it("gives the careful path's record or error for any line (it can neither accept a bad line nor read a good one differently)", () => {
    fc.assert(
      fc.property(stackLine, (text) => {
        const names = new FilenameTable();
        const fast = outcome((rec) => parseStackLine(text, 0, text.length, 9, rec, names));
        const careful = outcome((rec) => parseStackLineCarefully(text, 0, text.length, 9, rec));
        expect(fast).toEqual(careful);
      }),
      { numRuns: 20000 },
    );
  });

  it("a stream reads every stack record as parseLine does, line numbers in its errors included", () => {
    fc.assert(
      fc.property(stackLine, (text) => {
        const alone = outcome((rec) => rec.assign(parseLine(text, 2)));
        let streamed: MemtraceEvent | string | undefined;
        const stream = new TraceStream((r, line) => {
          if (line === 2) streamed = r.toEvent();
        });
        try {
          stream.push(`# memtrace v1\n${text}\n`);
          stream.end();
        } catch (error) {
          streamed = (error as Error).message;
        }
        if (typeof streamed === "string" && typeof alone !== "string") {
          // a well-formed record the table refuses alone: an id no earlier line defines
          expect(streamed).toMatch(/^memtrace: line 2: (stack \(#S\) refers to traceback|traceback \(#T\) \d+ refers to frame|retrace \(#R\) comes before)/);
        } else expect(streamed).toEqual(alone);
      }),
      { numRuns: 5000 },
    );
  });

  it("CRLF line ends: a stack record read by the stream loses its \\r as any line does", () => {
    const events: MemtraceEvent[] = [];
    const stream = new TraceStream((r) => events.push(r.toEvent()));
    stream.push("# memtrace v1\r\n#F 1 2 a b.py\r\n#T 1 1 1\r\n#S 1\r\nm obj 16 0x10\r\n#R 0x10\r\n");
    stream.end();
    expect(events.slice(1)).toEqual([
      { kind: "frame", id: 1, lineno: 2, filename: "a b.py" },
      { kind: "traceback", id: 1, total: 1, frames: [1] },
      { kind: "stack", traceback: 1 },
      { kind: "malloc", domain: "obj", size: 16, result: 16 },
      { kind: "retrace", ptr: 16 },
    ]);
    expect(() => new TraceStream(() => undefined).push("# memtrace v1\r\n#S \r\n")).toThrow("memtrace: line 2: stack (#S) traceback id is missing");
  });
});

describe("FilenameTable", () => {
  it("gives one string per distinct name, unescaped, across growth", () => {
    const table = new FilenameTable();
    const names = Array.from({ length: 1000 }, (_, i) => `/usr/lib/python3.11/module_${i}.py`);
    const first = names.map((n) => table.intern(`#F 1 2 ${n}`, 7, 7 + n.length, 1));
    expect(first).toEqual(names);
    expect(table.size).toBe(1000);
    for (let i = 0; i < names.length; i++) {
      const src = `xx${names[i]}yy`;
      expect(table.intern(src, 2, 2 + names[i]!.length, 1)).toBe(first[i]);
    }
    expect(table.size).toBe(1000);
    expect(table.intern("a\\tb", 0, 4, 1)).toBe("a\tb");
    expect(table.intern("a\\x09b", 0, 6, 1)).toBe("a\tb"); // another text, the same name
    expect(table.size).toBe(1002);
  });

  it("tells apart names that differ only far from their end (the same hash)", () => {
    const table = new FilenameTable();
    const names = Array.from({ length: 300 }, (_, i) => `/p${String(i).padStart(3, "0")}/site-packages/pkg/__init__.py`);
    const got = names.map((n) => table.intern(n, 0, n.length, 1));
    expect(got).toEqual(names);
    expect(names.map((n) => table.intern(`#F 1 1 ${n}`, 7, 7 + n.length, 1))).toEqual(names);
    expect(table.size).toBe(300);
  });

  it("refuses a bad escape with the line number, and not once only", () => {
    const table = new FilenameTable();
    expect(() => table.intern("a\\q", 0, 3, 12)).toThrow("memtrace: line 12: bad escape \\q in a frame's file name");
    expect(() => table.intern("a\\q", 0, 3, 13)).toThrow("memtrace: line 13: bad escape \\q");
    expect(table.size).toBe(0);
  });
});

describe("StackTable ids", () => {
  it("any id up to 2^53-1 works, sparse or huge", () => {
    const stream = new TraceStream(() => undefined);
    stream.push("# memtrace v1\n#F 4294967296 3 a.py\n#F 5 4 b.py\n#T 9007199254740991 7 5 4294967296\n#S 9007199254740991\n");
    stream.end();
    expect(stream.stacks.resolve(9007199254740991)).toEqual([
      { filename: "b.py", lineno: 4 },
      { filename: "a.py", lineno: 3 },
    ]);
    expect(stream.stacks.traceback(9007199254740991)).toEqual({ total: 7, frames: [5, 4294967296] });
    expect(stream.stacks.frame(6)).toBeUndefined();
    expect(stream.stacks.traceback(1)).toBeUndefined();
    expect(stream.stacks.frame(5)).toBe(stream.stacks.frame(5));
    expect([stream.stacks.frames, stream.stacks.tracebacks, stream.stacks.current]).toEqual([2, 1, 9007199254740991]);
  });
});
