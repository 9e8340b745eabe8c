/**
 * The walk-through's words. Every sentence is built from what the stack's inspection APIs
 * reported ({@link BlockRoute}s, the calls logged, pymalloc's parameters, the C library's
 * mmap threshold), so the story follows the configuration: debug hooks, pymalloc version,
 * C library.
 */
import type { CallRecord } from "./observe.js";
import type { BlockRoute, DebugLayer, FallbackLayer, LibcLayer, PymallocLayer } from "./walkthrough-route.js";
import { layerOf, libcOf } from "./walkthrough-route.js";

/** What the story needs to know about the stack beyond one block. */
export interface StoryContext {
  /** The `PYTHONMALLOC` preset. */
  readonly preset: string;
  /** The pymalloc version preset (named in the text). */
  readonly version: string;
  /** The C library implementation's name. */
  readonly libc: string;
  /** pymalloc's parameters, when the preset uses pymalloc. */
  readonly pymalloc?: {
    /** `POOL_SIZE`. */
    readonly poolSize: number;
    /** `ARENA_SIZE`. */
    readonly arenaSize: number;
    /** Whether the last wholly free arena is kept (3.9+). */
    readonly keepLastEmptyArena: boolean;
    /** The arena map's node sizes, or null when `address_in_range` has no radix tree. */
    readonly radix: { readonly midBytes: number; readonly botBytes: number } | null;
  };
  /** The system page size. */
  readonly pageSize: number;
}

/** `1 MiB`, `256 KiB`, `4 KiB`, or `N bytes`. */
export function bytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

const hexByte = (b: number): string => `0x${b.toString(16).toUpperCase().padStart(2, "0")}`;
const kernelCalls = (calls: readonly CallRecord[], name: string): CallRecord[] =>
  calls.filter((c) => c.tier === "kernel" && c.text.startsWith(`${name}(`));

/** The debug hooks' part: the pad bytes and the bigger request beneath. */
export function debugSentences(ctx: StoryContext, layer: DebugLayer, first: boolean): string[] {
  const v = layer.view;
  const extra = v.headerBytes + v.trailerBytes;
  const domain = v.domain.toUpperCase();
  if (!first) {
    return [`The ${domain} domain's debug hooks add their ${extra} bytes of pads: ${v.requestedSize} + ${extra} = ${v.underlyingSize} bytes.`];
  }
  return [
    `The ${domain} domain's slot holds CPython's debug hooks (PYTHONMALLOC=${ctx.preset}). They wrap the block in pad bytes:`,
    `${v.headerBytes} bytes before it (the requested size, ${v.requestedSize}, as a big-endian size_t of ${v.sizeWordBytes} bytes, the API id '${v.apiId}'`,
    `and ${v.leadingPadBytes} FORBIDDENBYTEs ${hexByte(v.forbiddenByte)}) and ${v.trailingPadBytes} more ${hexByte(v.forbiddenByte)} bytes after it,`,
    `so they ask the allocator beneath for ${v.requestedSize} + ${extra} = ${v.underlyingSize} bytes and hand out the address ${v.headerBytes} bytes in.`,
  ];
}

/** Everything above the C library (debug hooks, pymalloc's pass to the RAW domain), as sentences. */
function upperSentences(ctx: StoryContext, route: BlockRoute, explained: boolean): string[] {
  const out: string[] = [];
  let firstDebug = !explained;
  for (const layer of route.layers) {
    if (layer.kind === "debug") {
      out.push(...debugSentences(ctx, layer, firstDebug));
      firstDebug = false;
    } else if (layer.kind === "fallback") {
      out.push(fallbackSentence(layer));
    }
  }
  return out;
}

function fallbackSentence(f: FallbackLayer): string {
  const why = f.request === 0 ? "pymalloc does not serve 0 bytes" : `${f.request} bytes is above pymalloc's ${f.threshold}-byte threshold`;
  return `${why}: it passes the request to the RAW domain (PyMem_RawMalloc).`;
}

/** How the C library served the block. */
function libcSentence(ctx: StoryContext, l: LibcLayer, calls: readonly CallRecord[], threshold: number | undefined): string {
  const grew = kernelCalls(calls, "brk").length > 0;
  if (l.region === "mapping") {
    const at = threshold === undefined ? "" : `At or above ${ctx.libc}'s mmap threshold (${bytes(threshold)} now), `;
    return `${at}malloc(${l.request}) does not use the heap: ${ctx.libc} mmaps a mapping of its own (${bytes(l.mapping.end - l.mapping.start)}) for the block, and will munmap it on free.`;
  }
  const below = threshold === undefined ? "" : ` (below its mmap threshold, ${bytes(threshold)} now)`;
  return (
    `libc malloc(${l.request}) is served from ${ctx.libc}'s main heap${below}: the [heap] mapping above the program's data, ` +
    (grew ? "which it grows with brk (the program break moves up)." : "set up with brk by an earlier malloc, so no system call now.")
  );
}

