/**
 * The walk-through: the classic thought experiment made real. It runs a sequence of
 * requests through a real stack and records, for each step, the calls that crossed each
 * tier boundary and what each tier's state became. Rendering is separate (render.ts), so
 * the same steps print coloured, plain or as JSON.
 */
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, VirtualMemory } from "@mem/os-vm";
import { GlibcMalloc, mainArenaAddress } from "@mem/libc-malloc";
import { PYMEM_CLEANBYTE, PYMEM_DEADBYTE } from "@mem/pymem";
import { CallLog, observeArenas, observeLibc, observeSyscalls, ptr, type CallRecord, type Tier } from "./observe.js";
import { PythonMemoryError } from "./out-of-memory.js";
import { createStack, libcStatsText, type CPythonStack, type StackOptions } from "./stack.js";
import { layerOf, libcOf, routeOf, type BlockRoute, type LibcLayer, type Mapping } from "./walkthrough-route.js";
import {
  bytes,
  freeStory,
  libcRequestStory,
  personStory,
  secondPersonStory,
  type FreeOutcome,
  type StoryContext,
} from "./walkthrough-story.js";

/** One fact about a tier's state after a step. */
export interface Fact {
  /** The tier the fact is about. */
  readonly tier: Tier;
  /** The fact, in words and numbers. */
  readonly text: string;
}

/** One step of the walk-through. */
export interface Step {
  /** The step's heading. */
  readonly title: string;
  /** What is happening, in plain words. */
  readonly story: readonly string[];
  /** The calls that crossed a tier boundary during the step, in order. */
  readonly calls: readonly CallRecord[];
  /** The state of the tiers afterwards. */
  readonly facts: readonly Fact[];
  /** The road each block allocated in the step took, as the tiers' inspection reports it (numbers). */
  readonly routes: readonly BlockRoute[];
}

/** The walk-through's result: its steps and each tier's summary at the end. */
export interface Walkthrough {
  /** The stack's configuration. */
  readonly configuration: { pythonMalloc: string; libc: string; pymallocVersion: string; ramSize: number };
  /** The steps in order. */
  readonly steps: readonly Step[];
  /** Each tier's own summary at the end, in its real format. */
  readonly summaries: { readonly tier: Tier; readonly title: string; readonly text: string }[];
}

const PERSON_SIZE = 78;
const MEDIUM_SIZE = 600;
const LARGE_SIZE = 1024 * 1024;

/** Runs the walk-through on a fresh stack built with `options`. */
export function runWalkthrough(options: Omit<StackOptions, "wrapProcess" | "wrapLibc"> = {}): Walkthrough {
  const log = new CallLog();
  log.enabled = false;
  const stack = createStack({
    ...options,
    wrapProcess: (process) => observeSyscalls(process, log),
    wrapLibc: (libc) => observeLibc(libc, log),
  });
  stack.pymem.setArenaAllocator(observeArenas(stack.pymem.getArenaAllocator(), log));
  log.enabled = true;
  const ctx = storyContext(stack);
  const steps: Step[] = [];

  steps.push(naivePicture(stack, log));

  const person = allocate(stack, log, PERSON_SIZE);
  steps.push({
    title: `Python creates a Person object: PyObject_Malloc(${PERSON_SIZE})`,
    story: personStory(ctx, person.route, person.calls),
    calls: person.calls,
    facts: [...routeFacts(stack, person.route), ...deltaFacts(person.before, person.after, stack, person.pointer)],
    routes: [person.route],
  });

  const person2 = allocate(stack, log, PERSON_SIZE);
  steps.push({
    title: `A second Person: PyObject_Malloc(${PERSON_SIZE}) again`,
    story: secondPersonStory(ctx, person.route, person2.route, person2.calls, person2.after.faults - person2.before.faults),
    calls: person2.calls,
    facts: [...routeFacts(stack, person2.route), ...deltaFacts(person2.before, person2.after, stack, person2.pointer)],
    routes: [person2.route],
  });

  const medium = allocate(stack, log, MEDIUM_SIZE);
  steps.push({
    title: `A ${MEDIUM_SIZE}-byte request: PyObject_Malloc(${MEDIUM_SIZE})`,
    story: libcRequestStory(ctx, medium.route, medium.calls, medium.threshold, medium.after.faults - medium.before.faults, PYMEM_CLEANBYTE),
    calls: medium.calls,
    facts: [...routeFacts(stack, medium.route), ...glibcStateFacts(stack), ...deltaFacts(medium.before, medium.after, stack, medium.pointer)],
    routes: [medium.route],
  });

  const large = allocate(stack, log, LARGE_SIZE);
  steps.push({
    title: `A ${bytes(LARGE_SIZE)} request: PyObject_Malloc(${LARGE_SIZE})`,
    story: libcRequestStory(ctx, large.route, large.calls, large.threshold, large.after.faults - large.before.faults, PYMEM_CLEANBYTE),
    calls: large.calls,
    facts: [...routeFacts(stack, large.route), ...deltaFacts(large.before, large.after, stack, large.pointer)],
    routes: [large.route],
  });

  const before5 = snapshot(stack);
  const thresholdBefore = stack.libc.currentMmapThreshold();
  stack.pymem.objectFree(person.pointer);
  // Read while the second Person still keeps the pool (and its arena) alive.
  const personByte = layerOf(person.route, "debug") ? stack.process.memory.load8(person.pointer) : undefined;
  stack.pymem.objectFree(person2.pointer);
  stack.pymem.objectFree(medium.pointer);
  stack.pymem.objectFree(large.pointer);
  const calls = log.take();
  const after5 = snapshot(stack);
  log.enabled = false; // what follows only inspects: keep it out of the log
  const largeLibc = libcOf(large.route);
  const outcome: FreeOutcome = {
    arenaReleased: calls.some((c) => c.text.startsWith("arena allocator: free(")),
    personByte,
    deadByte: PYMEM_DEADBYTE,
    glibcState: glibcStateOf(stack),
    largeUnmapped:
      largeLibc !== undefined && calls.some((c) => c.tier === "kernel" && c.text.startsWith(`munmap(${ptr(largeLibc.mapping.start)},`)),
    rssFell: kilobytes(after5.rss) < kilobytes(before5.rss),
    threshold: { before: thresholdBefore, after: stack.libc.currentMmapThreshold() },
  };
  steps.push({
    title: "Freeing them all",
    story: freeStory(ctx, person.route, medium.route, large.route, outcome),
    calls,
    facts: deltaFacts(before5, after5, stack, undefined),
    routes: [],
  });

  const { pythonMalloc, libc, pymallocVersion, ramSize } = stack.options;
  return {
    configuration: { pythonMalloc, libc, pymallocVersion, ramSize },
    steps,
    summaries: summaries(stack),
  };
}

