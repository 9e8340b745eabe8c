/**
 * The walk-through: the classic thought experiment made real. It runs a sequence of
 * requests through a real stack and records, for each step, the calls that crossed each
 * tier boundary and what each tier's state became. Rendering is separate (render.ts), so
 * the same steps print coloured, plain or as JSON.
 */
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, VirtualMemory } from "@mem/os-vm";
import { CallLog, observeArenas, observeLibc, observeSyscalls, ptr, type CallRecord, type Tier } from "./observe.js";
import { GlibcMalloc, mainArenaAddress } from "@mem/libc-malloc";
import { createStack, libcStatsText, type CPythonStack, type StackOptions } from "./stack.js";

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
  const steps: Step[] = [];
  const usesPymalloc = stack.pymalloc !== undefined;

  steps.push(naivePicture(stack, log));
  // The C-library parts of the story are glibc's; another implementation is shown by its calls.
  const libcCaveat = stack.libc instanceof GlibcMalloc ? [] : [`(The C library here is ${stack.options.libc}, not glibc: the calls below show what it really did.)`];

  const before = snapshot(stack);
  const person = stack.pymem.objectMalloc(PERSON_SIZE);
  steps.push({
    title: `Python creates a Person object: PyObject_Malloc(${PERSON_SIZE})`,
    story: usesPymalloc
      ? [
          `The object needs ${PERSON_SIZE} bytes. PyObject_Malloc goes through the OBJ domain to pymalloc,`,
          `which rounds ${PERSON_SIZE} up to its ${sizeClass(PERSON_SIZE)}-byte size class. Nothing is free in that class,`,
          "so pymalloc carves a 16 KiB pool out of an arena — and as there is no arena yet, it asks PyMem's",
          "arena allocator for 1 MiB, which mmaps it from the kernel. The kernel only creates a mapping: no",
          "physical memory yet. Writing the pool header touches the first page: a page fault, and the",
          "buddy allocator hands out one physical frame, zeroed. pymalloc's own first requests show up",
          "too: the arenas vector (PyMem_RawRealloc, glibc's first malloc, which sets up its heap with brk)",
          "and the arena map's radix-tree nodes (PyMem_RawCalloc): glibc clears the 128 KiB node it carves",
          "from its heap, which is where most of this step's page faults come from.",
        ]
      : [
          `With PYTHONMALLOC=${stack.options.pythonMalloc} there is no pymalloc: PyObject_Malloc goes to the C library's`,
          "malloc. glibc's first call sets up its heap with brk and carves the chunk from the top chunk.",
        ],
    calls: log.take(),
    facts: [...blockFacts(stack, person, PERSON_SIZE), ...deltaFacts(stack, before, person)],
  });

  const before2 = snapshot(stack);
  const person2 = stack.pymem.objectMalloc(PERSON_SIZE);
  steps.push({
    title: `A second Person: PyObject_Malloc(${PERSON_SIZE}) again`,
    story: usesPymalloc
      ? [
          "Same size class, and the pool has free blocks: pymalloc takes the next block of the same pool.",
          "No system call, no new page, no page fault — the common case, and why pymalloc exists.",
        ]
      : ["glibc serves it from the top chunk of its heap, right after the first one."],
    calls: log.take(),
    facts: [...blockFacts(stack, person2, PERSON_SIZE), ...deltaFacts(stack, before2, person2)],
  });

  const before3 = snapshot(stack);
  const medium = stack.pymem.objectMalloc(MEDIUM_SIZE);
  const mediumCalls = log.take();
  const grew = mediumCalls.some((c) => c.tier === "kernel" && c.text.startsWith("brk("));
  steps.push({
    title: `A ${MEDIUM_SIZE}-byte request: PyObject_Malloc(${MEDIUM_SIZE})`,
    story: [
      usesPymalloc
        ? `${MEDIUM_SIZE} bytes is above pymalloc's 512-byte threshold: it passes the request to the RAW domain,`
        : `${MEDIUM_SIZE} bytes go to the C library like everything else:`,
      "PyMem_RawMalloc calls libc malloc, which serves small requests from its main heap: the [heap]",
      grew
        ? "mapping, which it grows with brk (the program break moves up)."
        : "mapping above the program's data, set up with brk by an earlier malloc (pymalloc's own bookkeeping above), so no system call now.",
      ...libcCaveat,
    ],
    calls: mediumCalls,
    facts: [...heapFacts(stack, medium), ...deltaFacts(stack, before3, medium)],
  });

  const before4 = snapshot(stack);
  const large = stack.pymem.objectMalloc(LARGE_SIZE);
  steps.push({
    title: `A 1 MiB request: PyObject_Malloc(${LARGE_SIZE})`,
    story: [
      "Also raw → malloc, but at or above glibc's mmap threshold (128 KiB by default) malloc does not",
      "use the heap: it mmaps a mapping of its own for the chunk, and will munmap it on free.",
      ...libcCaveat,
    ],
    calls: log.take(),
    facts: [
      stack.libc instanceof GlibcMalloc
        ? { tier: "libc", text: `chunk header at ${ptr(large - 16)}, user pointer ${ptr(large)} (${large % PAGE_SIZE} bytes past a page boundary)` }
        : { tier: "libc", text: `block at ${ptr(large)} (${large % PAGE_SIZE} bytes past a page boundary)` },
      ...deltaFacts(stack, before4, large),
    ],
  });

  const before5 = snapshot(stack);
  stack.pymem.objectFree(person);
  stack.pymem.objectFree(person2);
  const freedSmall = log.take();
  stack.pymem.objectFree(medium);
  stack.pymem.objectFree(large);
  const calls = [...freedSmall, ...log.take()];
  const arenaReleased = calls.some((c) => c.text.startsWith("arena allocator: free("));
  steps.push({
    title: "Freeing them all",
    story: usesPymalloc
      ? [
          "The two Person blocks go back on their pool's free list: a pointer written into the block itself.",
          arenaReleased
            ? "Their pool is empty, and so is its arena: pymalloc gives the arena back, the kernel unmaps it and frees its frames."
            : "Their pool is empty and so is the arena, but CPython 3.11 releases a fully free arena only when another usable arena follows it (ao->nextarena != NULL): the last one is kept, so the next object needs no new mmap.",
          "The 600-byte chunk goes to glibc's tcache for reuse; the 1 MiB chunk is munmapped at once — RSS falls.",
        ]
      : ["glibc keeps the small chunks in its tcache for reuse; the 1 MiB chunk is munmapped at once — RSS falls."],
    calls,
    facts: deltaFacts(stack, before5, undefined),
  });

  return {
    configuration: { ...stack.options },
    steps,
    summaries: summaries(stack),
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
      "a whole 4 KiB page and a page fault. (Shown in a scratch process.) Here is what really happens instead.",
    ],
    calls,
    facts,
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

