import { CHUNK_BIN, CHUNK_FASTBIN, CHUNK_TOP, GlibcMalloc, type ChunkStates } from "@mem/libc-malloc";
import { PointerMap, type TraceRecord } from "@mem/memtrace";
import type { ResidentVma } from "@mem/os-vm";
import { accountDetail, type AccountDetail } from "./account.js";
import type { LibcFindings } from "./glibc-source.js";
import type { Account, Causes, InspectedStack, Pins } from "./api.js";
import { pinsOf } from "./pins.js";
import { SoftDirtyTracker } from "./soft-dirty-tracker.js";
import type { SyscallCounts } from "./syscall-counter.js";

/** The value of a freed block's key in the requested-size table. */
const FREED = -2;

/** One sample of the timeline. */
export interface Sample {
  /** Call events (`m`, `c`, `r`, `f`, `a`) replayed so far. */
  readonly event: number;
  /** RssAnon in bytes (the sum of `causes`). */
  readonly rssAnon: number;
  /** VmRSS in bytes. */
  readonly vmRss: number;
  /** VmSize in bytes. */
  readonly vmSize: number;
  /** VmHWM in bytes (the RSS high-water mark). */
  readonly vmHWM: number;
  /** Bytes the program asked for in its live blocks. */
  readonly liveRequested: number;
  /** Usable bytes of the live blocks. */
  readonly liveUsable: number;
  /** RssAnon by cause. */
  readonly causes: Causes;
  /** pymalloc arenas allocated. */
  readonly pymallocArenas: number;
  /** pymalloc pools in use (carved and not empty). */
  readonly pymallocPools: number;
  /** The C library's heap bytes from the system (`mallinfo2().arena`). */
  readonly libcSystem: number;
  /** Its bytes in use (`mallinfo2().uordblks`). */
  readonly libcInUse: number;
  /** Bytes in chunks with a mapping of their own (`mallinfo2().hblkhd`). */
  readonly mmappedBytes: number;
  /** Minor page faults so far. */
  readonly minorFaults: number;
  /** Memory system calls since the previous sample. */
  readonly syscalls: Readonly<Pick<SyscallCounts, "brk" | "mmap" | "munmap" | "madvise">>;
}

/** A sample with the full account and the pins. */
export interface Snapshot extends Sample {
  /** The whole account. */
  readonly account: Account;
  /** What keeps memory from the kernel. */
  readonly pins: Pins;
}

/** An event that changes the allocators' policy, narrated. */
export interface PolicyEvent {
  /** Call events replayed when it happened (it happened during call `event`). */
  readonly event: number;
  /** What happened. */
  readonly kind: "mmap-threshold" | "trim" | "arena-released" | "arena-kept" | "malloc-trim";
  /** One sentence. */
  readonly text: string;
}

/**
 * Where the timeline can read the requested sizes of the live blocks instead of keeping its
 * own table (a replayer that keeps them beside its pointers: apps/demo's `Replayer` with
 * `keepRequestedSizes()`), saving a second hash-table operation per event.
 */
export interface RequestedSizes {
  /** Bytes asked for in the live blocks. */
  readonly liveRequested: number;
  /** Calls `fn` with each live block's simulated pointer and requested bytes. */
  forEachLiveRequested(fn: (simulated: number, size: number) => void): void;
}

/** Options of {@link Timeline}. */
export interface TimelineOptions {
  /** Sample every this many call events. @defaultValue 10000 */
  every?: number;
  /**
   * Keep at most this many samples: when full, every other one is dropped and the interval
   * doubles, so memory stays constant however long the trace. @defaultValue 4096
   */
  maxSamples?: number;
  /** The counters of a {@link countSyscalls} wrapper around the stack's process. */
  syscalls?: SyscallCounts;
  /** Take a full account at this call event too (`--at`). */
  at?: number;
  /** Narrated events kept (later ones are counted only). @defaultValue 200 */
  maxEvents?: number;
  /**
   * Keep the accounts incremental with soft-dirty tracking ({@link SoftDirtyTracker}): each
   * sample re-reads only the pool headers on pages written since the previous one. The
   * samples are the same either way; what changes is the simulated memory traffic: after each
   * sample, the first store to each page sets its soft-dirty bit again (a PTE load and store),
   * which a caller counting the program's accesses (compare's time proxy) would see.
   * `"auto"`: full accounts until one finds {@link TimelineOptions.incrementalFrom} resident
   * pages, incremental from then on (on small processes the tracking costs more than the
   * full account it saves: measured in the README).
   * @defaultValue false
   */
  incremental?: boolean | "auto";
  /** With `incremental: "auto"`: the resident anonymous pages from which accounts turn incremental. @defaultValue 8192 (32 MiB) */
  incrementalFrom?: number;
}

