import type { ProcessSpace } from "@mem/os-vm";
import type { GlibcMallocOptions } from "./api.js";
import { AV_ATTACHED_THREADS, AV_FLAGS, AV_HAVE_FASTCHUNKS, AV_NEXT, BK, FD, NONCONTIGUOUS_BIT, TCACHE_ENTRIES } from "./arena-layout.js";
import {
  CHUNK_HDR_SZ,
  ENOMEM,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MINSIZE,
  NBINS,
  NON_MAIN_ARENA,
  PAGE,
  PREV_INUSE,
  SIZE_SZ,
  SYSMALLOC_ASSERT,
  TCACHE_MAX_BINS,
  TCACHE_STRUCT_SIZE,
  checkedRequest2size,
  hex,
  pageDown,
  xor64,
} from "./constants.js";
import { MallocAbort } from "./errors.js";
import { chunkSize } from "./arena-state.js";
import { HEAP_INFO_SIZE, HEAP_MAX_SIZE, HI_AR_PTR, HI_MPROTECT_SIZE, HI_PREV, HI_SIZE, HeapReservations, heapForPtr } from "./heap.js";
import { walkGlibcHeap, type GlibcHeapView } from "./heap-check.js";
import type { ThreadHeapWalk } from "./inspect.js";
import { SystemMemory } from "./system-memory.js";

/** `malloc_state.next_free`: the link of the free list of arenas. */
const AV_NEXT_FREE = 0x878;

/** One thread's malloc state (glibc's thread-local `thread_arena`, `tcache`, `tcache_shutting_down`). */
interface ThreadState {
  arena: number;
  tcache: number;
  shuttingDown: boolean;
}

/**
 * Threads in glibc 2.36's malloc (`malloc/arena.c`): each thread's arena and tcache, the list
 * of arenas (main_arena.next, newest first), `arena_get2` (the free list of arenas whose
 * threads exited, a new arena while there are fewer than the limit, then `reused_arena`'s
 * round robin), `_int_new_arena`, `sysmalloc` and `heap_trim` of a non-main arena over its
 * heaps (./heap.ts), `arena_for_chunk`, and a thread's exit (`tcache_thread_shutdown`, the
 * arena back on the free list).
 *
 * The limit is `arena_max` when set (`MALLOC_ARENA_MAX`, `glibc.malloc.arena_max`, M_ARENA_MAX);
 * otherwise unlimited until more than `arena_test` (8) arenas exist, then 8 × CPUs (64-bit),
 * computed once. The recorder serialises calls, so reused_arena's trylock never meets a locked
 * arena: it takes the arena after the one it took last.
 *
 * Until a thread other than 1 is named ({@link ThreadArenas.setThread}), nothing here runs:
 * the single-threaded paths are the main arena's.
 */
export abstract class ThreadArenas extends SystemMemory {
  /** Whether a thread other than the main one was ever named: the multi-threaded paths are taken. */
  protected threaded = false;
  /** The heaps of the non-main arenas. */
  protected readonly heaps: HeapReservations;
  private readonly cpus: number;
  /**
   * A cache of the arenas on main_arena's list, for arena_for_chunk's check: rebuilt from memory
   * whenever `main_arena.next` (the list's head: glibc only ever links a new arena in there)
   * differs from {@link knownHead}, so it is a function of the process's memory.
   */
  private knownArenas = new Set<number>();
  private knownHead = -1;
  private currentThread = 1;
  /** `thread_arena` of the current thread (0: none yet). */
  private threadArena = 0;
  /** `tcache_shutting_down` of the current thread. */
  private shuttingDown = false;
  private readonly threadStates = new Map<number, ThreadState>();

