import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemtraceSyntaxError, TraceStream, escapeFilename, formatEvent, formatTrace, parseLine, parseTrace, type MemtraceEvent } from "../src/index.js";

const TRACE = [
  "# memtrace v1",
  "#F 1 3 /tmp/my app.py",
  "#F 2 10 <frozen importlib._bootstrap>",
  "#T 1 2 1 2",
  "#S 1",
  "m obj 32 0x1000",
  "c mem 2 16 0x2000",
  "#F 3 0 <unknown>",
  "#T 2 1 3",
  "#S 2",
  "m raw 600 0x3000",
  "f obj 0x1000",
  "",
].join("\n");

describe("source-location records (#F, #T, #S)", () => {
  it("parse into typed events and format back to the same text", () => {
    const events = parseTrace(TRACE);
    expect(events[1]).toEqual({ kind: "frame", id: 1, lineno: 3, filename: "/tmp/my app.py" });
    expect(events[3]).toEqual({ kind: "traceback", id: 1, total: 2, frames: [1, 2] });
    expect(events[4]).toEqual({ kind: "stack", traceback: 1 });
    expect(`# memtrace v1\n${formatTrace(events.slice(1))}`).toBe(TRACE);
  });

  it("the stream keeps the table: which traceback each allocation was made at", () => {
    const seen: string[] = [];
    const stream: TraceStream = new TraceStream((r) => {
      if (r.kind === "malloc" || r.kind === "calloc") {
        const frames = stream.stacks.resolve(stream.stacks.current)!;
        seen.push(`${r.kind} ${frames.map((f) => `${f.filename}:${f.lineno}`).join(" < ")}`);
      }
    });
    stream.push(TRACE);
    stream.end();
    expect(seen).toEqual([
      "malloc /tmp/my app.py:3 < <frozen importlib._bootstrap>:10",
      "calloc /tmp/my app.py:3 < <frozen importlib._bootstrap>:10",
      "malloc <unknown>:0",
    ]);
    expect(stream.stacks.frames).toBe(3);
    expect(stream.stacks.tracebacks).toBe(2);
  });

  it("are comments to a reader that does not know them (the text starts with #)", () => {
    for (const line of TRACE.split("\n").filter((l) => l.startsWith("#"))) expect(line.charAt(0)).toBe("#");
    // an old trace (no stack records) still reads, and ordinary comments stay comments
    expect(parseLine("# F 1 2 x")).toEqual({ kind: "comment", text: " F 1 2 x" });
    expect(parseLine("#Files")).toEqual({ kind: "comment", text: "Files" });
  });

  it("escape file names: backslash, control characters and lone surrogates", () => {
    const name = "a\\b\nc\rd\te\u0001f \u00e9\ud800\ud83d\ude00";
    const line = formatEvent({ kind: "frame", id: 7, lineno: 1, filename: name });
    expect(line).toBe("#F 7 1 a\\\\b\\nc\\rd\\te\\x01f \u00e9\\ud800\ud83d\ude00");
    expect(parseLine(line)).toEqual({ kind: "frame", id: 7, lineno: 1, filename: name });
    expect(escapeFilename("plain name.py")).toBe("plain name.py");
    expect(parseLine("#F 1 2 \\x41\\u0042")).toEqual({ kind: "frame", id: 1, lineno: 2, filename: "AB" });
  });

  it("round-trips any frame, traceback and stack record", () => {
    const id = fc.nat({ max: 2 ** 31 });
    const rec: fc.Arbitrary<MemtraceEvent> = fc.oneof(
      fc.record({ kind: fc.constant("frame" as const), id, lineno: fc.nat(), filename: fc.string({ unit: "binary", maxLength: 40 }) }),
      fc
        .array(id, { minLength: 1, maxLength: 8 })
        .chain((frames) => fc.record({ kind: fc.constant("traceback" as const), id, total: fc.integer({ min: frames.length, max: 65535 }), frames: fc.constant(frames) })),
      fc.record({ kind: fc.constant("stack" as const), traceback: id }),
    );
    fc.assert(
      fc.property(rec, (e) => {
        expect(parseLine(formatEvent(e))).toEqual(e);
      }),
      { numRuns: 1000 },
    );
  });

  it("#R: a live block gets the traceback in force", () => {
    const events = parseTrace("# memtrace v1\n#F 1 2 a.py\n#T 1 1 1\n#S 1\n#R 0x7f00a0\n");
    expect(events[4]).toEqual({ kind: "retrace", ptr: 0x7f00a0 });
    expect(formatEvent(events[4]!)).toBe("#R 0x7f00a0");
    expect(() => parseTrace("# memtrace v1\n#R 0x10\n")).toThrow("memtrace: line 2: retrace (#R) comes before any #S line");
    expect(() => parseLine("#R 16")).toThrow('retrace (#R) ptr "16" is not a hex pointer');
    expect(() => parseLine("#R 0x10 0x20")).toThrow("retrace (#R) needs 1 field");
  });

  const bad: [string, string][] = [
    ["#S", "(a comment)"],
    ["#S x", 'line 2: stack (#S) traceback id "x" is not a decimal number'],
    ["#S 1 2", "line 2: stack (#S) needs 1 field, the traceback id, got more"],
    ["#F 1", "line 2: frame (#F) needs an id, a line number and a file name"],
    ["#F 1 2", "line 2: frame (#F) needs a file name after the line number"],
    ["#F 1 -2 a.py", 'line 2: frame (#F) line number "-2" is not a decimal number'],
    ["#F 1 2 a\\", "line 2: a frame's file name ends with a lone backslash"],
    ["#F 1 2 a\\q", "line 2: bad escape \\q in a frame's file name"],
    ["#F 1 2 a\\x4", "line 2: bad escape in a frame's file name: \\x needs 2 hex digits"],
    ["#T 1 1", "line 2: traceback (#T) needs at least one frame id after the total"],
    ["#T 1 1 2 3", "line 2: traceback (#T) total 1 is less than its 2 frames"],
    ["#T 1 2  3", "line 2: traceback (#T) frame id 1 is missing"],
  ];
  it.each(bad)("refuses %j with the line number", (line, message) => {
    const text = `# memtrace v1\n${line}\n`;
    if (line === "#S") {
      // "#S" alone is not a stack record (no space after the letter): a comment
      expect(parseTrace(text)[1]).toEqual({ kind: "comment", text: "S" });
      return;
    }
    expect(() => parseTrace(text)).toThrow(MemtraceSyntaxError);
    expect(() => parseTrace(text)).toThrow(message);
  });

  it("refuses unknown ids, ids defined twice and records after the line that uses them", () => {
    const cases: [string, string][] = [
      ["#S 4\nm obj 1 0x10\n", "memtrace: line 2: stack (#S) refers to traceback 4, which no #T line before it defines"],
      ["#T 1 1 9\n", "memtrace: line 2: traceback (#T) 1 refers to frame 9, which no #F line before it defines"],
      ["#F 1 1 a\n#F 1 2 b\n", "memtrace: line 3: frame (#F) 1 is defined twice"],
      ["#F 1 1 a\n#T 1 1 1\n#T 1 1 1\n", "memtrace: line 4: traceback (#T) 1 is defined twice"],
      ["#F 1 1 a\n#S 1\n#T 1 1 1\n", "memtrace: line 3: stack (#S) refers to traceback 1, which no #T line before it defines"],
      ["#T 1 1 1\n#F 1 1 a\n", "memtrace: line 2: traceback (#T) 1 refers to frame 1, which no #F line before it defines"],
    ];
    for (const [body, message] of cases) expect(() => parseTrace(`# memtrace v1\n${body}`)).toThrow(message);
  });
});
