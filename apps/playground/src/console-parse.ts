/**
 * The console's language: one call a line, optionally assigned to a name.
 *
 * ```
 *   line     := [name "="] call | name | "help" | ""
 *   call     := function "(" [arg ("," arg)*] ")"
 *   arg      := integer (decimal or 0x hex, "_" allowed between digits) | name | "NULL" | string
 *   string   := '"' hex digits, spaces allowed '"'         (the bytes of write())
 * ```
 *
 * Pure: no stack, no DOM. Every error names the column and the token it stopped at.
 */

/** The calls the console knows, with the kind of each argument. */
export const FUNCTIONS = {
  PyObject_Malloc: ["size"],
  PyObject_Calloc: ["size", "size"],
  PyObject_Realloc: ["pointer", "size"],
  PyObject_Free: ["pointer"],
  PyMem_Malloc: ["size"],
  PyMem_Calloc: ["size", "size"],
  PyMem_Realloc: ["pointer", "size"],
  PyMem_Free: ["pointer"],
  PyMem_RawMalloc: ["size"],
  PyMem_RawCalloc: ["size", "size"],
  PyMem_RawRealloc: ["pointer", "size"],
  PyMem_RawFree: ["pointer"],
  malloc: ["size"],
  calloc: ["size", "size"],
  realloc: ["pointer", "size"],
  free: ["pointer"],
  write: ["pointer", "size", "bytes"],
} as const satisfies Record<string, readonly ArgKind[]>;

/** What an argument must be: a byte count, a pointer (a name, an address or NULL), or bytes. */
export type ArgKind = "size" | "pointer" | "bytes";
/** A function name the console knows. */
export type FunctionName = keyof typeof FUNCTIONS;

/** A pointer argument: a variable's name or a literal address (NULL is address 0). */
export type PointerArg = { readonly kind: "name"; readonly name: string } | { readonly kind: "address"; readonly value: number };

/** One argument, parsed and checked against its kind. */
export type Arg = { readonly kind: "size"; readonly value: number } | PointerArg | { readonly kind: "bytes"; readonly bytes: Uint8Array };

/** A parsed console line. */
export type Command =
  | { readonly kind: "empty" }
  | { readonly kind: "help" }
  | { readonly kind: "show"; readonly name: string }
  | { readonly kind: "call"; readonly assign: string | undefined; readonly fn: FunctionName; readonly args: readonly Arg[] };

/** A line that does not parse: the 1-based column and the token where parsing stopped. */
export class ConsoleSyntaxError extends Error {
  override readonly name = "ConsoleSyntaxError";
  /** 1-based column of the offending token. */
  readonly column: number;
  /** The offending token ("end of line" at the end). */
  readonly token: string;

  /** Creates the error for `token` at `column`. */
  constructor(reason: string, column: number, token: string) {
    super(`column ${column}, at ${token === "" ? "the end of the line" : `'${token}'`}: ${reason}`);
    this.column = column;
    this.token = token;
  }
}

type Token =
  | { readonly t: "ident"; readonly v: string; readonly at: number }
  | { readonly t: "int"; readonly v: number; readonly text: string; readonly at: number }
  | { readonly t: "string"; readonly v: string; readonly at: number }
  | { readonly t: "punct"; readonly v: "(" | ")" | "," | "="; readonly at: number }
  | { readonly t: "end"; readonly at: number };

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const INT = /(?:0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|[0-9](?:_?[0-9])*)(?![A-Za-z0-9_])/y;

/** Splits a line into tokens. */
function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    if (c === "#") break; // a comment to the end of the line
    if (c === "(" || c === ")" || c === "," || c === "=") {
      out.push({ t: "punct", v: c, at: i });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const close = line.indexOf(c, i + 1);
      if (close < 0) throw new ConsoleSyntaxError("the string is not closed", i + 1, line.slice(i));
      out.push({ t: "string", v: line.slice(i + 1, close), at: i });
      i = close + 1;
      continue;
    }
    INT.lastIndex = i;
    const int = INT.exec(line);
    if (int) {
      const text = int[0].replace(/_/g, "");
      const v = Number(text);
      if (!Number.isSafeInteger(v)) throw new ConsoleSyntaxError("the number is above 2^53 - 1", i + 1, int[0]);
      out.push({ t: "int", v, text: int[0], at: i });
      i += int[0].length;
      continue;
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(line);
    if (id) {
      out.push({ t: "ident", v: id[0], at: i });
      i += id[0].length;
      continue;
    }
    const bad = /^[^\s(),=]+/.exec(line.slice(i))?.[0] ?? c;
    throw new ConsoleSyntaxError("unexpected character", i + 1, bad);
  }
  out.push({ t: "end", at: line.length });
  return out;
}