  /** See {@link GlibcMalloc}'s constructor. */
  constructor(process: ProcessSpace, options: GlibcMallocOptions = {}) {
    super(process, options);
    this.heaps = new HeapReservations(process, this.m, this.globals.alignedHeapArea);
    const cpus = options.cpus ?? 2;
    if (!(Number.isSafeInteger(cpus) && cpus >= 1)) throw new RangeError(`libc-malloc: cpus must be an integer of at least 1, got ${String(cpus)}`);
    this.cpus = cpus;
    if (options.arenaMax !== undefined && options.arenaMax > 0) this.arenaMax = options.arenaMax;
    if (options.arenaTest !== undefined && options.arenaTest > 0) this.arenaTest = options.arenaTest;
    this.threadArena = this.mainArena;
  }

  /** `malloc(bytes)`: the subclass's C API. */
  abstract malloc(bytes: number): number;
  /** `free(mem)`: the subclass's C API. */
  abstract free(mem: number): void;

  /** The thread whose calls are being served (1 = the main thread). */
  get thread(): number {
    return this.currentThread;
  }

  /**
   * Makes `thread` the current thread: the calls that follow are its calls (its tcache, its
   * arena). Thread 1 is the main thread; another number is a thread of its own, which gets a
   * tcache and an arena at its first malloc, as in glibc.
   */
  setThread(thread: number): void {
    if (thread === this.currentThread) return;
    if (!(Number.isSafeInteger(thread) && thread >= 1)) throw new RangeError(`libc-malloc: a thread number is an integer of at least 1, got ${String(thread)}`);
    this.threaded = true;
    // one state object per thread, updated in place: a switch allocates nothing
    let saved = this.threadStates.get(this.currentThread);
    if (saved === undefined) this.threadStates.set(this.currentThread, (saved = { arena: 0, tcache: 0, shuttingDown: false }));
    saved.arena = this.threadArena;
    saved.tcache = this.tcache;
    saved.shuttingDown = this.shuttingDown;
    const next = this.threadStates.get(thread);
    this.threadArena = next?.arena ?? (thread === 1 ? this.mainArena : 0);
    this.tcache = next?.tcache ?? 0;
    this.shuttingDown = next?.shuttingDown ?? false;
    this.currentThread = thread;
  }

  /**
   * Thread `thread` exits (`__malloc_arena_thread_freeres`): its tcache's entries and the
   * tcache itself are freed (`tcache_thread_shutdown`, into their arenas' bins), then its
   * arena's attached-thread count drops and, at zero, the arena goes on the free list, where
   * the next new thread finds it. The current thread stays the current one.
   */
  threadExit(thread: number): void {
    const back = this.currentThread;
    this.setThread(thread);
    const tc = this.tcache;
    this.shuttingDown = true;
    if (tc !== 0) {
      this.tcache = 0;
      for (let i = 0; i < this.tcacheBinTotal; i++) {
        const slot = this.tcacheEntrySlot(tc, i);
        let e: number;
        while ((e = this.rd(slot)) !== 0) {
          if ((e & 15) !== 0) this.abort("tcache_thread_shutdown(): unaligned tcache chunk detected", "free", e);
          this.wr(slot, this.reveal(e));
          this.free(e);
        }
      }
      this.free(tc);
    }
    const a = this.threadArena;
    this.threadArena = 0;
    if (a !== 0) {
      const attached = this.rd(a + AV_ATTACHED_THREADS - this.fieldShift) - 1;
      this.wr(a + AV_ATTACHED_THREADS - this.fieldShift, attached);
      if (attached === 0) {
        this.wr(a + AV_NEXT_FREE - this.fieldShift, this.freeList);
        this.freeList = a;
      }
    }
    this.setThread(back);
  }

  /** `TCACHE_MAX_BINS` of the release (64 until 2.41, 76 since 2.42). */
  protected get tcacheBinTotal(): number {
    return TCACHE_MAX_BINS;
  }

  /** How many entries bin `i` of the tcache struct at `tc` holds (`counts[i]`; since 2.42 `tcache_count - num_slots[i]`). */
  protected tcacheEntryCount(tc: number, i: number): number {
    return this.m.load16(tc + 2 * i);
  }