/** The finished timeline. */
export interface TimelineResult {
  /** The interval between samples at the end (it doubles when the timeline is thinned). */
  readonly every: number;
  /** Samples in event order; the last is the end. */
  readonly timeline: readonly Sample[];
  /** The sample of the highest RssAnon, with its account and pins. */
  readonly peak: Snapshot;
  /** The sample of the most live requested bytes. */
  readonly peakLive: Sample;
  /** The end (or where a failing trace stopped), with its account and pins. */
  readonly end: Snapshot;
  /** The account at `at`, when asked for and reached. */
  readonly at: Snapshot | undefined;
  /** Policy events, narrated. */
  readonly events: readonly PolicyEvent[];
  /** Policy events not kept (beyond `maxEvents`). */
  readonly eventsDropped: number;
}

/**
 * The timeline of a replay: the driver calls {@link Timeline.allocated} / {@link Timeline.released}
 * for the requested sizes and {@link Timeline.afterCall} after each call event; every K
 * events a sample is taken (RSS, live bytes, each cause, allocator counters, system calls).
 * The account at the running peak is kept: it is recomputed only when a sample reaches a new
 * peak. Memory is constant in the trace's length (see {@link TimelineOptions.maxSamples}).
 */
export class Timeline {
  private readonly stack: InspectedStack;
  private every: number;
  private readonly maxSamples: number;
  private readonly maxEvents: number;
  private readonly counts: SyscallCounts | undefined;
  private readonly atEvent: number | undefined;
  private readonly samples: Sample[] = [];
  /** Key → requested bytes of the live blocks (an open-addressing table: a Map of pointer-sized numbers costs microseconds per call). */
  private readonly requested = new PointerMap(1 << 16);
  private liveRequested = 0;
  private calls = 0;
  private lastCounts = { brk: 0, mmap: 0, munmap: 0, madvise: 0 };
  private lastEvent = -1;
  /** Call events left until the next sample. */
  private untilSample: number;
  /** munmap calls counted when the arena count was last looked at. */
  private munmapsSeen = 0;
  /** The resident pages listed at the last sample, and the counters they were listed at. */
  private resident: readonly ResidentVma[] | undefined;
  private residentKey = "";
  private peak: Snapshot | undefined;
  private peakLive: Sample | undefined;
  private atSnapshot: Snapshot | undefined;
  private readonly events: PolicyEvent[] = [];
  private eventsDropped = 0;
  private arenas = 0;
  private threshold = 0;
  /** Maps a caller's key (a recorded pointer) to the simulated user pointer, for full accounts. */
  private readonly simulated: ((key: number) => number) | undefined;
  /** The requested sizes, when a replayer keeps them ({@link requestedFrom}). */
  private source: RequestedSizes | undefined;
  /** The soft-dirty tracker of incremental accounts, if any (with `"auto"`, once the process is large enough). */
  tracker: SoftDirtyTracker | undefined;
  /** With `incremental: "auto"`: the resident pages from which a tracker is started; else Infinity. */
  private readonly incrementalFrom: number;
  /**
   * Everything the end's account found (set by {@link finish}), so that a caller drawing
   * more of the end (an arena map: `@mem/view`'s `collectArenas`) need not account again.
   */
  endDetail: AccountDetail | undefined;