/** One `PyObject_Malloc` of the walk-through, observed: the calls it made and the tiers before and after. */
interface Allocation {
  /** What PyObject_Malloc returned. */
  readonly pointer: number;
  /** The calls it made across the tiers. */
  readonly calls: CallRecord[];
  /** The kernel's counters before the call. */
  readonly before: Snapshot;
  /** The kernel's counters right after the call, before any inspection. */
  readonly after: Snapshot;
  /** The C library's mmap threshold when the call was made. */
  readonly threshold: number;
  /** The road the block took, read back from the tiers. */
  readonly route: BlockRoute;
}

/** `PyObject_Malloc(size)`, with its calls, the counters around it and the block's road. */
function allocate(stack: CPythonStack, log: CallLog, size: number): Allocation {
  const before = snapshot(stack);
  const threshold = stack.libc.currentMmapThreshold();
  const pointer = stack.pymem.objectMalloc(size);
  // NULL: out of memory (ENOMEM from mmap or brk); CPython raises MemoryError here
  if (pointer === 0) throw new PythonMemoryError(`PyObject_Malloc(${size})`);
  const calls = log.take();
  const after = snapshot(stack);
  const route = quietly(log, () => routeOf(stack, "obj", pointer, size, mmapsIn(calls)));
  return { pointer, calls, before, after, threshold, route };
}

/** Runs an inspection with the call log off: what the walk-through reads is no call of the program's. */
function quietly<T>(log: CallLog, inspect: () => T): T {
  const was = log.enabled;
  log.enabled = false;
  try {
    return inspect();
  } finally {
    log.enabled = was;
  }
}

/** What the story needs to know about the configuration, from the tiers themselves. */
function storyContext(stack: CPythonStack): StoryContext {
  const pm = stack.pymalloc;
  const radix = pm?.geometry.radix;
  return {
    preset: stack.options.pythonMalloc,
    version: stack.options.pymallocVersion,
    libc: stack.options.libc,
    pageSize: PAGE_SIZE,
    ...(pm === undefined
      ? {}
      : {
          pymalloc: {
            poolSize: pm.params.poolSize,
            arenaSize: pm.params.arenaSize,
            keepLastEmptyArena: pm.params.keepLastEmptyArena,
            radix: radix ? { midBytes: radix.midBytes, botBytes: radix.botBytes } : null,
          },
        }),
  };
}

