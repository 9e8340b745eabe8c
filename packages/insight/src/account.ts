import { GlibcMalloc } from "@mem/libc-malloc";
import { residentAnonPages, type ResidentVma } from "@mem/os-vm";
import type { Account, InspectedStack } from "./api.js";
import { accountGlibc, type LibcFindings } from "./glibc-source.js";
import { ResidentLedger } from "./ledger.js";
import { accountPymalloc, type PymallocFindings } from "./pymalloc-source.js";
import type { SoftDirtyTracker } from "./soft-dirty-tracker.js";
import { accountTlsf } from "./tlsf-source.js";

/** Options of {@link account}. */
export interface AccountOptions {
  /**
   * The bytes the program asked for, by live user pointer (a replay knows each call's size).
   * Their sum becomes {@link Account.liveRequested}; an mmapped chunk's data is split into
   * payload (asked for) and page slack.
   */
  requested?: ReadonlyMap<number, number>;
  /**
   * Instead of `requested`: the requested bytes of just the live blocks at `pointers` (user
   * pointers of chunks with a mapping of their own, the only ones the account splits), asked
   * for only when there are such chunks. Saves building a map of every live block.
   */
  requestedOf?: (pointers: ReadonlySet<number>) => ReadonlyMap<number, number>;
  /** The sum of the requested bytes of the live blocks, when the caller keeps it (instead of `requested`). */
  liveRequested?: number;
  /**
   * The resident pages, when the caller knows they have not changed since it listed them
   * (no fault, no munmap/madvise/brk/mremap since): saves walking the page tables again.
   */
  vmas?: readonly ResidentVma[];
  /** Also split the 4096 bytes of the page holding this address by cause ({@link AccountDetail.page}). */
  page?: number;
  /**
   * Keep the account incremental with this tracker (one per process, used for every account
   * of it): only what lies on pages written since its previous account is read again. `vmas`
   * is then ignored (the tracker lists the pages itself).
   */
  tracker?: SoftDirtyTracker;
}

/** Everything an account found, for the pins and the trim dry run. */
export interface AccountDetail {
  /** The account. */
  readonly account: Account;
  /** The ledger, finished (every resident byte has a cause). */
  readonly ledger: ResidentLedger;
  /** The resident pages by VMA. */
  readonly vmas: readonly ResidentVma[];
  /** pymalloc's part, when there is pymalloc. */
  readonly pymalloc: PymallocFindings | undefined;
  /** The C library's part. */
  readonly libc: LibcFindings;
  /** With `options.page`: that page's bytes by cause (4096 in all when it is resident, else empty). */
  readonly page: Record<string, number>;
}

/** Whether the stack's `PYTHONMALLOC` preset installs PyMem's debug hooks. */
export function usesDebugHooks(stack: InspectedStack): boolean {
  const preset = stack.options?.pythonMalloc ?? "default";
  return preset === "debug" || preset === "malloc_debug" || preset === "pymalloc_debug";
}

/**
 * The account of every resident anonymous byte of the stack's process, by cause: each
 * resident page's 4096 bytes are split among the causes of the byte ranges on it, and
 * the causes sum to RssAnon exactly (checked: a mismatch throws, naming both sums).
 * Page tables (VmPTE) and shmem pages are not RssAnon: they are reported in `outside`.
 */
export function accountDetail(stack: InspectedStack, options: AccountOptions = {}): AccountDetail {
  const process = stack.process;
  const tracker = options.tracker;
  const vmas = tracker !== undefined ? tracker.begin(process) : (options.vmas ?? residentAnonPages(process));
  const ledger = new ResidentLedger(vmas, options.page);
  const debug = usesDebugHooks(stack);
  const py = stack.pymalloc === undefined ? undefined : accountPymalloc(stack.pymalloc, ledger, debug, tracker?.pools);
  const arenaSize = stack.pymalloc?.params.arenaSize ?? 0;
  const skip = (py?.arenas ?? []).map((a) => [a.base, a.base + arenaSize] as const).sort((x, y) => x[0] - y[0]);
  const structures = py?.structures ?? new Map<number, string>();
  const g = stack.libc;
  const requested = options.requested ?? options.requestedOf;
  const libc =
    g instanceof GlibcMalloc
      ? // incremental: the heap walk's result is replayed while nothing outside the arenas changed
        tracker !== undefined && requested === undefined && ledger.watchedPage < 0
        ? tracker.libc.part(g, ledger, vmas, skip, structures, () => accountGlibc(g, ledger, vmas, structures, skip, debug, undefined))
        : accountGlibc(g, ledger, vmas, structures, skip, debug, requested)
      : accountTlsf(g, ledger, vmas, structures, skip, debug);
  const causes: Record<string, number> = {};
  let sum = 0;
  for (const [cause, bytes] of [...ledger.finish()].sort((x, y) => y[1] - x[1])) {
    if (bytes === 0) continue;
    causes[cause] = bytes;
    sum += bytes;
  }
  const rssAnon = process.mm.rssAnon * 4096;
  if (sum !== rssAnon) {
    throw new Error(`insight: the causes sum to ${sum} bytes but RssAnon is ${rssAnon} (pid ${process.pid}): a resident page escaped the account`);
  }
  let liveRequested = options.liveRequested;
  if (liveRequested === undefined && options.requested !== undefined) {
    liveRequested = 0;
    for (const bytes of options.requested.values()) liveRequested += bytes;
  }
  const outside: Record<string, number> = { "kernel.page-tables": process.mm.pageTable.tablePages * 4096 };
  if (process.mm.rssShmem > 0) outside["shmem.pages"] = process.mm.rssShmem * 4096;
  const account: Account = {
    rssAnon,
    vmRss: process.mm.rss * 4096,
    causes,
    outside,
    liveUsable: (py?.liveUsable ?? 0) + libc.liveUsable,
    liveRequested,
    liveBlocks: (py?.liveBlocks ?? 0) + libc.liveBlocks,
  };
  tracker?.commit();
  return { account, ledger, vmas, pymalloc: py, libc, page: Object.fromEntries(ledger.watched) };
}

/**
 * The causes of the 4096 bytes of the resident page holding `address` (empty when the page
 * is not resident): the per-page view of the account. Summed over every resident page they
 * give the account's causes.
 */
export function pageAccount(stack: InspectedStack, address: number): Record<string, number> {
  return accountDetail(stack, { page: address }).page;
}

/** {@link accountDetail}'s account alone. */
export function account(stack: InspectedStack, options: AccountOptions = {}): Account {
  return accountDetail(stack, options).account;
}