  /** Watches `stack`; `simulated` maps the keys given to {@link allocated} to simulated pointers. */
  constructor(stack: InspectedStack, options: TimelineOptions = {}, simulated?: (key: number) => number) {
    const every = options.every ?? 10000;
    if (!(Number.isSafeInteger(every) && every > 0)) throw new RangeError(`insight: the sampling interval must be a positive integer, got ${String(every)}`);
    this.stack = stack;
    this.every = every;
    this.untilSample = every;
    const maxSamples = options.maxSamples ?? 4096;
    if (!(Number.isSafeInteger(maxSamples) && maxSamples >= 2)) throw new RangeError(`insight: maxSamples must be a whole number of at least 2, got ${String(maxSamples)}`);
    const maxEvents = options.maxEvents ?? 200;
    if (!(Number.isSafeInteger(maxEvents) && maxEvents >= 0)) throw new RangeError(`insight: maxEvents must be a whole number, got ${String(maxEvents)}`);
    const incremental: unknown = options.incremental;
    if (!(incremental === undefined || incremental === true || incremental === false || incremental === "auto")) {
      throw new RangeError(`insight: incremental must be true, false or "auto", got ${typeof incremental === "string" ? JSON.stringify(incremental) : typeof incremental}`);
    }
    const from = options.incrementalFrom ?? 8192;
    if (!(Number.isSafeInteger(from) && from >= 0)) throw new RangeError(`insight: incrementalFrom must be a whole number of pages, got ${String(from)}`);
    this.maxSamples = maxSamples;
    this.maxEvents = maxEvents;
    this.counts = options.syscalls;
    this.atEvent = options.at;
    this.simulated = simulated;
    this.tracker = options.incremental === true ? new SoftDirtyTracker() : undefined;
    this.incrementalFrom = options.incremental === "auto" ? from : Infinity;
    this.arenas = stack.pymalloc?.narenasCurrentlyAllocated ?? 0;
    this.threshold = this.mmapThreshold();
  }

  /** Call events seen. */
  get callsSeen(): number {
    return this.calls;
  }

  /**
   * Reads the requested sizes from `source` from now on (call it before the first event):
   * {@link follow} then only tells call events apart, and {@link allocated} / {@link released}
   * are not to be called.
   */
  requestedFrom(source: RequestedSizes): void {
    this.source = source;
  }

  /** A live block under `key` (the caller's pointer) was asked for with `size` bytes. */
  allocated(key: number, size: number): void {
    if (key === 0) return;
    const old = this.requested.set(key, size);
    if (old >= 0) this.liveRequested -= old;
    this.liveRequested += size;
  }

  /** The block under `key` was freed (or moved by realloc). */
  released(key: number): void {
    if (key === 0) return;
    // Marked freed (-2) rather than deleted: a delete's backward shift in a large table costs
    // more than the whole replayed event. The table stays proportional to the addresses the
    // program used, as the replay's own pointer table does.
    const old = this.requested.set(key, FREED);
    if (old >= 0) this.liveRequested -= old;
  }

  /**
   * Tells the timeline the requested sizes a replayed trace line implies: a call event's
   * block is allocated, released or (realloc) moved. Returns whether the line was a call event
   * (`m`, `c`, `r`, `f`, `a`), after which the driver calls {@link afterCall}; any other line
   * (arena observations, writes, thread and stack records) changes nothing and returns false.
   */
  follow(r: TraceRecord): boolean {
    if (this.source !== undefined) {
      const kind = r.kind;
      return kind === "malloc" || kind === "free" || kind === "realloc" || kind === "calloc" || kind === "memalign";
    }
    switch (r.kind) {
      case "malloc":
      case "memalign":
        this.allocated(r.result, r.size);
        return true;
      case "calloc":
        this.allocated(r.result, r.nelem * r.elsize);
        return true;
      case "realloc":
        // a failed realloc (NULL for a size > 0) leaves the old block live
        if (r.ptr !== 0 && (r.result !== 0 || r.size === 0)) this.released(r.ptr);
        this.allocated(r.result, r.size);
        return true;
      case "free":
        this.released(r.ptr);
        return true;
      default:
        return false;
    }
  }

  /** Narrates a policy event (see {@link PolicyEvent}); called by the driver and by {@link afterCall}. */
  narrate(kind: PolicyEvent["kind"], text: string): void {
    if (this.events.length < this.maxEvents) this.events.push({ event: this.calls, kind, text });
    else this.eventsDropped++;
  }

  /**
   * A system call the stack made during the current call (from {@link countSyscalls}'s
   * listener): a break moving down is a trim; a munmap may have raised glibc's dynamic mmap
   * threshold.
   */
  onSyscall(call: string, args: readonly number[]): void {
    if (call === "brk" && (args[0] ?? 0) < 0) this.narrate("trim", `glibc trimmed the top of the heap: the break moved down ${mib(-(args[0] ?? 0))}`);
    if (call === "munmap") {
      const now = this.mmapThreshold();
      if (now !== this.threshold) {
        this.narrate(
          "mmap-threshold",
          `glibc's mmap threshold rose from ${mib(this.threshold)} to ${mib(now)} after an mmapped chunk was freed (later requests of that size stay in the heap; trim threshold now ${mib(2 * now)})`,
        );
        this.threshold = now;
      }
    }
  }