  /** The address of `tcache->entries[i]` in the struct at `tc` (the layout changed in 2.42). */
  protected tcacheEntrySlot(tc: number, i: number): number {
    return tc + TCACHE_ENTRIES + 8 * i;
  }

  /** The arenas in glibc's list order (main_arena, then the newest first), as malloc_stats numbers them. */
  arenas(): number[] {
    const list = [this.mainArena];
    if (!this.initialised) return list;
    const bound = this.narenas;
    for (let a = this.rd(this.mainArena + AV_NEXT - this.fieldShift); a !== this.mainArena && a !== 0 && list.length < bound; a = this.rd(a + AV_NEXT - this.fieldShift)) list.push(a);
    return list;
  }

  /**
   * What the heap checker sees of each thread arena: its heaps oldest first (the first one's
   * chunks start after the malloc_state, later ones' after their heap_info), its top, bins and
   * fastbins. Tcaches are left out (a thread's tcache holds chunks of any arena).
   */
  protected threadArenaViews(): GlibcHeapView[] {
    const views: GlibcHeapView[] = [];
    try {
      for (const a of this.arenas().slice(1)) {
        this.useArena(a);
        const heaps: number[] = [];
        for (let h = heapForPtr(this.top); h !== 0; h = this.rd(h + HI_PREV)) heaps.unshift(h);
        const regions = heaps.map((h, i) => {
          if (i > 0) return h + HEAP_INFO_SIZE;
          const ptr = a + this.stateLayout.size;
          const misalign = (ptr + CHUNK_HDR_SZ) & 15;
          return misalign > 0 ? ptr + MALLOC_ALIGNMENT - misalign : ptr;
        });
        views.push({ ...this.view(), regions, brk: 0, tcache: 0 });
      }
    } finally {
      this.useArena(this.mainArena);
    }
    return views;
  }

  /**
   * Every live thread's tcache (the current one's and the saved ones): the chunks in their
   * bins (chunk address → tcache index) and the chunk addresses of the tcache structs.
   */
  protected allTcaches(): { entries: Map<number, number>; structs: Set<number> } {
    const entries = new Map<number, number>();
    const structs = new Set<number>();
    const tcaches = new Set<number>([this.tcache]);
    for (const [thread, state] of this.threadStates) if (thread !== this.currentThread) tcaches.add(state.tcache);
    for (const t of tcaches) {
      if (t === 0) continue;
      structs.add(t - CHUNK_HDR_SZ);
      for (let i = 0; i < this.tcacheBinTotal; i++) {
        let n = this.tcacheEntryCount(t, i);
        for (let e = this.rd(this.tcacheEntrySlot(t, i)); e !== 0 && n > 0; n--) {
          entries.set(e - CHUNK_HDR_SZ, i);
          e = xor64(Math.floor(e / PAGE), this.rd(e));
        }
      }
    }
    return { entries, structs };
  }

  /**
   * Inspection (read-only): every thread arena (list order, newest first) with its heaps and
   * chunks. A chunk sitting in any thread's tcache is named `tcache` (a thread's tcache holds
   * chunks of any arena); the threads' tcache structs are listed by the heap that holds them.
   */
  walkThreadHeaps(): ThreadHeapWalk[] {
    if (!this.threaded || !this.initialised) return [];
    const { entries: inTcache, structs } = this.allTcaches();
    const walks: ThreadHeapWalk[] = [];
    const current = this.av;
    try {
      for (const a of this.arenas().slice(1)) {
        this.useArena(a);
        const heaps: { start: number; size: number }[] = [];
        for (let h = heapForPtr(this.top); h !== 0; h = this.rd(h + HI_PREV)) heaps.unshift({ start: h, size: this.rd(h + HI_SIZE) });
        const regions = heaps.map(({ start }, i) => {
          if (i > 0) return start + HEAP_INFO_SIZE;
          const ptr = a + this.stateLayout.size;
          const misalign = (ptr + CHUNK_HDR_SZ) & 15;
          return misalign > 0 ? ptr + MALLOC_ALIGNMENT - misalign : ptr;
        });
        const chunks = walkGlibcHeap({ ...this.view(), regions, brk: 0, tcache: 0 }).map((c) => {
          const bin = c.state === "in-use" ? inTcache.get(c.address) : undefined;
          return bin === undefined ? c : { ...c, state: "tcache" as const, bin };
        });
        const tcacheStructs = chunks.filter((c) => c.state === "in-use" && structs.has(c.address)).map((c) => c.address);
        walks.push({ arena: a, arenaSize: this.stateLayout.size, heaps, heapInfoSize: HEAP_INFO_SIZE, chunks, tcacheStructs });
      }
    } finally {
      this.useArena(current);
    }
    return walks;
  }

