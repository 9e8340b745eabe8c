/**
 * The C call sites of a `record --libc --frames N` trace, symbolised after the run.
 *
 * The shim (apps/demo/native/libc_stacks.h) writes raw return addresses as frames
 * (`#F 7 0 0x7f1c2a4bc9aa`) and, before them, the executable mappings of the process
 * (`# map <start>-<end> <offset> <path>`). Here each address becomes
 *
 *   address --maps--> object + file offset --ELF program headers--> link-time address
 *           --addr2line--> file:line (debug information: `#F 7 12 /src/prog.c`)
 *           --nm (or nm -D)--> function+0xoff (`#F 7 0 xmalloc+0x1a (sort)`)
 *
 * and an address no mapping covers stays as it is. The line of a call is looked up at the
 * return address minus one (inside the call instruction); the function's offset is that of
 * the return address, as glibc's backtrace_symbols prints it.
 */
import { execFileSync } from "node:child_process";
import { closeSync, createReadStream, openSync, readSync, renameSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import { escapeFilename } from "@mem/memtrace";

/** An executable mapping of the recorded process (`# map` line). */
export interface Mapping {
  readonly start: number;
  readonly end: number;
  readonly offset: number;
  readonly path: string;
}

/** What {@link symbolizeTrace} did. */
export interface SymbolizeSummary {
  /** Address frames in the trace. */
  readonly frames: number;
  /** Frames given a source file and line. */
  readonly lines: number;
  /** Frames given a function name (and no line). */
  readonly functions: number;
}

const MAP = /^# map 0x([0-9a-f]+)-0x([0-9a-f]+) 0x([0-9a-f]+) (.+)$/;
const ADDRESS_FRAME = /^#F (\d+) 0 0x([0-9a-f]+)$/;

/** A frame read from the trace: its id, its address and the mapping covering it. */
interface RawFrame {
  readonly id: number;
  readonly address: number;
  readonly map: Mapping | undefined;
}

/** Parses a `# map` line; undefined for another line. */
export function parseMapLine(text: string): Mapping | undefined {
  const m = MAP.exec(text);
  if (!m) return undefined;
  return { start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), offset: parseInt(m[3]!, 16), path: m[4]! };
}

/** A PT_LOAD segment of an ELF file: file offset, size in the file, link-time address. */
interface Segment {
  readonly offset: number;
  readonly size: number;
  readonly vaddr: number;
}

/** The PT_LOAD segments of a 64-bit little-endian ELF file (empty when it is not one). */
export function loadSegments(path: string): Segment[] {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return [];
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    const out: Segment[] = [];
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (table.readUInt32LE(at) !== 1) continue; // PT_LOAD
      out.push({ offset: Number(table.readBigUInt64LE(at + 8)), vaddr: Number(table.readBigUInt64LE(at + 16)), size: Number(table.readBigUInt64LE(at + 32)) });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The link-time address of a run-time address inside `map`, or undefined when no segment holds it. */
export function linkAddress(address: number, map: Mapping, segments: readonly Segment[]): number | undefined {
  const fileOffset = address - map.start + map.offset;
  const seg = segments.find((s) => fileOffset >= s.offset && fileOffset < s.offset + s.size);
  return seg === undefined ? undefined : fileOffset - seg.offset + seg.vaddr;
}

/** A function symbol of an object (`nm -S`): start, size (0: unknown), name. */
export interface FunctionSymbol {
  readonly start: number;
  readonly size: number;
  readonly name: string;
}

function tool(name: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(name, args, { encoding: "utf8", maxBuffer: 1 << 28, stdio: ["pipe", "pipe", "ignore"], ...(input === undefined ? {} : { input }) });
  } catch {
    return "";
  }
}

/** The function symbols of an object, sorted: its symbol table, else its dynamic symbols. */
function functionSymbols(path: string): FunctionSymbol[] {
  const parse = (text: string): FunctionSymbol[] => {
    const out: FunctionSymbol[] = [];
    for (const line of text.split("\n")) {
      // "0000000000012340 000000000000001a T xmalloc" (size absent for some symbols)
      const m = /^([0-9a-f]+) (?:([0-9a-f]+) )?([TtWwi]) (\S+)/.exec(line);
      if (m) out.push({ start: parseInt(m[1]!, 16), size: m[2] === undefined ? 0 : parseInt(m[2], 16), name: m[4]!.replace(/@.*$/, "") });
    }
    return out.sort((a, b) => a.start - b.start);
  };
  const own = parse(tool("nm", ["--defined-only", "-S", path]));
  return own.length > 0 ? own : parse(tool("nm", ["-D", "--defined-only", "-S", path]));
}

