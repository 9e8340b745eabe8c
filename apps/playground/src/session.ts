/**
 * The console's interpreter: runs parsed calls on a stack of its own and tells what each
 * tier did. No DOM: the page renders its {@link Outcome}s.
 *
 *   "q = malloc(600)" ─► parseLine ─► ConsoleSession.run ─► stack.libc (observed) ─► Outcome
 *                                                           calls, lit road, result, or the
 *                                                           error as glibc / CPython print it
 *
 * Names keep their pointer after a free, as C variables do, so `free(q)` twice is the real
 * double free. A line that does not parse, a name never assigned, an abort of glibc or a fatal error of
 * CPython leaves the variables as they were (the tiers themselves keep their state at an
 * abort, as the real allocators do at the moment they detect the corruption).
 */
import { createStack, CallLog, observeArenas, observeLibc, observeSyscalls, ptr, type CallRecord, type CPythonStack } from "mem-demo/browser";
import type { CAllocator } from "@mem/libc-malloc";
import { PAGE_SIZE, residentAnonPages, VirtualMemory } from "@mem/os-vm";
import { ConsoleSyntaxError, FUNCTIONS, parseLine, type Arg, type Command, type FunctionName } from "./console-parse.js";
import { pathOf, type Entry, type Path } from "./path.js";
import type { PlaygroundOptions } from "./walk-states.js";

/** A name the console assigned: the pointer and the call that returned it. */
export interface Variable {
  /** The name. */
  readonly name: string;
  /** Its value. */
  readonly pointer: number;
  /** Where the block came from. */
  readonly entry: Entry;
  /** The bytes asked for. */
  readonly size: number;
  /** Whether it was passed to a free since: the name still holds the dangling pointer, as a C variable does. */
  readonly freed: boolean;
}

/** What one line did. */
export interface Outcome {
  /** The line as typed. */
  readonly line: string;
  /** ok: the call returned; error: it did not parse or named an unknown pointer (nothing ran); crash: the simulated program aborted or faulted. */
  readonly status: "ok" | "error" | "crash";
  /** The result or the message, one or more lines. */
  readonly text: string;
  /** The calls that crossed a tier boundary. */
  readonly calls: readonly CallRecord[];
  /** The road lit by the call (undefined when nothing ran). */
  readonly path: Path | undefined;
  /** Where the block's first byte lives in RAM, when the call returned or wrote a block. */
  readonly frame?: string;
}

const HELP = [
  "p = PyObject_Malloc(78)      PyObject_Free(p)      PyObject_Calloc(n, m)   PyObject_Realloc(p, n)",
  "m = PyMem_Malloc(n)          PyMem_Free(m)         (PyMem_Calloc, PyMem_Realloc)",
  "r = PyMem_RawMalloc(n)       PyMem_RawFree(r)      (PyMem_RawCalloc, PyMem_RawRealloc)",
  "q = malloc(600)  free(q)     c = calloc(n, m)      q = realloc(q, n)",
  'write(p, offset, "hex bytes")   writes into the block (an overflow past its end, a use after free)',
  "p                            shows a name        help   this text",
  "Numbers are decimal or 0x hex; a pointer is a name, an address or NULL.",
].join("\n");

/** Runs console lines on its own stack. */
export class ConsoleSession {
  /** The stack the calls run on. */
  readonly stack: CPythonStack;
  private readonly log = new CallLog();
  private readonly libc: CAllocator;
  private readonly vars = new Map<string, Variable>();

  /** Builds a fresh stack with `options` (seed 1 unless given). */
  constructor(options: PlaygroundOptions = {}) {
    let observed: CAllocator | undefined;
    this.log.enabled = false;
    this.stack = createStack({
      ...options,
      seed: options.seed ?? 1,
      wrapProcess: (process) => observeSyscalls(process, this.log),
      wrapLibc: (libc) => (observed = observeLibc(libc, this.log)),
    });
    this.stack.pymem.setArenaAllocator(observeArenas(this.stack.pymem.getArenaAllocator(), this.log));
    this.libc = observed ?? this.stack.libc;
    this.log.enabled = true;
  }

  /** The names assigned so far, in order of assignment (freed ones too: they hold dangling pointers). */
  get variables(): readonly Variable[] {
    return [...this.vars.values()];
  }

