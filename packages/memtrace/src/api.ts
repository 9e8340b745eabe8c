/**
 * The memtrace v1 event model: one line of a trace, typed.
 *
 * ```
 * # memtrace v1                          first line
 * # heap-start 0x55d0c3a2e000            metadata: the initial program break
 * m <domain> <size> <result>             malloc
 * c <domain> <nelem> <elsize> <result>   calloc
 * r <domain> <ptr> <size> <result>       realloc
 * f <domain> <ptr>                       free
 * a <domain> <alignment> <size> <result> memalign family
 * A <size> <result>                      pymalloc obtained an arena
 * D <ptr> <size>                         pymalloc released an arena
 * w <ptr> <offset> <hexbytes>            the program wrote these bytes at ptr+offset
 * # cpus 2                               metadata: the recording machine's online CPUs
 * t <thread>                             the events that follow were made by this thread
 * n <thread>                             a thread started
 * x <thread>                             a thread exited (after its last call)
 * #F <id> <lineno> <filename>            a source frame (file and line), interned
 * #T <id> <total> <frame-id>...          a traceback: frames most recent first, interned
 * #S <traceback-id>                      the allocations that follow were made there
 * #R <ptr>                               the live block at ptr now has the traceback in force
 * ```
 *
 * Threads are numbered by the recorder: 1 is the main thread, every new thread gets the next
 * number (never reused). A trace without `t` lines is all thread 1.
 *
 * Sizes are decimal, pointers `0x` + lowercase hex (`0x0` is NULL). Every number is an
 * integer in 0..2^53-1 (addresses are plain numbers throughout the stack).
 */

/** The allocation domain of an event: CPython's three PyMem domains, or a C program's malloc. */
export type Domain = "raw" | "mem" | "obj" | "libc";

/** Every domain, in the order CPython numbers its PyMem domains (then libc). */
export const DOMAINS: readonly Domain[] = ["raw", "mem", "obj", "libc"];

/** The first line of every trace. */
export const MEMTRACE_HEADER = "# memtrace v1";

/** `m <domain> <size> <result>`: a malloc call and what it returned. */
export interface MallocEvent {
  readonly kind: "malloc";
  readonly domain: Domain;
  readonly size: number;
  readonly result: number;
}

/** `c <domain> <nelem> <elsize> <result>`: a calloc call. */
export interface CallocEvent {
  readonly kind: "calloc";
  readonly domain: Domain;
  readonly nelem: number;
  readonly elsize: number;
  readonly result: number;
}

/** `r <domain> <ptr> <size> <result>`: a realloc call (`ptr` 0 = realloc(NULL, size)). */
export interface ReallocEvent {
  readonly kind: "realloc";
  readonly domain: Domain;
  readonly ptr: number;
  readonly size: number;
  readonly result: number;
}

/** `f <domain> <ptr>`: a free call (`ptr` 0 = free(NULL), a no-op the program made). */
export interface FreeEvent {
  readonly kind: "free";
  readonly domain: Domain;
  readonly ptr: number;
}

/** `a <domain> <alignment> <size> <result>`: memalign, posix_memalign, aligned_alloc, valloc, pvalloc. */
export interface MemalignEvent {
  readonly kind: "memalign";
  readonly domain: Domain;
  readonly alignment: number;
  readonly size: number;
  readonly result: number;
}

/** `A <size> <result>`: pymalloc obtained an arena (an observation, written just before the call that needed it). */
export interface ArenaAllocEvent {
  readonly kind: "arena-alloc";
  readonly size: number;
  readonly result: number;
}

/** `D <ptr> <size>`: pymalloc released an arena (an observation, written just before the free that emptied it). */
export interface ArenaFreeEvent {
  readonly kind: "arena-free";
  readonly ptr: number;
  readonly size: number;
}

/** `w <ptr> <offset> <hexbytes>`: the program wrote `bytes` at `ptr + offset` (scenarios: overflows, use after free). */
export interface WriteEvent {
  readonly kind: "write";
  readonly ptr: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** `# heap-start 0x...`: the recorded process's initial program break (where glibc's main heap begins). */