/** Step 1: a 78-byte object given its own mapping, in a scratch process: what a naive allocator costs. */
function naivePicture(stack: CPythonStack, log: CallLog): Step {
  const scratch = stack.kernel.createProcess();
  const watched = observeSyscalls(scratch, log);
  const address = watched.mmap(0, PERSON_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  watched.memory.write(address, new TextEncoder().encode("Michael"));
  const facts: Fact[] = [
    { tier: "kernel", text: `mmap rounded ${PERSON_SIZE} bytes up to one ${PAGE_SIZE}-byte page at ${ptr(address)}` },
    { tier: "kernel", text: `first write: ${scratch.faults.minor} page fault; ${vmLine(scratch.status(), "VmRSS")} resident` },
    { tier: "ram", text: `one ${PAGE_SIZE}-byte frame at physical ${ptr(physical(scratch.memory, address))} holds ${PERSON_SIZE} bytes: ${(100 * (1 - PERSON_SIZE / PAGE_SIZE)).toFixed(1)} % wasted` },
  ];
  watched.munmap(address, PERSON_SIZE);
  const calls = log.take();
  stack.kernel.exit(scratch.pid);
  return {
    title: `The naive picture: ${PERSON_SIZE} bytes straight from the operating system`,
    story: [
      `If every object asked the kernel for memory, a ${PERSON_SIZE}-byte object would cost a system call,`,
      `a whole ${bytes(PAGE_SIZE)} page and a page fault. (Shown in a scratch process.) Here is what really happens instead.`,
    ],
    calls,
    facts,
    routes: [],
  };
}

interface Snapshot {
  faults: number;
  rss: string;
  size: string;
  memFree: string;
}

function snapshot(stack: CPythonStack): Snapshot {
  const status = stack.process.status();
  return {
    faults: stack.process.faults.minor,
    rss: vmLine(status, "VmRSS"),
    size: vmLine(status, "VmSize"),
    memFree: meminfoLine(stack.kernel.meminfo(), "MemFree"),
  };
}

function deltaFacts(before: Snapshot, now: Snapshot, stack: CPythonStack, address: number | undefined): Fact[] {
  const facts: Fact[] = [
    {
      tier: "kernel",
      text: `page faults ${before.faults} → ${now.faults}; VmRSS ${before.rss} → ${now.rss}; VmSize ${before.size} → ${now.size}`,
    },
  ];
  if (address !== undefined) {
    const phys = physical(stack.process.memory, address);
    facts.push({
      tier: "ram",
      text: `virtual ${ptr(address)} → page ${ptr(address - (address % PAGE_SIZE))} → physical ${ptr(phys)} (frame ${Math.floor(phys / PAGE_SIZE)}); MemFree ${before.memFree} → ${now.memFree}`,
    });
  } else {
    facts.push({ tier: "ram", text: `MemFree ${before.memFree} → ${now.memFree}` });
  }
  return facts;
}

/** What each tier's own structures say about a block on `route`, top down. */
function routeFacts(stack: CPythonStack, route: BlockRoute): Fact[] {
  const facts: Fact[] = [
    {
      tier: "pymem",
      text: `PyObject_Malloc(${route.request}) → OBJ domain → ${stack.pymem.allocatorName() ?? "custom allocator"} → ${ptr(route.pointer)}`,
    },
  ];
  for (const layer of route.layers) {
    if (layer.kind === "debug") {
      const v = layer.view;
      const fd = `0x${v.forbiddenByte.toString(16)}`;
      facts.push({
        tier: "pymem",
        text:
          `debug hooks (${v.domain}): at ${ptr(v.base)} the size word says ${v.requestedSize}, API id '${v.apiId}', ${v.leadingPadBytes} × ${fd}; ` +
          `${v.trailingPadBytes} × ${fd} at ${ptr(v.pointer + v.requestedSize)}; pads ${v.intact ? "intact" : "BROKEN"}; ${v.underlyingSize} bytes asked beneath`,
      });
    } else if (layer.kind === "pymalloc") {
      facts.push({
        tier: "pymalloc",
        text:
          `size class ${layer.sizeIndex} (${layer.blockSize}-byte blocks) for ${layer.request} bytes; block ${ptr(layer.pointer)} = pool ${ptr(layer.pool)} + ${layer.pointer - layer.pool}; ` +
          `pool header says ${layer.blocksInUse} block(s) in use, arena index ${layer.arenaIndex} (arena ${ptr(layer.arena)}: ${bytes(layer.arenaSize)}, pools of ${bytes(layer.poolSize)})`,
      });
    } else if (layer.kind === "fallback") {
      facts.push({ tier: "pymalloc", text: `not pymalloc's: ${layer.request} bytes > SMALL_REQUEST_THRESHOLD ${layer.threshold}, passed to PyMem_RawMalloc` });
    } else {
      facts.push({ tier: "libc", text: libcFact(stack, layer) });
    }
  }
  return facts;
}

/** Where the C library put a block, in its own terms: a glibc chunk, or a block of another allocator. */
function libcFact(stack: CPythonStack, l: LibcLayer): string {
  const heapStart = stack.process.startBrk;
  const glibc = l.implementation === "glibc";
  const asked = `malloc(${l.request}) = ${ptr(l.pointer)}, usable size ${l.usableSize}`;
  if (l.region === "mapping") {
    const header = l.pointer - l.mapping.start;
    return (
      `${asked}; ${glibc ? "chunk" : "block"} header at ${ptr(l.mapping.start)} (${header} bytes), in a mapping of its own ` +
      `of ${l.mapping.end - l.mapping.start} bytes (${l.pointer % PAGE_SIZE} bytes past a page boundary)`
    );
  }
  const where =
    glibc && l.chunk !== undefined
      ? `chunk at ${ptr(l.chunk.address)} (heap start + ${l.chunk.address - heapStart}), ${l.chunk.size} bytes`
      : `block at heap start + ${l.pointer - heapStart}`;
  return `${asked}; ${where}; program break ${ptr(stack.process.programBreak)}`;
}

/** glibc's own state is not on the heap: where main_arena is. */
function glibcStateFacts(stack: CPythonStack): Fact[] {
  if (!(stack.libc instanceof GlibcMalloc)) return [];
  const arena = stack.libc.arena;
  const inLibc = arena === mainArenaAddress(stack.process.image.mappings);
  return [
    {
      tier: "libc",
      text: `glibc's own state (main_arena: bins, top, counters) is not on the heap: it sits at ${ptr(arena)}${inLibc ? ", in libc.so.6's data segment" : ""}`,
    },
  ];
}

/** Where glibc keeps the chunk of a freed pointer now (tcache, fastbin, bin, top); undefined for another C library. */
function glibcStateOf(stack: CPythonStack): (pointer: number) => string | undefined {
  if (!(stack.libc instanceof GlibcMalloc)) return () => undefined;
  const chunks = stack.libc.walkHeap();
  return (pointer) => chunks.find((c) => c.address < pointer && pointer < c.address + c.size)?.state;
}

function summaries(stack: CPythonStack): Walkthrough["summaries"] {
  const out: { tier: Tier; title: string; text: string }[] = [];
  if (stack.pymalloc) out.push({ tier: "pymalloc", title: "pymalloc: sys._debugmallocstats()", text: stack.pymalloc.debugMallocStats() });
  out.push({
    tier: "libc",
    title: stack.options.libc === "glibc" ? "glibc: malloc_stats()" : `${stack.options.libc}: mallinfo2()`,
    text: libcStatsText(stack.libc),
  });
  out.push({
    tier: "kernel",
    title: `kernel: /proc/${stack.process.pid}/status (memory lines), minor faults ${stack.process.faults.minor}`,
    text: stack.process.status(),
  });
  out.push({ tier: "kernel", title: `kernel: /proc/${stack.process.pid}/maps`, text: stack.process.maps() });
  out.push({ tier: "ram", title: "physical memory: /proc/meminfo (first lines) and /proc/buddyinfo", text: `${stack.kernel.meminfo().split("\n").slice(0, 3).join("\n")}\n${stack.kernel.buddyinfo()}` });
  return out;
}

function physical(memory: unknown, address: number): number {
  if (memory instanceof VirtualMemory) return memory.translate(address, false);
  return Number.NaN;
}

function vmLine(status: string, field: string): string {
  const match = new RegExp(`^${field}:\\s+(\\d+ kB)`, "m").exec(status);
  return match?.[1] ?? "?";
}

/** The mappings the calls created, from the logged `mmap(NULL, length, ...) = address` lines. */
function mmapsIn(calls: readonly CallRecord[]): Mapping[] {
  const out: Mapping[] = [];
  for (const c of calls) {
    const m = c.tier === "kernel" ? /^mmap\(NULL, (\d+), .* = (0x[0-9a-f]+)$/.exec(c.text) : null;
    if (m !== null) out.push({ start: Number(m[2]), end: Number(m[2]) + Number(m[1]) });
  }
  return out;
}

function kilobytes(line: string): number {
  return Number.parseInt(line, 10);
}

function meminfoLine(meminfo: string, field: string): string {
  const match = new RegExp(`^${field}:\\s+(\\d+ kB)`, "m").exec(meminfo);
  return match?.[1] ?? "?";
}