  /** To be called after each call event; samples every K events. */
  afterCall(): void {
    this.calls++;
    // an arena is released with munmap: with the syscall counters, look only after one
    const counts = this.counts;
    if (counts === undefined || counts.munmap !== this.munmapsSeen) {
      if (counts !== undefined) this.munmapsSeen = counts.munmap;
      const py = this.stack.pymalloc;
      if (py !== undefined && py.narenasCurrentlyAllocated !== this.arenas) {
        const now = py.narenasCurrentlyAllocated;
        if (now < this.arenas) this.narrate("arena-released", `pymalloc released an arena (${now} left): all its blocks were freed`);
        this.arenas = now;
      }
    }
    if (this.calls === this.atEvent) this.atSnapshot = this.snapshot();
    if (--this.untilSample === 0) {
      this.sample();
      // the next multiple of the interval (it doubles when the timeline thins itself)
      this.untilSample = this.every - (this.calls % this.every);
    }
  }

  /** Ends the timeline (at the end of the trace, or where a failing trace stopped). */
  finish(): TimelineResult {
    const last = this.samples[this.samples.length - 1];
    const { snapshot: end, detail } = this.snapshotDetail();
    this.endDetail = detail;
    const { account: _account, pins: _pins, ...endSample } = end;
    if (last === undefined || last.event !== this.calls) this.push(endSample);
    this.considerPeak(end, () => end);
    const kept = this.stack.pymalloc?.arenaObjects().filter((ao) => ao.nfreepools === ao.ntotalpools).length ?? 0;
    if (kept > 0) this.narrate("arena-kept", `pymalloc keeps ${kept} wholly free arena${kept > 1 ? "s" : ""} (it keeps the last empty one of usable_arenas instead of unmapping it)`);
    return {
      every: this.every,
      timeline: this.samples,
      peak: this.peak ?? end,
      peakLive: this.peakLive ?? end,
      end,
      at: this.atSnapshot,
      events: this.events,
      eventsDropped: this.eventsDropped,
    };
  }

  private sample(): void {
    const { sample, detail } = this.measure(false);
    this.push(sample);
    this.considerPeak(sample, () => ({ ...sample, account: detail.account, pins: pinsOf(this.stack, detail) }));
  }

  /** Keeps the peak's snapshot, built (pins included) only when the sample is a new peak. */
  private considerPeak(s: Sample, snapshot: () => Snapshot): void {
    if (this.peak === undefined || s.rssAnon > this.peak.rssAnon) this.peak = snapshot();
    if (this.peakLive === undefined || s.liveRequested > this.peakLive.liveRequested) this.peakLive = s;
  }

  private push(s: Sample): void {
    if (this.samples.length >= this.maxSamples) {
      // thin: keep the samples at multiples of the doubled interval
      this.every *= 2;
      const keep = this.samples.filter((x) => x.event % this.every === 0);
      this.samples.length = 0;
      this.samples.push(...keep);
      if (s.event % this.every !== 0 && s.event !== this.calls) return;
    }
    this.samples.push(s);
  }

  private snapshot(): Snapshot {
    return this.snapshotDetail().snapshot;
  }

  private snapshotDetail(): { snapshot: Snapshot; detail: AccountDetail } {
    const { sample, detail } = this.measure(true);
    return { snapshot: { ...sample, account: detail.account, pins: pinsOf(this.stack, detail) }, detail };
  }