  // =====================================================================================
  // arena.c's statics, in the process's memory (./arena-globals.ts)
  // =====================================================================================

  /** `narenas`. */
  private get narenas(): number {
    return this.rd(this.globals.narenas);
  }

  private set narenas(value: number) {
    this.wr(this.globals.narenas, value);
  }

  /** `narenas_limit` (arena_get2's static). */
  private get narenasLimit(): number {
    return this.rd(this.globals.narenasLimit);
  }

  private set narenasLimit(value: number) {
    this.wr(this.globals.narenasLimit, value);
  }

  /** `free_list`. */
  private get freeList(): number {
    return this.rd(this.globals.freeList);
  }

  private set freeList(value: number) {
    this.wr(this.globals.freeList, value);
  }

  /** `next_to_use` (reused_arena's static). */
  private get nextToUse(): number {
    return this.rd(this.globals.nextToUse);
  }

  private set nextToUse(value: number) {
    this.wr(this.globals.nextToUse, value);
  }

  /** Whether `a` is a thread arena on main_arena's list (through the cache rebuilt when the head moves). */
  private isListedArena(a: number): boolean {
    const head = this.rd(this.mainArena + AV_NEXT - this.fieldShift);
    if (head !== this.knownHead) {
      this.knownArenas = new Set(this.arenas().slice(1));
      this.knownHead = head;
    }
    return this.knownArenas.has(a);
  }

  // =====================================================================================
  // Choosing an arena
  // =====================================================================================

  /** Makes `a` the arena being worked on. */
  protected useArena(a: number): void {
    this.av = a;
    this.nma = a === this.mainArena ? 0 : NON_MAIN_ARENA;
  }

  /** `arena_get`: the thread's arena, or one from `arena_get2`. */
  protected arenaGet(bytes: number): number {
    return this.threadArena !== 0 ? this.threadArena : this.arenaGet2(bytes, 0);
  }

  private arenaGet2(size: number, avoid: number): number {
    let a = this.getFreeList();
    if (a !== 0) return a;
    if (this.narenasLimit === 0) {
      if (this.arenaMax !== 0) this.narenasLimit = this.arenaMax;
      else if (this.narenas > this.arenaTest) this.narenasLimit = 8 * this.cpus;
    }
    if (this.narenasLimit === 0 || this.narenas <= this.narenasLimit - 1) {
      this.narenas++;
      a = this.intNewArena(size);
      if (a === 0) this.narenas--;
      return a;
    }
    return this.reusedArena(avoid);
  }

  /** `arena_get_retry`: after a failed allocation, main_arena for a thread arena, else another arena. */
  protected arenaGetRetry(av: number, bytes: number): number {
    if (av !== this.mainArena) return this.mainArena;
    return this.arenaGet2(bytes, av);
  }

  private getFreeList(): number {
    const result = this.freeList;
    if (result === 0) return 0;
    this.freeList = this.rd(result + AV_NEXT_FREE - this.fieldShift);
    this.wr(result + AV_ATTACHED_THREADS - this.fieldShift, 1);
    this.detachArena(this.threadArena);
    this.threadArena = result;
    return result;
  }