  /** Parses and runs one line. */
  run(line: string): Outcome {
    let command: Command;
    try {
      command = parseLine(line);
    } catch (error) {
      if (error instanceof ConsoleSyntaxError) return { line, status: "error", text: `syntax error: ${error.message}`, calls: [], path: undefined };
      throw error;
    }
    switch (command.kind) {
      case "empty":
        return { line, status: "ok", text: "", calls: [], path: undefined };
      case "help":
        return { line, status: "ok", text: HELP, calls: [], path: undefined };
      case "show": {
        const v = this.vars.get(command.name);
        if (v === undefined) return { line, status: "error", text: `name '${command.name}' is not defined (assign it first: ${command.name} = malloc(16))`, calls: [], path: undefined };
        return { line, status: "ok", text: `${v.name} = ${ptr(v.pointer)} (${v.size} bytes, ${entryName(v.entry)}${v.freed ? "; freed since: a dangling pointer" : ""})`, calls: [], path: undefined };
      }
      case "call":
        return this.call(line, command.assign, command.fn, command.args);
    }
  }

  private pointer(arg: Arg | undefined): number | string {
    if (arg === undefined) return "missing pointer";
    if (arg.kind === "address") return arg.value;
    if (arg.kind === "name") {
      const v = this.vars.get(arg.name);
      return v === undefined ? `name '${arg.name}' is not defined: no call returned it (nothing ran)` : v.pointer;
    }
    return "not a pointer";
  }

  private call(line: string, assign: string | undefined, fn: FunctionName, args: readonly Arg[]): Outcome {
    const kinds = FUNCTIONS[fn] as readonly string[];
    const pointerAt = kinds.indexOf("pointer");
    const target = pointerAt >= 0 ? this.pointer(args[pointerAt]) : 0;
    if (typeof target === "string") return { line, status: "error", text: target, calls: [], path: undefined };
    const sizes = args.filter((a): a is Extract<Arg, { kind: "size" }> => a.kind === "size").map((a) => a.value);
    const entry = entryOf(fn);
    const faults = this.stack.process.faults.minor;
    const ownedBefore = target !== 0 && (this.stack.pymalloc?.owns(target) ?? false);
    this.log.take();
    let result: number | undefined;
    try {
      result = this.invoke(fn, target, sizes, args);
    } catch (error) {
      const calls = this.log.take();
      return { line, status: "crash", text: crashText(error), calls, path: this.pathFor(entry, ownedBefore, calls, faults) };
    }
    const calls = this.log.take();
    const ownedAfter = result !== undefined && result !== 0 && (this.stack.pymalloc?.owns(result) ?? false);
    const path = this.pathFor(entry, ownedBefore || ownedAfter, calls, faults);
    if (result === undefined) {
      if (fn !== "write") for (const [name, v] of this.vars) if (v.pointer === target) this.vars.set(name, { ...v, freed: true });
      const written = target + (sizes[0] ?? 0);
      if (fn === "write") return { line, status: "ok", text: `wrote ${(args[2] as { bytes: Uint8Array }).bytes.length} bytes at ${ptr(written)}`, calls, path, frame: this.frameOf(written) };
      return { line, status: "ok", text: "freed", calls, path };
    }
    const size = fn.endsWith("Calloc") || fn === "calloc" ? (sizes[0] ?? 0) * (sizes[1] ?? 0) : (sizes[sizes.length - 1] ?? 0);
    if ((fn.endsWith("Realloc") || fn === "realloc") && result !== 0 && target !== 0 && result !== target) {
      // the old block is gone: names still holding it now dangle
      for (const [name, v] of this.vars) if (v.pointer === target) this.vars.set(name, { ...v, freed: true });
    }
    if (assign !== undefined) {
      // `q = realloc(q, n)` returning NULL would lose q in C as well
      this.vars.delete(assign);
      this.vars.set(assign, { name: assign, pointer: result, entry, size, freed: false });
    }
    const shown = result === 0 ? "NULL" : ptr(result);
    return { line, status: "ok", text: `${assign !== undefined ? `${assign} = ` : ""}${shown}`, calls, path, ...(result !== 0 ? { frame: this.frameOf(result) } : {}) };
  }

