import { describe, expect, it } from "vitest";
import { MemtraceSyntaxError, TraceStream, forEachRecord, parseTrace, readEvents, type MemtraceEvent } from "../src/index.js";

const TRACE = [
  "# memtrace v1",
  "# heap-start 0x55d0c3a2e000",
  "m obj 78 0x7f3a10e8a030",
  "A 1048576 0x7f3a10e00000",
  "r mem 0x7f3a10e8a030 600 0x55d0c3a2e2a0",
  "f mem 0x55d0c3a2e2a0",
  "",
].join("\n");

function collect(chunks: string[]): { events: MemtraceEvent[]; lines: number[] } {
  const events: MemtraceEvent[] = [];
  const lines: number[] = [];
  const s = new TraceStream((r, line) => {
    events.push(r.toEvent());
    lines.push(line);
  });
  for (const c of chunks) s.push(c);
  s.end();
  return { events, lines };
}

describe("TraceStream", () => {
  it("gives the same events whatever the chunk boundaries", () => {
    const whole = collect([TRACE]);
    expect(whole.events).toHaveLength(6);
    expect(whole.lines).toEqual([1, 2, 3, 4, 5, 6]);
    for (let cut = 0; cut <= TRACE.length; cut++) {
      expect(collect([TRACE.slice(0, cut), TRACE.slice(cut)])).toEqual(whole);
    }
    expect(collect(TRACE.split(""))).toEqual(whole);
  });

  it("reads a last line without newline and CRLF line ends", () => {
    const { events } = collect(["# memtrace v1\r\nf raw 0x10\r\nf obj 0x20"]);
    expect(events.slice(1)).toEqual([
      { kind: "free", domain: "raw", ptr: 16 },
      { kind: "free", domain: "obj", ptr: 32 },
    ]);
  });

  it("counts lines across chunks in its errors", () => {
    const s = new TraceStream(() => {});
    s.push("# memtrace v1\nm obj 16 0x10\nm o");
    expect(() => s.push("bj 16\n")).toThrow("memtrace: line 3: malloc needs 2 fields after the domain, got 1");
  });

  it("requires the header unless told not to", () => {
    expect(() => parseTrace("m obj 16 0x10\n")).toThrow('memtrace: line 1: expected the header "# memtrace v1", got "m obj 16 0x10"');
    expect(() => parseTrace("")).toThrow(MemtraceSyntaxError);
    expect(() => parseTrace("")).toThrow('memtrace: line 1: empty trace (expected the header "# memtrace v1")');
    expect(parseTrace("m obj 16 0x10\n", { requireHeader: false })).toEqual([{ kind: "malloc", domain: "obj", size: 16, result: 16 }]);
  });

  it("reports the number of lines read", () => {
    const s = new TraceStream(() => {});
    s.push(TRACE);
    s.end();
    expect(s.lines).toBe(6);
  });
});

describe("async readers", () => {
  async function* chunks(): AsyncGenerator<string> {
    await Promise.resolve();
    yield TRACE.slice(0, 20);
    yield TRACE.slice(20, 50);
    yield TRACE.slice(50);
  }

  it("forEachRecord visits every line and resolves to the line count", async () => {
    const kinds: string[] = [];
    const n = await forEachRecord(chunks(), (r) => kinds.push(r.kind));
    expect(n).toBe(6);
    expect(kinds).toEqual(["comment", "heap-start", "malloc", "arena-alloc", "realloc", "free"]);
  });

  it("readEvents yields the same events as parseTrace", async () => {
    const out: MemtraceEvent[] = [];
    for await (const e of readEvents(chunks())) out.push(e);
    expect(out).toEqual(parseTrace(TRACE));
  });

  it("readEvents rejects with the line of a malformed line", async () => {
    const bad = async function* () {
      await Promise.resolve();
      yield "# memtrace v1\nm obj 16 0x10\n";
      yield "q\n";
    };
    await expect(async () => {
      for await (const _ of readEvents(bad())) void _;
    }).rejects.toThrow("memtrace: line 3: unknown event");
  });
});