  private detachArena(a: number): void {
    if (a !== 0) this.wr(a + AV_ATTACHED_THREADS - this.fieldShift, this.rd(a + AV_ATTACHED_THREADS - this.fieldShift) - 1);
  }

  private reusedArena(avoid: number): number {
    if (this.nextToUse === 0) this.nextToUse = this.mainArena;
    // Every trylock succeeds: calls are served one at a time. (With all arenas locked, glibc
    // would wait on the next one, skipping `avoid`.)
    const result = this.nextToUse;
    void avoid;
    this.detachArena(this.threadArena);
    this.removeFromFreeList(result);
    this.wr(result + AV_ATTACHED_THREADS - this.fieldShift, this.rd(result + AV_ATTACHED_THREADS - this.fieldShift) + 1);
    this.threadArena = result;
    this.nextToUse = this.rd(result + AV_NEXT - this.fieldShift);
    return result;
  }

  private removeFromFreeList(a: number): void {
    if (this.freeList === a) {
      this.freeList = this.rd(a + AV_NEXT_FREE - this.fieldShift);
      return;
    }
    for (let p = this.freeList; p !== 0; p = this.rd(p + AV_NEXT_FREE - this.fieldShift)) {
      if (this.rd(p + AV_NEXT_FREE - this.fieldShift) === a) {
        this.wr(p + AV_NEXT_FREE - this.fieldShift, this.rd(a + AV_NEXT_FREE - this.fieldShift));
        return;
      }
    }
  }

  /**
   * `_int_new_arena(size)`: a heap whose heap_info is followed by the arena's malloc_state and
   * then the top chunk, 16-aligned for user pointers (heap+0x8d0); the arena joins the list
   * after main_arena and becomes the thread's.
   */
  private intNewArena(size: number): number {
    const overhead = HEAP_INFO_SIZE + this.stateLayout.size + MALLOC_ALIGNMENT;
    let h = this.heaps.newHeap(size + overhead, this.topPad);
    if (h === 0) h = this.heaps.newHeap(overhead, this.topPad);
    if (h === 0) return 0;
    const a = h + HEAP_INFO_SIZE;
    this.wr(h + HI_AR_PTR, a);
    this.wr(h + HI_PREV, 0);
    const heapSize = this.rd(h + HI_SIZE);
    const saved = this.av;
    this.useArena(a);
    this.initState();
    this.wr(a + AV_ATTACHED_THREADS - this.fieldShift, 1);
    this.setSystemMem(heapSize);
    this.setMaxSystemMem(heapSize);
    let ptr = a + this.stateLayout.size;
    const misalign = (ptr + CHUNK_HDR_SZ) & 15;
    if (misalign > 0) ptr += MALLOC_ALIGNMENT - misalign;
    this.setTop(ptr);
    this.wr(ptr + 8, h + heapSize - ptr + PREV_INUSE);
    this.useArena(saved);
    this.detachArena(this.threadArena);
    this.threadArena = a;
    this.wr(a + AV_NEXT - this.fieldShift, this.rd(this.mainArena + AV_NEXT - this.fieldShift));
    this.wr(this.mainArena + AV_NEXT - this.fieldShift, a);
    return a;
  }

  /** `malloc_init_state(av)` for a non-main arena: empty bins, NONCONTIGUOUS, top = the initial top. */
  private initState(): void {
    for (let i = 1; i < NBINS; i++) {
      const bin = this.binAt(i);
      this.m.store64(bin + FD, bin);
      this.m.store64(bin + BK, bin);
    }
    this.m.store32(this.av + AV_FLAGS, NONCONTIGUOUS_BIT);
    if (this.fieldShift === 0) this.m.store32(this.av + AV_HAVE_FASTCHUNKS, 0);
    this.setTop(this.binAt(1));
  }

