import type { Memory } from "@mem/hardware";
import {
  DEFAULT_MAX_MAP_COUNT,
  DEFAULT_MMAP_MIN_ADDR,
  PAGE_SIZE,
  type KernelOptions,
  type OvercommitPolicy,
  type ProcessOptions,
} from "./api.js";
import { OutOfMemoryError, ProcessKilledError, SyscallError } from "./errors.js";
import { kbLine } from "./format.js";
import { validateKernelOptions, validateProcessOptions } from "./kernel-options.js";
import { SMALL_C_PROGRAM, randomizeImage } from "./layout.js";
import { SIGKILL, formatOomInvoked, formatOomKill, formatOomSummary, formatOomTasks, oomScore, selectBadProcess, type OomAllocation } from "./oom-killer.js";
import { PG_ANON, PG_LAZYFREE, PG_RESERVED, PG_ZERO, PageAllocator } from "./page-allocator.js";
import { Process, type KernelContext } from "./process.js";
import { SwapDevice } from "./swap.js";
import { VM_ACCOUNT, VM_DONTCOPY, type FileRef } from "./vma.js";

/**
 * The kernel: physical memory managed by a buddy allocator, the shared zero page, commit
 * accounting under an overcommit policy, and the processes.
 *
 * ```ts
 * const kernel = new Kernel({ ram: new PhysicalMemory({ size: 256 * 1024 * 1024 }) });
 * const proc = kernel.createProcess();
 * const p = proc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 * proc.memory.store64(p, 42);
 * ```
 */
export class Kernel {
  /** Physical RAM. */
  readonly ram: Memory;
  /** The buddy allocator over RAM's frames. */
  readonly pages: PageAllocator;
  private policy: OvercommitPolicy = 0;
  private ratio = 50;
  /** Pages charged to the commit limit (Committed_AS). */
  committedPages = 0;
  /** The swap device, when the kernel was booted with a swap disk. */
  readonly swap: SwapDevice | undefined;
  /** Where the reclaim clock resumes its scan of the frames. */
  private clockHand = 0;
  private readonly context: KernelContext;
  private readonly processes = new Map<number, Process>();
  private nextPid = 1;
  private anonVmaIds = 0;
  private shmemInodes = 1024;
  /** The parent of a fork in progress: the task on whose behalf the child's pages are allocated. */
  private forkParent: Process | undefined;
  /** Commit charge given back by OOM kills, so that a failed fork restores Committed_AS exactly. */
  private oomUncharged = 0;
  /** The kernel log (what `dmesg` prints, without timestamps), oldest first. */
  readonly log: string[] = [];
  /** OOM kills so far (`oom_kill` in /proc/vmstat). */
  oomKills = 0;

  /**
   * `vm.overcommit_memory`, writable at run time like the sysctl.
   * @throws {@link KernelOptionError} for anything but 0, 1 or 2 (the sysctl's EINVAL); the policy stays.
   */
  get overcommitMemory(): OvercommitPolicy {
    return this.policy;
  }
  set overcommitMemory(value: OvercommitPolicy) {
    validateKernelOptions({ ram: this.ram, overcommitMemory: value });
    this.policy = value;
  }

  /**
   * `vm.overcommit_ratio`, writable at run time like the sysctl.
   * @throws {@link KernelOptionError} for anything but a non-negative int; the ratio stays.
   */
  get overcommitRatio(): number {
    return this.ratio;
  }
  set overcommitRatio(value: number) {
    validateKernelOptions({ ram: this.ram, overcommitRatio: value });
    this.ratio = value;
  }