  private measure(full: boolean): { sample: Sample; detail: AccountDetail } {
    // the requested sizes of the live blocks the account asks about (the mmapped chunks)
    let requestedOf: ((pointers: ReadonlySet<number>) => Map<number, number>) | undefined;
    const source = this.source;
    if (full && source !== undefined) {
      requestedOf = (pointers) => {
        const sizes = new Map<number, number>();
        source.forEachLiveRequested((p, size) => {
          if (pointers.has(p)) sizes.set(p, size);
        });
        return sizes;
      };
    } else if (full && this.simulated !== undefined) {
      const simulated = this.simulated;
      requestedOf = (pointers) => {
        const sizes = new Map<number, number>();
        this.requested.forEach((size, key) => {
          if (size < 0) return;
          const p = simulated(key);
          if (pointers.has(p)) sizes.set(p, size);
        });
        return sizes;
      };
    }
    // the resident pages change only with a fault or a system call that unmaps, drops or moves pages
    const process = this.stack.process;
    const c0 = this.counts;
    const fingerprint =
      c0 === undefined
        ? ""
        : `${process.faults.minor},${process.faults.major},${process.mm.rssAnon},${c0.mmap},${c0.munmap},${c0.madvise},${c0.brk},${c0.mremap}`;
    const vmas = fingerprint !== "" && fingerprint === this.residentKey ? this.resident : undefined;
    const liveRequested = source === undefined ? this.liveRequested : source.liveRequested;
    const detail = accountDetail(this.stack, { liveRequested, requestedOf, vmas, tracker: this.tracker });
    this.resident = detail.vmas;
    this.residentKey = fingerprint;
    // "auto": large enough now for the tracking to pay (the tracker's first account is a full one)
    if (this.tracker === undefined && detail.ledger.residentBytes >= this.incrementalFrom * 4096) this.tracker = new SoftDirtyTracker();
    const a = detail.account;
    const mm = this.stack.process.mm;
    const c = this.counts ?? { brk: 0, mmap: 0, munmap: 0, madvise: 0 };
    const syscalls = { brk: c.brk - this.lastCounts.brk, mmap: c.mmap - this.lastCounts.mmap, munmap: c.munmap - this.lastCounts.munmap, madvise: c.madvise - this.lastCounts.madvise };
    if (this.lastEvent !== this.calls) this.lastCounts = { brk: c.brk, mmap: c.mmap, munmap: c.munmap, madvise: c.madvise };
    this.lastEvent = this.calls;
    let pools = 0;
    for (const ao of this.stack.pymalloc?.arenaObjects() ?? []) pools += ao.ntotalpools - ao.nfreepools;
    const info = this.libcInfo(detail.libc);
    const sample: Sample = {
      event: this.calls,
      rssAnon: a.rssAnon,
      vmRss: a.vmRss,
      vmSize: mm.totalVm * 4096,
      vmHWM: Math.max(mm.hiwaterRss, mm.rss) * 4096,
      liveRequested,
      liveUsable: a.liveUsable,
      causes: a.causes,
      pymallocArenas: this.stack.pymalloc?.narenasCurrentlyAllocated ?? 0,
      pymallocPools: pools,
      libcSystem: info.arena,
      libcInUse: info.uordblks,
      mmappedBytes: info.hblkhd,
      minorFaults: this.stack.process.faults.minor,
      syscalls,
    };
    return { sample, detail };
  }

  /**
   * mallinfo2 without initialising an untouched glibc (which would change its state). With
   * glibc's main arena alone, from the account's own heap walk (`found`) rather than a second
   * walk of the bins: `int_mallinfo` counts the top chunk and every chunk in a fastbin or a
   * normal bin as free (`fordblks`), the rest of `system_mem` as in use.
   */
  private libcInfo(found: LibcFindings): { arena: number; uordblks: number; hblkhd: number } {
    const libc = this.stack.libc;
    if (!(libc instanceof GlibcMalloc)) return libc.mallinfo2();
    const view = found.glibc;
    if (view === undefined || !view.initialised) {
      if (!libc.inspect().initialised) return { arena: 0, uordblks: 0, hblkhd: 0 };
      return libc.mallinfo2();
    }
    const states = found.chunkStates;
    if (states !== undefined && found.threadChunks.length === 0) {
      const avail = freeBytes(states);
      if (avail >= 0 && avail <= view.systemMem) return { arena: view.systemMem, uordblks: view.systemMem - avail, hblkhd: view.mmappedMem };
    }
    return libc.mallinfo2();
  }

  private mmapThreshold(): number {
    const libc = this.stack.libc;
    return libc instanceof GlibcMalloc ? libc.inspect().mmapThreshold : 0;
  }
}

/** The bytes `int_mallinfo` counts free in a walked heap: the top chunk and the chunks in fastbins and bins; -1 without a top chunk. */
function freeBytes(states: ChunkStates): number {
  let avail = 0;
  let top = false;
  for (let i = 0; i < states.count; i++) {
    const s = states.state[i];
    if (s === CHUNK_TOP) top = true;
    if (s === CHUNK_TOP || s === CHUNK_FASTBIN || s === CHUNK_BIN) avail += states.size[i]!;
  }
  return top ? avail : -1;
}

/** Bytes as MiB or KiB with one decimal. */
export function mib(bytes: number): string {
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / 1048576).toFixed(1)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
