import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConsoleSyntaxError, FUNCTIONS, parseHexBytes, parseLine } from "../src/console-parse.js";

function syntaxError(line: string): ConsoleSyntaxError {
  try {
    parseLine(line);
  } catch (error) {
    if (error instanceof ConsoleSyntaxError) return error;
    throw error;
  }
  throw new Error(`'${line}' parsed`);
}

describe("parseLine", () => {
  it("parses an assigned call", () => {
    expect(parseLine("p = PyObject_Malloc(78)")).toEqual({ kind: "call", assign: "p", fn: "PyObject_Malloc", args: [{ kind: "size", value: 78 }] });
  });
  it("parses a free of a name, an address and NULL", () => {
    expect(parseLine("free(q)")).toEqual({ kind: "call", assign: undefined, fn: "free", args: [{ kind: "name", name: "q" }] });
    expect(parseLine("free(0x55_55)")).toEqual({ kind: "call", assign: undefined, fn: "free", args: [{ kind: "address", value: 0x5555 }] });
    expect(parseLine("PyObject_Free(NULL)").kind).toBe("call");
    expect((parseLine("PyObject_Free(NULL)") as unknown as { args: unknown[] }).args[0]).toEqual({ kind: "address", value: 0 });
  });
  it("parses calloc, realloc and write with hex bytes", () => {
    expect(parseLine("c = calloc(10, 8)")).toMatchObject({ fn: "calloc", args: [{ value: 10 }, { value: 8 }] });
    expect(parseLine("q = realloc(q, 2000)")).toMatchObject({ assign: "q", fn: "realloc", args: [{ name: "q" }, { value: 2000 }] });
    const w = parseLine('write(p, 78, "41 42 ff")');
    expect(w).toMatchObject({ fn: "write", args: [{ name: "p" }, { value: 78 }, { kind: "bytes" }] });
    expect(Array.from((w as unknown as { args: { bytes: Uint8Array }[] }).args[2]!.bytes)).toEqual([0x41, 0x42, 0xff]);
  });
  it("parses empty lines, comments, help and a bare name", () => {
    expect(parseLine("   ")).toEqual({ kind: "empty" });
    expect(parseLine("# nothing")).toEqual({ kind: "empty" });
    expect(parseLine("help")).toEqual({ kind: "help" });
    expect(parseLine("p")).toEqual({ kind: "show", name: "p" });
    expect(parseLine("malloc(1) # a comment")).toMatchObject({ fn: "malloc" });
  });
  it("names the column and token of an unknown function", () => {
    const e = syntaxError("p = mallok(3)");
    expect(e.column).toBe(5);
    expect(e.token).toBe("mallok");
    expect(e.message).toMatch(/^column 5, at 'mallok': unknown function/);
  });
  it("rejects wrong arity, wrong argument kinds, junk and unclosed calls", () => {
    expect(syntaxError("malloc(1, 2)").token).toBe("2");
    expect(syntaxError("calloc(1)").message).toMatch(/takes 2 arguments/);
    expect(syntaxError("malloc(p)").message).toMatch(/expects a size/);
    expect(syntaxError('free("00")').message).toMatch(/expects a pointer/);
    expect(syntaxError("malloc(-1)").token).toBe("-1");
    expect(syntaxError("malloc(1").token).toBe("");
    expect(syntaxError("malloc(1) x").token).toBe("x");
    expect(syntaxError("malloc(12ab)").token).toBe("12ab");
    expect(syntaxError('write(p, 0, "abc")').message).toMatch(/odd number/);
    expect(syntaxError('write(p, 0, "zz")').message).toMatch(/'z' is not a hex digit/);
    expect(syntaxError('write(p, 0, "00').message).toMatch(/not closed/);
    expect(syntaxError("malloc = malloc(3)").message).toMatch(/function name/);
    expect(syntaxError("x = write(p, 0, \"00\")").message).toMatch(/returns nothing/);
    expect(syntaxError("malloc(99999999999999999999)").message).toMatch(/2\^53/);
    expect(syntaxError("free").message).toMatch(/is a function/);
  });
  it("parses every known function with well-formed arguments (property)", () => {
    const names = Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.array(fc.nat({ max: 1 << 30 }), { minLength: 3, maxLength: 3 }), fc.boolean(), (fn, nums, assigned) => {
        const kinds = FUNCTIONS[fn] as readonly string[];
        const args = kinds.map((k, i) => (k === "size" ? String(nums[i]) : k === "pointer" ? (i % 2 ? "0x10" : "p") : '"00ff"'));
        const lhs = assigned && fn !== "write" ? "v = " : "";
        const parsed = parseLine(`${lhs}${fn}(${args.join(", ")})`);
        expect(parsed.kind).toBe("call");
        if (parsed.kind === "call") {
          expect(parsed.fn).toBe(fn);
          expect(parsed.args).toHaveLength(kinds.length);
          expect(parsed.assign).toBe(lhs ? "v" : undefined);
        }
      }),
    );
  });
  it("never throws anything but ConsoleSyntaxError (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (line) => {
        try {
          parseLine(line);
        } catch (error) {
          expect(error).toBeInstanceOf(ConsoleSyntaxError);
          const e = error as ConsoleSyntaxError;
          expect(e.column).toBeGreaterThanOrEqual(1);
          expect(e.column).toBeLessThanOrEqual(line.length + 1);
        }
      }),
    );
  });
});

describe("parseHexBytes", () => {
  it("accepts spaces and a 0x prefix", () => {
    expect(Array.from(parseHexBytes("0xdead beef", 1))).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });
});