  /** Boots a kernel on `options.ram`. */
  constructor(options: KernelOptions) {
    validateKernelOptions(options);
    this.ram = options.ram;
    this.pages = new PageAllocator(options.ram);
    this.policy = options.overcommitMemory ?? 0;
    this.ratio = options.overcommitRatio ?? 50;
    // The shared zero page: one zeroed frame, never freed.
    const zeroPfn = this.pages.alloc(0, "the zero page");
    this.ram.fill(zeroPfn * PAGE_SIZE, PAGE_SIZE, 0);
    this.pages.setFlags(zeroPfn, PG_RESERVED | PG_ZERO);
    const counters = { anonPages: 0, shmemPages: 0 };
    this.counters = counters;
    const maxMapCount = options.maxMapCount ?? DEFAULT_MAX_MAP_COUNT;
    const mmapMinAddr = options.mmapMinAddr ?? DEFAULT_MMAP_MIN_ADDR;
    const thpAlignment = options.thpAlignment ?? true;
    const strict = (): boolean => this.overcommitMemory === 2;
    this.swap = options.swap === undefined ? undefined : new SwapDevice(options.swap, this.pages);
    this.context = {
      pages: this.pages,
      swap: this.swap,
      zeroPfn,
      counters,
      maxMapCount,
      mmapMinAddr,
      thpAlignment,
      zeroPage: options.zeroPage ?? true,
      get strictOvercommit() {
        return strict();
      },
      allocUserPage: (purpose, pid, allocation) => this.allocUserPage(purpose, pid, allocation),
      freeUserPage: (pfn) => {
        this.pages.setFlags(pfn, 0);
        this.pages.release(pfn, 0);
      },
      charge: (pages) => this.charge(pages),
      uncharge: (pages) => {
        this.committedPages -= pages;
      },
      newAnonVma: () => ++this.anonVmaIds,
      newShmemFile: () => {
        const file: FileRef = { device: "00:01", inode: this.shmemInodes++, name: "/dev/zero (deleted)", executable: false, shmem: { pages: new Map() } };
        this.shmemFiles.add(file);
        return file;
      },
      releaseShmem: (files) => this.releaseShmem(files),
      punchShmem: (file, first, end) => {
        for (const [index, pfn] of file.shmem?.pages ?? []) {
          if (index >= first && index < end) {
            file.shmem!.pages.delete(index);
            this.putShmemPage(pfn);
          }
        }
      },
      fork: (parent) => this.forkProcess(parent),
    };
  }

  /** System-wide page counters: anonymous pages mapped (AnonPages) and shmem pages (Shmem). */
  readonly counters: { anonPages: number; shmemPages: number };

  /** Starts a process (pids count from 1). */
  createProcess(options: ProcessOptions = {}): Process {
    validateProcessOptions(options);
    let image = options.image ?? SMALL_C_PROGRAM;
    if (options.aslrSeed !== undefined) image = randomizeImage(image, options.aslrSeed);
    const pid = this.nextPid++;
    const process = new Process(this.context, pid, image, undefined, options.stackLimit, { comm: options.comm, uid: options.uid, oomScoreAdj: options.oomScoreAdj });
    this.processes.set(pid, process);
    return process;
  }

  /** The shmem files of live shared anonymous mappings. */
  readonly shmemFiles = new Set<FileRef>();

  /** Frees the page caches of `files` that no process maps any more (the last munmap or exit). */
  private releaseShmem(files: readonly FileRef[]): void {
    for (const file of new Set(files)) {
      if (!this.shmemFiles.has(file)) continue;
      let used = false;
      for (const process of this.processes.values()) {
        if (!process.hasExited && process.mm.vmas.list.some((vma) => vma.file === file)) {
          used = true;
          break;
        }
      }
      if (used) continue;
      for (const pfn of file.shmem!.pages.values()) this.putShmemPage(pfn);
      file.shmem!.pages.clear();
      this.shmemFiles.delete(file);
    }
  }

  /** Drops the page cache's reference on a shmem frame. */
  private putShmemPage(pfn: number): void {
    const count = this.pages.count(pfn) - 1;
    this.pages.setCount(pfn, count);
    this.counters.shmemPages--;
    if (count === 0) {
      this.pages.setFlags(pfn, 0);
      this.pages.release(pfn, 0);
    }
  }

  /** `fork()` of `parent` (see `Process.fork`). */
  private forkProcess(parent: Process): Process {
    let charge = 0;
    for (const vma of parent.mm.vmas.list) if ((vma.flags & VM_ACCOUNT) !== 0 && (vma.flags & VM_DONTCOPY) === 0) charge += (vma.end - vma.start) / PAGE_SIZE;
    const committedBefore = this.committedPages;
    if (!this.charge(charge)) {
      throw new SyscallError("fork", "", "ENOMEM", `the overcommit policy refuses a commit charge of ${charge} pages for the child`);
    }
    const pid = this.nextPid++;
    let child: Process;
    const uncharged = this.oomUncharged;
    this.forkParent = parent;
    try {
      child = new Process(this.context, pid, parent.image, parent);
    } catch (error) {
      // (the half-built child already gave back part of it; a process the OOM killer ended meanwhile, its own)
      this.committedPages = committedBefore - (this.oomUncharged - uncharged);
      throw error;
    } finally {
      this.forkParent = undefined;
    }
    this.processes.set(pid, child);
    return child;
  }

  /** The live processes, by pid. */
  get liveProcesses(): Process[] {
    return [...this.processes.values()].filter((process) => !process.hasExited);
  }