/** Step 2: the first Person. */
export function personStory(ctx: StoryContext, route: BlockRoute, calls: readonly CallRecord[]): string[] {
  const out = [`The object needs ${route.request} bytes. PyObject_Malloc goes through the OBJ domain.`];
  out.push(...upperSentences(ctx, route, false));
  const pm = layerOf(route, "pymalloc");
  if (pm !== undefined && ctx.pymalloc !== undefined) {
    out.push(...pymallocSentences(ctx, pm, calls));
    return out;
  }
  const l = libcOf(route)!;
  out.push(`With PYTHONMALLOC=${ctx.preset} there is no pymalloc: the request goes straight to the C library's malloc (${ctx.libc}).`);
  out.push(libcSentence(ctx, l, calls, undefined));
  return out;
}

function pymallocSentences(ctx: StoryContext, pm: PymallocLayer, calls: readonly CallRecord[]): string[] {
  const p = ctx.pymalloc!;
  const out = [`pymalloc (CPython ${ctx.version}'s parameters) rounds ${pm.request} up to its ${pm.blockSize}-byte size class (index ${pm.sizeIndex}).`];
  const newArena = calls.some((c) => c.text.startsWith("arena allocator: alloc("));
  if (pm.blocksInUse === 1) {
    out.push(
      `Nothing is free in that class, so pymalloc carves a ${bytes(pm.poolSize)} pool out of an arena` +
        (newArena ? ` — and as there is no arena yet, it asks PyMem's arena allocator for ${bytes(pm.arenaSize)}, which mmaps it from the kernel.` : "."),
    );
  } else {
    out.push("A pool of that class has a free block: pymalloc takes it.");
  }
  if (newArena) {
    out.push(
      "The kernel only creates a mapping: no physical memory yet. Writing the pool header touches the first page:",
      "a page fault, and the buddy allocator hands out one physical frame, zeroed.",
    );
  }
  if (p.radix !== null) {
    out.push(
      `To tell its own blocks from others, CPython ${ctx.version}'s pymalloc marks each arena in its arena map, a radix tree whose`,
      `mid and bottom nodes (${bytes(p.radix.midBytes)} and ${bytes(p.radix.botBytes)}) come from PyMem_RawCalloc.`,
    );
  } else {
    out.push(
      `CPython ${ctx.version} has no radix tree: to tell its own blocks from others, address_in_range reads the would-be pool header`,
      `at the ${bytes(p.poolSize)} boundary below a pointer and checks the arena index there` +
        (p.poolSize === ctx.pageSize ? `, which is why a pool is exactly one ${bytes(ctx.pageSize)} page.` : "."),
    );
  }
  const libcCalls = calls.filter((c) => c.tier === "libc").length;
  if (libcCalls > 0) {
    out.push(
      `pymalloc's own bookkeeping reaches the C library too — the arenas vector (PyMem_RawRealloc)` +
        (p.radix !== null ? " and the arena map's nodes (PyMem_RawCalloc)" : "") +
        `: ${libcCalls} ${ctx.libc} call${libcCalls === 1 ? "" : "s"} below` +
        (kernelCalls(calls, "brk").length > 0 ? `, ${libcCalls === 1 ? "which" : "the first of which"} sets up ${ctx.libc}'s heap with brk.` : "."),
    );
  }
  return out;
}

/** Step 3: the second Person. */
export function secondPersonStory(ctx: StoryContext, first: BlockRoute, second: BlockRoute, calls: readonly CallRecord[], faults: number): string[] {
  const pm1 = layerOf(first, "pymalloc");
  const pm2 = layerOf(second, "pymalloc");
  const quiet = calls.length === 0 && faults === 0;
  if (pm1 !== undefined && pm2 !== undefined) {
    return [
      `Same ${pm2.blockSize}-byte size class, and ` +
        (pm1.pool === pm2.pool ? "the pool has free blocks: pymalloc takes the next block of the same pool." : "pymalloc takes a block of another pool."),
      quiet ? "No call reaches the C library or the kernel, and no page fault — the common case, and why pymalloc exists." : `${calls.length} call(s) reach the tiers beneath.`,
    ];
  }
  const l1 = libcOf(first)!;
  const l2 = libcOf(second)!;
  const distance = l2.pointer - l1.pointer;
  return [
    `${ctx.libc} serves it from its heap again, ${Math.abs(distance)} bytes ${distance >= 0 ? "after" : "before"} the first block` +
      (kernelCalls(calls, "brk").length === 0 ? ", with no system call." : "."),
  ];
}

