/**
 * The OOM killer, as Linux 6.x's mm/oom_kill.c decides and reports (written from its
 * description, not copied): when the page allocator has nothing left and reclaim (lazily
 * freed pages, swap) frees nothing, the task with the highest badness is sent SIGKILL and its
 * memory goes back to the page allocator; the allocation that ran out is then retried.
 *
 * ```
 *  badness(p) = rss + swap entries + page-table pages          (pages)
 *             + oom_score_adj × ⌊(RAM + swap pages) / 1000⌋
 *  oom_score_adj = -1000 (OOM_SCORE_ADJ_MIN): never chosen
 * ```
 * Candidates are visited in pid order and a later one wins a tie (Linux skips a task only
 * when its points are *below* the best so far). The simulated kernel has no init task and no
 * kernel threads, so every process is a candidate.
 */

/** `OOM_SCORE_ADJ_MIN`: a process with this adjustment is never killed. */
export const OOM_SCORE_ADJ_MIN = -1000;
/** `OOM_SCORE_ADJ_MAX`. */
export const OOM_SCORE_ADJ_MAX = 1000;
/** SIGKILL's number on Linux. */
export const SIGKILL = 9;

/** What the OOM killer reads of a candidate process. */
export interface OomCandidate {
  /** Process id. */
  readonly pid: number;
  /** `comm`: the command name (at most 15 characters). */
  readonly comm: string;
  /** Real user id. */
  readonly uid: number;
  /** `/proc/PID/oom_score_adj`, -1000..1000. */
  readonly oomScoreAdj: number;
  /** Whether the process is gone already. */
  readonly hasExited: boolean;
  /** The memory counters of its `mm_struct`. */
  readonly mm: {
    readonly rssAnon: number;
    readonly rssShmem: number;
    readonly swapEntries: number;
    readonly totalVm: number;
    readonly pageTable: { readonly tablePages: number };
  };
}

/**
 * `oom_badness`: the points of `p` when `totalPages` (RAM + swap, in pages) is what could be
 * used, or `undefined` when `p` must not be killed (oom_score_adj -1000, or already exited).
 */
export function oomBadness(p: OomCandidate, totalPages: number): number | undefined {
  if (p.hasExited || p.oomScoreAdj === OOM_SCORE_ADJ_MIN) return undefined;
  // get_mm_rss + MM_SWAPENTS + mm_pgtables_bytes / PAGE_SIZE (PUD, PMD and PTE pages; not the PGD)
  const points = p.mm.rssAnon + p.mm.rssShmem + p.mm.swapEntries + p.mm.pageTable.tablePages;
  return points + p.oomScoreAdj * Math.floor(totalPages / 1000);
}

/** `select_bad_process`: the candidate with the most points (the later one on a tie), or undefined. */
export function selectBadProcess<P extends OomCandidate>(candidates: Iterable<P>, totalPages: number): { victim: P; points: number } | undefined {
  let chosen: { victim: P; points: number } | undefined;
  const sorted = [...candidates].sort((a, b) => a.pid - b.pid);
  for (const p of sorted) {
    const points = oomBadness(p, totalPages);
    if (points === undefined || (chosen !== undefined && points < chosen.points)) continue;
    chosen = { victim: p, points };
  }
  return chosen;
}

/**
 * The line `__oom_kill_process` prints (`pr_err`), in Linux 6.1+'s format:
 * `Out of memory: Killed process 2446 (gnome-shell) total-vm:5424564kB, anon-rss:255676kB,
 * file-rss:100240kB, shmem-rss:38948kB, UID:1000 pgtables:1496kB oom_score_adj:0`.
 * Recorded on this machine's 6.18 (fixtures/oom-memcg.txt), with the memory-cgroup prefix.
 * The simulator maps no files, so file-rss is 0 kB.
 */
export function formatOomKill(p: OomCandidate, message = "Out of memory"): string {
  const kb = (pages: number): number => pages * 4;
  return (
    `${message}: Killed process ${p.pid} (${p.comm}) total-vm:${kb(p.mm.totalVm)}kB, anon-rss:${kb(p.mm.rssAnon)}kB, ` +
    `file-rss:0kB, shmem-rss:${kb(p.mm.rssShmem)}kB, UID:${p.uid} pgtables:${kb(p.mm.pageTable.tablePages)}kB oom_score_adj:${p.oomScoreAdj}`
  );
}

/** What the allocation that ran out was for: it decides the gfp mask `dump_header` prints. */
export type OomAllocation = "user page" | "page table";

/**
 * `dump_header`'s first line: `python3 invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0`.
 * A user page of an anonymous fault is `GFP_HIGHUSER_MOVABLE | __GFP_ZERO` (plus `__GFP_COMP`,
 * added by `vma_alloc_folio`); a page-table page is `GFP_PGTABLE_USER`.
 */
export function formatOomInvoked(comm: string, allocation: OomAllocation, oomScoreAdj: number): string {
  const gfp = allocation === "user page" ? "0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO)" : "0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO)";
  return `${comm} invoked oom-killer: gfp_mask=${gfp}, order=0, oom_score_adj=${oomScoreAdj}`;
}

/**
 * `dump_tasks` (vm.oom_dump_tasks is 1 by default): the candidates' memory in pages, in the
 * columns Linux 6.18 prints (recorded in fixtures/oom-memcg.txt):
 * ```
 * Tasks state (memory values in pages):
 * [  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
 * [  14520]     0 14520     8843     8413     8160      253         0   114688        0             0 oomtest
 * ```
 */
export function formatOomTasks(candidates: Iterable<OomCandidate>): string[] {
  const lines = [
    "Tasks state (memory values in pages):",
    "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
  ];
  const right = (value: number, width: number): string => String(value).padStart(width);
  for (const p of [...candidates].sort((a, b) => a.pid - b.pid)) {
    if (p.hasExited) continue;
    const mm = p.mm;
    lines.push(
      `[${right(p.pid, 7)}] ${right(p.uid, 5)} ${right(p.pid, 5)} ${right(mm.totalVm, 8)} ${right(mm.rssAnon + mm.rssShmem, 8)} ` +
        `${right(mm.rssAnon, 8)} ${right(0, 8)} ${right(mm.rssShmem, 9)} ${right(mm.pageTable.tablePages * 4096, 8)} ` +
        `${right(mm.swapEntries, 8)}         ${right(p.oomScoreAdj, 5)} ${p.comm}`,
    );
  }
  return lines;
}

/** The one-line summary `dump_oom_summary` prints before the kill (global OOM, no cgroups). */
export function formatOomSummary(p: OomCandidate): string {
  return `oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=${p.comm},pid=${p.pid},uid=${p.uid}`;
}

/**
 * `/proc/PID/oom_score` (`proc_oom_score`): the badness scaled into 0..2000 as Linux has exported
 * it since 5.9: `(1000 + badness × 1000 / totalPages) × 2 / 3` in integer arithmetic; 0 for a
 * process that is never killed. Checked on this machine (fixtures/oom-score.txt: 695).
 */
export function oomScore(p: OomCandidate, totalPages: number): number {
  const badness = oomBadness(p, totalPages);
  if (badness === undefined) return 0;
  return Math.trunc(((1000 + Math.trunc((badness * 1000) / totalPages)) * 2) / 3);
}