export interface HeapStartEvent {
  readonly kind: "heap-start";
  readonly address: number;
}

/**
 * `# cpus N`: the number of online CPUs of the recording machine (glibc sizes its arena limit,
 * 8 × CPUs on 64-bit, from it).
 */
export interface CpusEvent {
  readonly kind: "cpus";
  readonly count: number;
}

/**
 * `t <thread>`: the events that follow (up to the next `t` line) were made by thread
 * `thread` (1 = the main thread; a trace starts on thread 1).
 */
export interface ThreadSwitchEvent {
  readonly kind: "thread";
  readonly thread: number;
}

/** `n <thread>`: thread `thread` started (its first event may follow later). */
export interface ThreadStartEvent {
  readonly kind: "thread-start";
  readonly thread: number;
}

/**
 * `x <thread>`: thread `thread` exited, after its last call: glibc's thread-exit work (the
 * thread's tcache flushed, its arena put on the free list) happens here. Threads still alive
 * when the process ends get no `x` line.
 */
export interface ThreadExitEvent {
  readonly kind: "thread-exit";
  readonly thread: number;
}

/**
 * `#F <id> <lineno> <filename>`: a source frame, written once and referred to by its id.
 * `filename` is the rest of the line, escaped (see {@link escapeFilename}); `lineno` 0 is
 * tracemalloc's "no line" (as in its `<unknown>:0` frame).
 */
export interface FrameEvent {
  readonly kind: "frame";
  readonly id: number;
  readonly lineno: number;
  readonly filename: string;
}

/**
 * `#T <id> <total> <frame-id>...`: a traceback, written once and referred to by its id:
 * its frames (ids of `#F` lines written before it), **most recent first**, and `total`,
 * the number of frames the stack had before it was cut to the recording's limit
 * (tracemalloc's `total_nframe`, at least the number of frames given).
 */
export interface TracebackEvent {
  readonly kind: "traceback";
  readonly id: number;
  readonly total: number;
  readonly frames: readonly number[];
}

/**
 * `#S <traceback-id>`: the allocation events that follow (`m`, `c`, `r`, `a`), up to the
 * next `#S` line, were made at this traceback (a `#T` line written before it).
 */
export interface StackEvent {
  readonly kind: "stack";
  readonly traceback: number;
}

/**
 * `#R <ptr>`: the live block at `ptr` now has the traceback in force (the last `#S`): an
 * object reused from a free list gets the traceback of its reuse, as tracemalloc's
 * `_PyTraceMalloc_NewReference` gives it. A block that is not live is left alone.
 */
export interface RetraceEvent {
  readonly kind: "retrace";
  readonly ptr: number;
}

/** `#...`: any other comment; `text` is everything after the `#` (so `# x` has text `" x"`). */
export interface CommentEvent {
  readonly kind: "comment";
  readonly text: string;
}

/** One line of a memtrace v1 trace. */
export type MemtraceEvent =
  | MallocEvent
  | CallocEvent
  | ReallocEvent
  | FreeEvent
  | MemalignEvent
  | ArenaAllocEvent
  | ArenaFreeEvent
  | WriteEvent
  | HeapStartEvent
  | CpusEvent
  | ThreadSwitchEvent
  | ThreadStartEvent
  | ThreadExitEvent
  | FrameEvent
  | TracebackEvent
  | StackEvent
  | RetraceEvent
  | CommentEvent;

/** The `kind` of an event. */
export type EventKind = MemtraceEvent["kind"];

/** Options of the trace readers. */
export interface ReadOptions {
  /**
   * Whether the first line must be `# memtrace v1`.
   * @defaultValue true
   */
  readonly requireHeader?: boolean;
  /**
   * The longest line accepted, in characters (UTF-16 code units, without the newline); a
   * longer line raises `MemtraceLineTooLongError` as soon as the bound is passed, so
   * a reader fed something that is not a trace stays in constant memory.
   * @defaultValue {@link MAX_LINE_LENGTH} (1 MiB)
   */
  readonly maxLineLength?: number;
}

/** The default bound on a trace line's length: 1 MiB (real lines are under 100 characters). */
export const MAX_LINE_LENGTH = 1 << 20;