function tokenText(tok: Token): string {
  switch (tok.t) {
    case "end":
      return "";
    case "int":
      return tok.text;
    case "string":
      return `"${tok.v}"`;
    default:
      return tok.v;
  }
}

/** Parses the hex digits of a `write()` string into bytes. */
export function parseHexBytes(text: string, column: number): Uint8Array {
  const digits = text.replace(/\s+/g, "").replace(/^0[xX]/, "");
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad) throw new ConsoleSyntaxError(`'${bad[0]}' is not a hex digit (write() takes bytes as hex, e.g. "deadbeef")`, column, `"${text}"`);
  if (digits.length === 0) throw new ConsoleSyntaxError("no bytes to write", column, `"${text}"`);
  if (digits.length % 2 !== 0) throw new ConsoleSyntaxError("an odd number of hex digits (two a byte)", column, `"${text}"`);
  const bytes = new Uint8Array(digits.length / 2);
  for (let k = 0; k < bytes.length; k++) bytes[k] = parseInt(digits.slice(2 * k, 2 * k + 2), 16);
  return bytes;
}

/** Parses one console line. @throws {@link ConsoleSyntaxError} */
export function parseLine(line: string): Command {
  const toks = tokenize(line);
  let pos = 0;
  const peek = (): Token => toks[pos]!;
  const next = (): Token => toks[pos++]!;
  const fail = (reason: string, tok: Token = peek()): never => {
    throw new ConsoleSyntaxError(reason, tok.at + 1, tokenText(tok));
  };
  const expect = (v: "(" | ")" | "," | "=", reason: string): void => {
    const tok = next();
    if (tok.t !== "punct" || tok.v !== v) fail(reason, tok);
  };

  const first = peek();
  if (first.t === "end") return { kind: "empty" };
  if (first.t !== "ident") return fail("a line starts with a call or a name");
  let assign: string | undefined;
  const second = toks[1]!;
  if (second.t === "punct" && second.v === "=") {
    assign = first.v;
    if (assign in FUNCTIONS) fail(`'${assign}' is a function name, not a variable`, first);
    pos = 2;
  } else if (second.t === "end") {
    if (first.v === "help") return { kind: "help" };
    if (first.v in FUNCTIONS) fail(`${first.v} is a function: call it with (...)`, second);
    return { kind: "show", name: first.v };
  }
  const fnTok = next();
  if (fnTok.t !== "ident") return fail("expected a function name", fnTok);
  if (!Object.hasOwn(FUNCTIONS, fnTok.v)) fail(`unknown function (one of: ${Object.keys(FUNCTIONS).join(", ")})`, fnTok);
  const fn = fnTok.v as FunctionName;
  const kinds: readonly ArgKind[] = FUNCTIONS[fn];
  expect("(", `expected '(' after ${fn}`);
  const args: Arg[] = [];
  const close = peek();
  if (!(close.t === "punct" && close.v === ")")) {
    for (;;) {
      const tok = next();
      const kind = kinds[args.length];
      if (kind === undefined) fail(`${fn} takes ${kinds.length} argument${kinds.length === 1 ? "" : "s"}`, tok);
      args.push(argument(tok, kind!, fn, fail));
      const sep = peek();
      if (sep.t === "punct" && sep.v === ",") {
        pos++;
        continue;
      }
      break;
    }
  }
  expect(")", `expected ',' or ')' in the arguments of ${fn}`);
  if (peek().t !== "end") fail("unexpected text after the call");
  if (args.length !== kinds.length) {
    fail(`${fn} takes ${kinds.length} argument${kinds.length === 1 ? "" : "s"} (${kinds.join(", ")}), got ${args.length}`, toks[pos - 1]);
  }
  if (fn === "write" && assign !== undefined) fail("write() returns nothing to assign", first);
  return { kind: "call", assign, fn, args };
}

/** Checks one argument token against the kind the function expects there. */
function argument(tok: Token, kind: ArgKind, fn: string, fail: (reason: string, tok: Token) => never): Arg {
  switch (kind) {
    case "size":
      if (tok.t !== "int") return fail(`${fn} expects a size in bytes here (a non-negative integer)`, tok);
      return { kind: "size", value: tok.v };
    case "pointer":
      if (tok.t === "int") return { kind: "address", value: tok.v };
      if (tok.t === "ident") return tok.v === "NULL" ? { kind: "address", value: 0 } : { kind: "name", name: tok.v };
      return fail(`${fn} expects a pointer here (a name, an address or NULL)`, tok);
    case "bytes":
      if (tok.t !== "string") return fail(`${fn} expects the bytes as a hex string here, e.g. "deadbeef"`, tok);
      return { kind: "bytes", bytes: parseHexBytes(tok.v, tok.at + 1) };
  }
}