  /**
   * `arena_for_chunk`: main_arena unless the chunk has NON_MAIN_ARENA, then its heap's
   * `ar_ptr` (which must name an arena of this process, or the call aborts as glibc would
   * crash on it).
   */
  protected arenaForChunk(p: number, field: number, call: string): number {
    if ((this.flagsOf(field, p) & NON_MAIN_ARENA) === 0) return this.mainArena;
    const heap = heapForPtr(p);
    const a = this.rd(heap + HI_AR_PTR);
    if (a === this.mainArena || !this.isListedArena(a)) {
      throw new MallocAbort(`${call}(): chunk ${hex(p)} claims a non-main arena (A bit) whose heap_info at ${hex(heap)} names ${hex(a)}`, call, p);
    }
    return a;
  }

  // =====================================================================================
  // The multi-threaded paths of the C API
  // =====================================================================================

  /** `tcache_init`: the thread's tcache from its arena (none while the thread is exiting). */
  protected override tcacheInit(): void {
    if (!this.threaded) {
      super.tcacheInit();
      return;
    }
    if (this.shuttingDown) return;
    const victim = this.mallocInArena(checkedRequest2size(TCACHE_STRUCT_SIZE), TCACHE_STRUCT_SIZE);
    if (victim === 0) return;
    this.tcache = victim;
    this.m.fill(victim, TCACHE_STRUCT_SIZE, 0);
  }

  /** `arena_get` + `_int_malloc`, retried in another arena when it fails. */
  protected mallocInArena(nb: number, bytes: number): number {
    let av = this.arenaGet(bytes);
    if (av === 0) return this.fail(ENOMEM);
    let victim = this.intMallocIn(av, nb, bytes);
    if (victim === 0) {
      av = this.arenaGetRetry(av, bytes);
      if (av !== 0) victim = this.intMallocIn(av, nb, bytes);
    }
    return victim;
  }

  private intMallocIn(av: number, nb: number, bytes: number): number {
    this.useArena(av);
    try {
      return this.intMalloc(nb, bytes);
    } finally {
      this.useArena(this.mainArena);
    }
  }

  /** `_int_free(arena_for_chunk(p), p, 0)`. */
  protected freeInArena(p: number, field: number): void {
    const av = this.arenaForChunk(p, field, "free");
    this.useArena(av);
    try {
      this.intFree(p, field, false);
    } finally {
      this.useArena(this.mainArena);
    }
  }

  /** `__libc_calloc` with threads: the thread's arena, and what of its top may hold old data. */
  protected callocThreaded(bytes: number): number {
    let av = this.arenaGet(bytes);
    let oldTop = 0;
    let oldTopSize = 0;
    if (av !== 0) {
      this.useArena(av);
      oldTop = this.top;
      oldTopSize = chunkSize(this.sizeField(oldTop));
      if (av === this.mainArena) {
        const fresh = this.sbrkBase + this.maxSystemMem - oldTop;
        if (fresh < 0) oldTopSize = Infinity;
        else if (oldTopSize < fresh) oldTopSize = fresh;
      } else {
        const heap = heapForPtr(oldTop);
        const fresh = heap + this.rd(heap + HI_MPROTECT_SIZE) - oldTop;
        if (oldTopSize < fresh) oldTopSize = fresh;
      }
      this.useArena(this.mainArena);
    }
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    if (av === 0) return this.fail(ENOMEM);
    let mem = this.intMallocIn(av, nb, bytes);
    if (mem === 0) {
      av = this.arenaGetRetry(av, bytes);
      if (av !== 0) mem = this.intMallocIn(av, nb, bytes);
    }
    if (mem === 0) return 0;
    const p = mem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    let csz = chunkSize(field);
    if ((field & IS_MMAPPED) !== 0) {
      if (this.perturbByte !== 0) this.m.fill(mem, bytes, 0);
      return mem;
    }
    if (this.perturbByte === 0 && p === oldTop && csz > oldTopSize) csz = oldTopSize;
    this.m.fill(mem, csz - SIZE_SZ, 0);
    return mem;
  }