  /**
   * `virtual → page → physical (frame)` for `address`, read from the page tables without
   * faulting: a page with no frame yet says so (it gets one at its first touch).
   */
  frameOf(address: number): string {
    const vpn = Math.floor(address / PAGE_SIZE);
    const page = ptr(vpn * PAGE_SIZE);
    const resident = residentAnonPages(this.stack.process).some((vma) => address >= vma.start && address < vma.end && vma.pages.includes(vpn));
    const memory = this.stack.process.memory;
    if (!resident || !(memory instanceof VirtualMemory)) return `virtual ${ptr(address)} → page ${page}: no frame yet (the page gets one at its first touch, a minor page fault)`;
    const phys = memory.translate(address, false);
    return `virtual ${ptr(address)} → page ${page} → physical ${ptr(phys)} (frame ${Math.floor(phys / PAGE_SIZE)})`;
  }

  private pathFor(entry: Entry, pymallocServed: boolean, calls: readonly CallRecord[], faultsBefore: number): Path {
    const present = this.stack.pymalloc !== undefined && (entry === "obj" || entry === "mem");
    return pathOf({ entry, pymallocPresent: present, pymallocServed, calls, faults: this.stack.process.faults.minor - faultsBefore });
  }

  /** Calls the tier; undefined for the calls that return nothing. */
  private invoke(fn: FunctionName, p: number, sizes: readonly number[], args: readonly Arg[]): number | undefined {
    const pm = this.stack.pymem;
    const [a = 0, b = 0] = sizes;
    switch (fn) {
      case "PyObject_Malloc":
        return pm.objectMalloc(a);
      case "PyObject_Calloc":
        return pm.objectCalloc(a, b);
      case "PyObject_Realloc":
        return pm.objectRealloc(p, a);
      case "PyObject_Free":
        pm.objectFree(p);
        return undefined;
      case "PyMem_Malloc":
        return pm.memMalloc(a);
      case "PyMem_Calloc":
        return pm.memCalloc(a, b);
      case "PyMem_Realloc":
        return pm.memRealloc(p, a);
      case "PyMem_Free":
        pm.memFree(p);
        return undefined;
      case "PyMem_RawMalloc":
        return pm.rawMalloc(a);
      case "PyMem_RawCalloc":
        return pm.rawCalloc(a, b);
      case "PyMem_RawRealloc":
        return pm.rawRealloc(p, a);
      case "PyMem_RawFree":
        pm.rawFree(p);
        return undefined;
      case "malloc":
        return this.libc.malloc(a);
      case "calloc":
        return this.libc.calloc(a, b);
      case "realloc":
        return this.libc.realloc(p, a);
      case "free":
        this.libc.free(p);
        return undefined;
      case "write": {
        const bytes = args[2]?.kind === "bytes" ? args[2].bytes : new Uint8Array();
        this.stack.process.memory.write(p + a, bytes);
        return undefined;
      }
    }
  }
}

/** The domain a function enters by. */
export function entryOf(fn: FunctionName): Entry {
  if (fn.startsWith("PyObject_")) return "obj";
  if (fn.startsWith("PyMem_Raw")) return "raw";
  if (fn.startsWith("PyMem_")) return "mem";
  return fn === "write" ? "none" : "libc";
}

function entryName(entry: Entry): string {
  const names: Record<Entry, string> = { obj: "PyObject_ (obj domain)", mem: "PyMem_ (mem domain)", raw: "PyMem_Raw (raw domain)", libc: "C malloc", none: "-" };
  return names[entry];
}

/**
 * The error as the real process shows it on stderr: glibc's one line then the shell's
 * `Aborted`, CPython's fatal error report, or the segmentation fault; then what the tier knows.
 */
export function crashText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & { detail?: string; report?: string };
  switch (e.name) {
    case "MallocAbort":
      return `${e.message}\nAborted (core dumped)\n\n${e.detail ?? ""}`.trimEnd();
    case "PyFatalError":
      return `${e.report ?? e.message}\nAborted (core dumped)`.replace(/\n\n+Aborted/, "\nAborted");
    case "PySegmentationFault":
      return `${e.report ?? ""}\nSegmentation fault (core dumped)\n\n${e.message.split("\n")[0]}`.trimStart();
    case "SegmentationFault":
      return `Segmentation fault (core dumped)\n\n${e.message}`;
    default:
      return `${e.name}: ${e.message}`;
  }
}