/**
 * The symbol holding `address` in `symbols` (sorted by start): the last one starting at or
 * below it, provided its size (when known) reaches it; among aliases at the same start, one
 * whose size reaches it. Binary search.
 */
export function symbolAt(symbols: readonly FunctionSymbol[], address: number): FunctionSymbol | undefined {
  let lo = 0;
  let hi = symbols.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (symbols[mid]!.start <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // among symbols at the same start (aliases), prefer one whose size covers the address
  for (let i = found; i >= 0 && symbols[i]!.start === symbols[found]!.start; i--) {
    const s = symbols[i]!;
    if (s.size === 0 || address < s.start + s.size) return s;
  }
  return undefined;
}

/** `file:line` lines of addr2line for link-time addresses (one per address; `??:0` unknown). */
function sourceLines(path: string, addresses: readonly number[]): (readonly [string, number] | undefined)[] {
  const text = tool("addr2line", ["-e", path], addresses.map((a) => a.toString(16)).join("\n") + "\n");
  const lines = text.split("\n");
  return addresses.map((_, i) => {
    const m = /^(.*):(\d+)(?: \(discriminator \d+\))?$/.exec(lines[i] ?? "");
    if (!m || m[1] === "??" || m[2] === "0") return undefined;
    return [m[1]!, Number(m[2])] as const;
  });
}

/** The new text of each frame (`#F` line without the id), by frame id. */
function resolveFrames(frames: readonly RawFrame[]): { text: Map<number, string>; lines: number; functions: number } {
  const text = new Map<number, string>();
  let lines = 0;
  let functions = 0;
  const byObject = new Map<string, { frame: RawFrame; link: number }[]>();
  for (const f of frames) {
    if (f.map === undefined) continue;
    let segments: Segment[];
    try {
      segments = loadSegments(f.map.path);
    } catch {
      continue; // the object is gone or unreadable: the address stays
    }
    const link = linkAddress(f.address, f.map, segments);
    if (link === undefined) continue;
    const list = byObject.get(f.map.path) ?? [];
    list.push({ frame: f, link });
    byObject.set(f.map.path, list);
  }
  for (const [path, list] of byObject) {
    const name = basename(path);
    const where = sourceLines(path, list.map((e) => Math.max(0, e.link - 1)));
    const symbols = functionSymbols(path);
    list.forEach((e, i) => {
      const line = where[i];
      if (line !== undefined) {
        text.set(e.frame.id, `${line[1]} ${escapeFilename(line[0])}`);
        lines++;
        return;
      }
      const s = symbolAt(symbols, e.link - 1);
      if (s !== undefined) {
        text.set(e.frame.id, `0 ${escapeFilename(`${s.name}+0x${(e.link - s.start).toString(16)} (${name})`)}`);
        functions++;
      } else {
        text.set(e.frame.id, `0 ${escapeFilename(`0x${e.link.toString(16)} (${name})`)}`);
      }
    });
  }
  return { text, lines, functions };
}

async function* lines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

/**
 * Rewrites the address frames of the trace at `path` (an uncompressed file) in place:
 * `file:line` where the object has debug information, else `function+0xoff (object)`,
 * else `0xlinkaddress (object)`; an address outside every recorded mapping stays.
 */
export async function symbolizeTrace(path: string): Promise<SymbolizeSummary> {
  const maps: Mapping[] = [];
  const frames: RawFrame[] = [];
  for await (const line of lines(path)) {
    if (line.startsWith("# map ")) {
      const m = parseMapLine(line);
      if (m) maps.push(m);
    } else if (line.startsWith("#F ")) {
      const f = ADDRESS_FRAME.exec(line);
      if (!f) continue;
      const address = parseInt(f[2]!, 16);
      // the latest mapping written before the frame that covers it
      let map: Mapping | undefined;
      for (let i = maps.length - 1; i >= 0; i--) {
        const m = maps[i]!;
        if (address >= m.start && address < m.end) {
          map = m;
          break;
        }
      }
      frames.push({ id: Number(f[1]), address, map });
    }
  }
  if (frames.length === 0) return { frames: 0, lines: 0, functions: 0 };
  const { text, lines: withLines, functions } = resolveFrames(frames);
  const tmp = `${path}.symbols`;
  const fd = openSync(tmp, "w");
  try {
    let pending = "";
    for await (const line of lines(path)) {
      let out = line;
      if (line.startsWith("#F ")) {
        const f = ADDRESS_FRAME.exec(line);
        const replaced = f ? text.get(Number(f[1])) : undefined;
        if (replaced !== undefined) out = `#F ${f![1]} ${replaced}`;
      }
      pending += out + "\n";
      if (pending.length > 1 << 16) {
        writeSync(fd, pending);
        pending = "";
      }
    }
    writeSync(fd, pending);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return { frames: frames.length, lines: withLines, functions };
}