  /** `_int_realloc` in the chunk's arena; when it fails, malloc, copy and `_int_free` there. */
  protected reallocInArena(oldp: number, oldsize: number, nb: number, bytes: number): number {
    const av = this.arenaForChunk(oldp, this.sizeField(oldp), "realloc");
    this.useArena(av);
    let newp: number;
    try {
      newp = this.intRealloc(oldp, oldsize, nb);
    } finally {
      this.useArena(this.mainArena);
    }
    if (newp !== 0) return newp;
    newp = this.malloc(bytes);
    if (newp === 0) return 0;
    this.m.copy(newp, oldp + CHUNK_HDR_SZ, oldsize - SIZE_SZ);
    this.useArena(av);
    try {
      this.intFree(oldp, this.sizeField(oldp), false);
    } finally {
      this.useArena(this.mainArena);
    }
    return newp;
  }

  /** `_mid_memalign` with threads: `_int_memalign` in the thread's arena, retried elsewhere. */
  protected override intMemalign(alignment: number, bytes: number): number {
    if (!this.threaded) return super.intMemalign(alignment, bytes);
    let av = this.arenaGet(bytes + alignment + MINSIZE);
    if (av === 0) return this.fail(ENOMEM);
    let p = this.memalignIn(av, alignment, bytes);
    if (p === 0) {
      av = this.arenaGetRetry(av, bytes);
      if (av !== 0) p = this.memalignIn(av, alignment, bytes);
    }
    return p;
  }

  private memalignIn(av: number, alignment: number, bytes: number): number {
    this.useArena(av);
    try {
      return super.intMemalign(alignment, bytes);
    } finally {
      this.useArena(this.mainArena);
    }
  }

  // =====================================================================================
  // A non-main arena's memory: sysmalloc over heaps, heap_trim
  // =====================================================================================

  /** `sysmalloc` of a non-main arena: mmap a big request, else grow the top's heap, else a new heap. */
  protected override sysmalloc(nb: number): number {
    if (this.av === this.mainArena) return super.sysmalloc(nb);
    let triedMmap = false;
    if (nb >= this.mmapThreshold && this.nMmaps < this.nMmapsMax) {
      const mm = this.sysmallocMmap(nb);
      if (mm !== 0) return mm;
      triedMmap = true;
    }
    const oldTop = this.top;
    const oldField = this.sizeField(oldTop);
    let oldSize = chunkSize(oldField);
    if (!(oldSize >= MINSIZE && (this.flagsOf(oldField, oldTop) & PREV_INUSE) !== 0 && ((oldTop + oldSize) & (PAGE - 1)) === 0)) {
      this.abort(SYSMALLOC_ASSERT, "malloc", oldTop);
    }
    const oldHeap = heapForPtr(oldTop);
    const oldHeapSize = this.rd(oldHeap + HI_SIZE);
    if (MINSIZE + nb - oldSize > 0 && this.heaps.growHeap(oldHeap, MINSIZE + nb - oldSize) === 0) {
      const heapSize = this.rd(oldHeap + HI_SIZE);
      this.setSystemMem(this.systemMem + heapSize - oldHeapSize);
      this.wr(oldTop + 8, oldHeap + heapSize - oldTop + PREV_INUSE);
    } else {
      const heap = this.heaps.newHeap(nb + MINSIZE + HEAP_INFO_SIZE, this.topPad);
      if (heap !== 0) {
        const heapSize = this.rd(heap + HI_SIZE);
        this.wr(heap + HI_AR_PTR, this.av);
        this.wr(heap + HI_PREV, oldHeap);
        this.setSystemMem(this.systemMem + heapSize);
        const top = heap + HEAP_INFO_SIZE;
        this.setTop(top);
        this.wr(top + 8, heapSize - HEAP_INFO_SIZE + PREV_INUSE);
        // The old top ends with fenceposts: 0|P at its end, before it 16|P when room is left.
        oldSize = Math.floor((oldSize - MINSIZE) / MALLOC_ALIGNMENT) * MALLOC_ALIGNMENT;
        this.wr(oldTop + oldSize + CHUNK_HDR_SZ + 8, PREV_INUSE);
        if (oldSize >= MINSIZE) {
          this.wr(oldTop + oldSize + 8, CHUNK_HDR_SZ + PREV_INUSE);
          this.wr(oldTop + oldSize + CHUNK_HDR_SZ, CHUNK_HDR_SZ);
          this.wr(oldTop + 8, oldSize + PREV_INUSE + NON_MAIN_ARENA);
          this.intFree(oldTop, this.sizeField(oldTop), true);
        } else {
          this.wr(oldTop + 8, oldSize + CHUNK_HDR_SZ + PREV_INUSE);
          this.wr(oldTop + oldSize + CHUNK_HDR_SZ, oldSize + CHUNK_HDR_SZ);
        }
      } else if (!triedMmap) {
        const mm = this.sysmallocMmap(nb);
        if (mm !== 0) return mm;
      }
    }
    if (this.systemMem > this.maxSystemMem) this.setMaxSystemMem(this.systemMem);
    const p = this.top;
    if (chunkSize(this.sizeField(p)) >= nb + MINSIZE) {
      this.splitTop(nb);
      return p + CHUNK_HDR_SZ;
    }
    return this.fail(ENOMEM);
  }