function deltaFacts(stack: CPythonStack, before: Snapshot, address: number | undefined): Fact[] {
  const now = snapshot(stack);
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

/** What pymalloc's own structures say about a block: its pool header, read from memory. */
function blockFacts(stack: CPythonStack, block: number, size: number): Fact[] {
  const pm = stack.pymalloc;
  if (pm === undefined) return heapFacts(stack, block);
  const poolSize = pm.params.poolSize;
  const pool = block - (block % poolSize);
  const memory = stack.process.memory;
  // struct pool_header: ref.count (uint, offset 0), freeblock (8), nextpool (16), prevpool (24),
  // arenaindex (uint, 32), szidx (uint, 36), nextoffset (uint, 40), maxnextoffset (uint, 44).
  const count = memory.load32(pool);
  const szidx = memory.load32(pool + 36);
  const arenaIndex = memory.load32(pool + 32);
  return [
    { tier: "pymem", text: `PyObject_Malloc(${size}) → OBJ domain → ${stack.pymem.allocatorName() ?? "custom allocator"} → ${ptr(block)}` },
    {
      tier: "pymalloc",
      text: `size class ${szidx} (${(szidx + 1) * 16}-byte blocks); block ${ptr(block)} = pool ${ptr(pool)} + ${block - pool}; pool header says ${count} block(s) in use, arena index ${arenaIndex}`,
    },
  ];
}

/** Where the C library put a block; glibc's chunk header sits 16 bytes before the pointer. */
function heapFacts(stack: CPythonStack, pointer: number): Fact[] {
  const heapStart = stack.process.startBrk;
  const where =
    stack.libc instanceof GlibcMalloc
      ? `chunk at ${ptr(pointer - 16)} (heap start + ${pointer - 16 - heapStart})`
      : `block at ${ptr(pointer)} (heap start + ${pointer - heapStart})`;
  const facts: Fact[] = [
    {
      tier: "libc",
      text: `${where}, usable size ${stack.libc.usableSize(pointer)}; program break ${ptr(stack.process.programBreak)}`,
    },
  ];
  if (stack.libc instanceof GlibcMalloc) {
    const arena = stack.libc.arena;
    const inLibc = arena === mainArenaAddress(stack.process.image.mappings);
    facts.push({
      tier: "libc",
      text: `glibc's own state (main_arena: bins, top, counters) is not on the heap: it sits at ${ptr(arena)}${inLibc ? ", in libc.so.6's data segment" : ""}`,
    });
  }
  return facts;
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

function sizeClass(size: number): number {
  return Math.ceil(size / 16) * 16;
}

function physical(memory: unknown, address: number): number {
  if (memory instanceof VirtualMemory) return memory.translate(address, false);
  return Number.NaN;
}

function vmLine(status: string, field: string): string {
  const match = new RegExp(`^${field}:\\s+(\\d+ kB)`, "m").exec(status);
  return match?.[1] ?? "?";
}

function meminfoLine(meminfo: string, field: string): string {
  const match = new RegExp(`^${field}:\\s+(\\d+ kB)`, "m").exec(meminfo);
  return match?.[1] ?? "?";
}
