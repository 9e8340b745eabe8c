import { describe, expect, it } from "vitest";
import type { TraceRecord} from "../src/index.js";
import { formatEvent, MemtraceSyntaxError, parseLine, parseTrace, TraceStream } from "../src/index.js";

describe("thread and CPU records", () => {
  it("reads t, n, x and # cpus lines into typed events and writes them back", () => {
    const lines = ["# cpus 2", "n 2", "t 2", "m libc 600 0x7ffff0000b70", "t 1", "x 2"];
    const events = parseTrace(`# memtrace v1\n${lines.join("\n")}\n`).slice(1);
    expect(events).toEqual([
      { kind: "cpus", count: 2 },
      { kind: "thread-start", thread: 2 },
      { kind: "thread", thread: 2 },
      { kind: "malloc", domain: "libc", size: 600, result: 0x7ffff0000b70 },
      { kind: "thread", thread: 1 },
      { kind: "thread-exit", thread: 2 },
    ]);
    expect(events.map(formatEvent)).toEqual(lines);
  });

  it("streams them into the reused record", () => {
    const seen: string[] = [];
    const stream = new TraceStream((r: TraceRecord) => seen.push(`${r.kind}:${r.kind === "cpus" ? r.count : r.thread}`));
    stream.push("# memtrace v1\n# cpus 16\nt 3\nx 3\n");
    stream.end();
    expect(seen).toEqual(["comment:1", "cpus:16", "thread:3", "thread-exit:3"]);
  });

  it.each([
    ["t", "thread (t) needs 1 fields, got 0"],
    ["t 1 2", "thread (t) needs 1 fields, got 2"],
    ["t 0", "thread number must be at least 1"],
    ["n 0x2", 'thread-start number "0x2" is not a decimal number'],
    ["x -1", 'thread-exit number "-1" is not a decimal number'],
    ["# cpus 0", "cpus count must be at least 1"],
    ["# cpus two", 'cpus count "two" is not a decimal number'],
  ])("refuses %j: %s", (line, reason) => {
    expect(() => parseLine(line, 4)).toThrow(MemtraceSyntaxError);
    expect(() => parseLine(line, 4)).toThrow(`memtrace: line 4: ${reason}`);
  });

  it("keeps '# cpus' without a space after it a plain comment", () => {
    expect(parseLine("# cpusN")).toEqual({ kind: "comment", text: " cpusN" });
  });
});