  /**
   * `heap_trim(heap_for_ptr(top), top_pad)`: unmaps the arena's newest heaps while they hold
   * nothing but the top chunk (and the previous heap keeps room enough), then gives back the
   * top's pages beyond top_pad when the top reaches the trim threshold.
   */
  protected heapTrimTop(): void {
    const pad = this.topPad;
    let topChunk = this.top;
    let heap = heapForPtr(topChunk);
    while (topChunk === heap + HEAP_INFO_SIZE) {
      const prevHeap = this.rd(heap + HI_PREV);
      const prevHeapSize = this.rd(prevHeap + HI_SIZE);
      const prevSize = prevHeapSize - (MINSIZE - 2 * SIZE_SZ);
      const misalign = (prevHeap + prevSize) & 15;
      let p = prevHeap + prevSize - misalign;
      if (this.sizeField(p) !== PREV_INUSE) {
        this.abort("Fatal glibc error: malloc assertion failure in heap_trim: chunksize_nomask (p) == (0 | PREV_INUSE)", "free", p);
      }
      p -= this.rd(p);
      let newSize = chunkSize(this.sizeField(p)) + (MINSIZE - 2 * SIZE_SZ) + misalign;
      const prevInUse = (this.flagsAt(p) & PREV_INUSE) !== 0;
      if (!prevInUse) newSize += this.rd(p);
      if (newSize + (HEAP_MAX_SIZE - prevHeapSize) < pad + MINSIZE + PAGE) break;
      this.setSystemMem(this.systemMem - this.rd(heap + HI_SIZE));
      this.heaps.deleteHeap(heap);
      heap = prevHeap;
      if (!prevInUse) {
        p -= this.rd(p);
        this.unlinkChunk(p, "free");
      }
      this.setTop(p);
      topChunk = p;
      this.wr(p + 8, newSize + PREV_INUSE);
    }
    const topSize = chunkSize(this.sizeField(topChunk));
    if (topSize < this.trimThreshold) return;
    const topArea = topSize - MINSIZE - 1;
    if (topArea < 0 || topArea <= pad) return;
    const extra = pageDown(topArea - pad);
    if (extra === 0) return;
    if (this.heaps.shrinkHeap(heap, extra) !== 0) return;
    this.setSystemMem(this.systemMem - extra);
    this.wr(topChunk + 8, topSize - extra + PREV_INUSE);
  }
}