  /** The live process with id `pid`. */
  process(pid: number): Process | undefined {
    return this.processes.get(pid);
  }

  /** Ends process `pid` (unmaps everything, frees its page tables). */
  exit(pid: number): void {
    const process = this.processes.get(pid);
    if (process === undefined) return;
    this.processes.delete(pid);
    process.exit();
  }

  /** Swap slots (SwapTotal in pages; 0 without swap). */
  get swapPages(): number {
    return this.swap?.slots ?? 0;
  }

  /** CommitLimit in pages: RAM x overcommit_ratio / 100 + swap. */
  get commitLimit(): number {
    return Math.floor((this.pages.totalPages * this.overcommitRatio) / 100) + this.swapPages;
  }

  /** Page-table pages of all processes, PGDs included (PageTables). */
  get pageTablePages(): number {
    let pages = 0;
    for (const process of this.processes.values()) pages += process.mm.pageTable.tablePages + 1;
    return pages;
  }

  /**
   * /proc/meminfo in Linux's format. Fields the simulator does not model (page cache, slab,
   * swap, huge pages ...) read 0; MemAvailable is MemFree (nothing is reclaimable but lazily
   * freed pages).
   */
  meminfo(): string {
    const kb = (pages: number): number => pages * 4;
    const free = this.pages.freePages;
    const anon = this.counters.anonPages;
    const shmem = this.counters.shmemPages;
    const fields: [string, number][] = [
      ["MemTotal", kb(this.pages.totalPages)],
      ["MemFree", kb(free)],
      ["MemAvailable", kb(free)],
      ["Buffers", 0],
      ["Cached", kb(shmem)],
      ["SwapCached", 0],
      ["Active", kb(anon + shmem)],
      ["Inactive", 0],
      ["Active(anon)", kb(anon + shmem)],
      ["Inactive(anon)", 0],
      ["Active(file)", 0],
      ["Inactive(file)", 0],
      ["Unevictable", 0],
      ["Mlocked", 0],
      ["SwapTotal", kb(this.swapPages)],
      ["SwapFree", kb(this.swap?.freeSlots ?? 0)],
      ["Zswap", 0],
      ["Zswapped", 0],
      ["Dirty", 0],
      ["Writeback", 0],
      ["AnonPages", kb(anon)],
      ["Mapped", kb(shmem)],
      ["Shmem", kb(shmem)],
      ["KReclaimable", 0],
      ["Slab", 0],
      ["SReclaimable", 0],
      ["SUnreclaim", 0],
      ["KernelStack", 0],
      ["PageTables", kb(this.pageTablePages)],
      ["SecPageTables", 0],
      ["NFS_Unstable", 0],
      ["Bounce", 0],
      ["WritebackTmp", 0],
      ["CommitLimit", kb(this.commitLimit)],
      ["Committed_AS", kb(this.committedPages)],
      ["VmallocTotal", 34359738367],
      ["VmallocUsed", 0],
      ["VmallocChunk", 0],
      ["Percpu", 0],
      ["AnonHugePages", 0],
      ["ShmemHugePages", 0],
      ["ShmemPmdMapped", 0],
      ["FileHugePages", 0],
      ["FilePmdMapped", 0],
      ["Balloon", 0],
    ];
    let out = "";
    for (const [name, value] of fields) out += kbLine(name, value);
    out += "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\nHugePages_Surp:        0\n";
    out += kbLine("Hugepagesize", 2048) + kbLine("Hugetlb", 0);
    // the kernel's direct map of RAM, modelled as 4 KiB pages only
    out += kbLine("DirectMap4k", this.ram.size / 1024) + kbLine("DirectMap2M", 0) + kbLine("DirectMap1G", 0);
    return out;
  }

  /** /proc/buddyinfo: free blocks per order 0..10 for each zone. */
  buddyinfo(): string {
    return this.pages.buddyinfo();
  }

  /** Takes a commit charge of `pages` under the overcommit policy (`__vm_enough_memory`). */
  private charge(pages: number): boolean {
    if (this.overcommitMemory === 0 && pages > this.pages.totalPages + this.swapPages) return false;
    if (this.overcommitMemory === 2 && this.committedPages + pages > this.commitLimit) return false;
    this.committedPages += pages;
    return true;
  }