/** Steps 4 and 5: a request that ends in the C library. */
export function libcRequestStory(
  ctx: StoryContext,
  route: BlockRoute,
  calls: readonly CallRecord[],
  threshold: number,
  faults: number,
  cleanByte: number,
): string[] {
  const out = upperSentences(ctx, route, true);
  const l = libcOf(route)!;
  if (ctx.pymalloc === undefined) out.push(`There is no pymalloc: ${l.request} bytes go straight to the C library like everything else.`);
  out.push(libcSentence(ctx, l, calls, threshold));
  if (layerOf(route, "debug") !== undefined && l.region === "mapping" && faults > 0) {
    out.push(
      `The debug hooks fill the ${route.request} data bytes with CLEANBYTE ${hexByte(cleanByte)}, so every page of the fresh mapping is written at once:`,
      `${faults} page faults in this step.`,
    );
  }
  return out;
}

/** What happened when the blocks were freed, read back from the tiers afterwards. */
export interface FreeOutcome {
  /** pymalloc gave its arena back (the calls show the arena allocator's free). */
  readonly arenaReleased: boolean;
  /** The byte now at the first Person's address, when the debug hooks erased it. */
  readonly personByte: number | undefined;
  /** The byte the debug hooks erase with (`PYMEM_DEADBYTE`). */
  readonly deadByte: number;
  /** Where glibc keeps each freed heap chunk now (tcache, fastbin, bin, top), by pointer. */
  readonly glibcState: (pointer: number) => string | undefined;
  /** Whether the large block's mapping was unmapped. */
  readonly largeUnmapped: boolean;
  /** Whether VmRSS fell. */
  readonly rssFell: boolean;
  /** The C library's mmap threshold before and after. */
  readonly threshold: { readonly before: number; readonly after: number };
}

/** Step 6: freeing them all. */
export function freeStory(ctx: StoryContext, person: BlockRoute, medium: BlockRoute, large: BlockRoute, o: FreeOutcome): string[] {
  const out: string[] = [];
  const debug = layerOf(person, "debug");
  if (debug !== undefined) {
    out.push(
      `Each free passes the debug hooks first: they check the API id and both pads, fill the whole block with DEADBYTE ${hexByte(o.deadByte)}` +
        ` and free it beneath` +
        (o.personByte !== undefined ? ` (the first Person's data now reads ${hexByte(o.personByte)}).` : "."),
    );
  }
  const pm = layerOf(person, "pymalloc");
  if (pm !== undefined && ctx.pymalloc !== undefined) {
    out.push(`The two Person blocks go back on their pool's free list: a pointer written into the block itself.`);
    out.push(arenaSentence(ctx, o.arenaReleased, ctx.pymalloc.keepLastEmptyArena));
  } else {
    out.push(`The two Person blocks go back to ${ctx.libc}${whereNow(ctx, libcOf(person)!, o)}.`);
  }
  if (ctx.libc === "tlsf") out.push("(TLSF merges a freed block with its free neighbours at once.)");
  const m = libcOf(medium)!;
  const what = m.request === medium.request ? `The ${m.request}-byte block` : `The ${m.request}-byte block (the ${medium.request}-byte request and the debug hooks' bytes)`;
  out.push(`${what} goes back to ${ctx.libc}${whereNow(ctx, m, o)};`);
  const l = libcOf(large)!;
  out.push(
    o.largeUnmapped
      ? `the ${bytes(large.request)} block's own mapping is munmapped at once${o.rssFell ? " — RSS falls." : "."}`
      : `the ${bytes(large.request)} block stays with ${ctx.libc} (${l.region === "heap" ? "it came from the heap" : "its mapping is kept"}).`,
  );
  if (o.threshold.after > o.threshold.before) {
    out.push(
      `${ctx.libc} also raises its mmap threshold from ${bytes(o.threshold.before)} to ${o.threshold.after} bytes, the size of the mapping`,
      "just freed (the dynamic threshold): the next request this big will come from the heap.",
    );
  }
  return out;
}

function whereNow(ctx: StoryContext, l: LibcLayer, o: FreeOutcome): string {
  const state = o.glibcState(l.pointer);
  if (state === undefined) return ctx.libc === "tlsf" ? ", onto its free lists" : "";
  const names: Record<string, string> = {
    tcache: "'s tcache for reuse",
    fastbin: "'s fastbins",
    bin: "'s bins",
    top: ", merged into the top chunk",
  };
  return names[state] ?? ` (${state})`;
}

function arenaSentence(ctx: StoryContext, released: boolean, keepLast: boolean): string {
  if (released && !keepLast) {
    return `Their pool is empty, and so is its arena: CPython ${ctx.version} releases every wholly free arena (keeping the last one came with 3.9), so the kernel unmaps it and frees its frames.`;
  }
  if (released) return "Their pool is empty, and so is its arena: pymalloc gives the arena back, the kernel unmaps it and frees its frames.";
  if (keepLast) {
    return `Their pool is empty and so is the arena, but CPython ${ctx.version} releases a wholly free arena only when another usable arena follows it (ao->nextarena != NULL): the last one is kept, so the next object needs no new mmap.`;
  }
  return "Their pool is empty, but the arena still holds other blocks, so it stays.";
}