  /**
   * One zeroed frame for a user page or a page table of process `pid`. When RAM runs out,
   * lazily freed pages are discarded first, then (with swap) anonymous pages are swapped out;
   * when that frees nothing the OOM killer ends a process and the allocation is retried. So
   * this either returns a frame, or throws `ProcessKilledError` because the process it
   * allocates for was the victim (its memory is already freed), or throws `OutOfMemoryError`
   * when no process is left to kill (where Linux panics: "System is deadlocked on memory").
   */
  private allocUserPage(purpose: () => string, pid: number, allocation: OomAllocation): number {
    for (;;) {
      let pfn: number;
      try {
        pfn = this.pages.alloc(0, purpose);
      } catch (error) {
        if (!(error instanceof OutOfMemoryError)) throw error;
        if (this.reclaimLazyFree() > 0 || this.swapOutSome() > 0) continue;
        this.outOfMemory(pid, allocation, error);
        continue;
      }
      this.ram.fill(pfn * PAGE_SIZE, PAGE_SIZE, 0);
      return pfn;
    }
  }

  /**
   * `out_of_memory`: logs the header, chooses the process with the highest badness and kills
   * it (SIGKILL; its memory is freed at once, as the OOM reaper and exit would). Returns when
   * another process was killed; throws `ProcessKilledError` when the victim is the process
   * the allocation was for (or, during a fork, its parent), and `error` when nothing is killable.
   */
  private outOfMemory(pid: number, allocation: OomAllocation, error: OutOfMemoryError): void {
    const current = this.processes.get(pid) ?? this.forkParent;
    this.log.push(formatOomInvoked(current?.comm ?? "kworker/0:0", allocation, current?.oomScoreAdj ?? 0));
    const chosen = selectBadProcess(this.liveProcesses, this.pages.totalPages + this.swapPages);
    if (chosen === undefined) {
      this.log.push(...formatOomTasks(this.liveProcesses));
      this.log.push("Out of memory and no killable processes...");
      this.log.push("Kernel panic - not syncing: System is deadlocked on memory");
      throw error;
    }
    const victim = chosen.victim;
    this.log.push(...formatOomTasks(this.liveProcesses));
    this.log.push(formatOomSummary(victim));
    const line = formatOomKill(victim);
    this.log.push(line);
    this.oomKills++;
    const killed = new ProcessKilledError(victim.pid, victim.comm, SIGKILL, "SIGKILL", line);
    const committed = this.committedPages;
    victim.deliverFatalSignal(killed);
    this.processes.delete(victim.pid);
    this.oomUncharged += committed - this.committedPages;
    if (victim === current) throw killed;
  }

  /** `/proc/PID/oom_score` of `process`: its badness scaled into 0..2000 (0: never killed). */
  oomScore(process: Process): number {
    return oomScore(process, this.pages.totalPages + this.swapPages);
  }

  /** The kernel log as `dmesg` prints it (one line each, without timestamps). */
  dmesg(): string {
    return this.log.map((line) => line + "\n").join("");
  }

  /**
   * Swaps out up to 32 (SWAP_CLUSTER_MAX) anonymous pages mapped by one process, chosen by a
   * clock over the frames: a page whose accessed bit is set gets a second chance (the bit is
   * cleared). Returns the pages swapped out.
   */
  private swapOutSome(): number {
    if (this.swap === undefined) return 0;
    const first = this.pages.reservedFrames;
    const span = this.pages.frameCount - first;
    let freed = 0;
    for (let n = 0; n < 2 * span && freed < 32; n++) {
      const pfn = first + ((this.clockHand + n) % span);
      if ((this.pages.flags(pfn) & PG_ANON) === 0 || this.pages.count(pfn) !== 1) continue;
      const owner = this.processes.get(this.pages.owner(pfn));
      if (owner?.mm.swapOut(this.pages.index(pfn), pfn) === true) {
        freed++;
        this.clockHand = (this.clockHand + n + 1) % span;
      }
    }
    return freed;
  }

  /** Memory pressure: discards every clean MADV_FREE page (shrink_folio_list). Returns pages freed. */
  private reclaimLazyFree(): number {
    let freed = 0;
    for (let pfn = this.pages.reservedFrames; pfn < this.pages.frameCount; pfn++) {
      if ((this.pages.flags(pfn) & PG_LAZYFREE) === 0 || this.pages.count(pfn) !== 1) continue;
      const owner = this.processes.get(this.pages.owner(pfn));
      if (owner?.mm.reclaimLazyFree(this.pages.index(pfn), pfn) === true) freed++;
      else this.pages.setFlags(pfn, this.pages.flags(pfn) & ~PG_LAZYFREE);
    }
    return freed;
  }
}
