import { readFileSync } from "node:fs";
import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import {
  BARE_IMAGE,
  Kernel,
  ProcessKilledError,
  SegmentationFault,
  SyscallError,
  checkKernel,
  formatOomKill,
  formatOomTasks,
  oomBadness,
  oomScore,
  selectBadProcess,
  type OomCandidate,
  type Process,
} from "../src/index.js";
import { ANON, RW } from "./helpers.js";

const MiB = 1024 * 1024;
const PAGE = 4096;

/** A kernel on `ramMiB` of RAM (overcommit always, so that only page faults can run out). */
function machine(ramMiB: number): Kernel {
  return new Kernel({ ram: new PhysicalMemory({ size: ramMiB * MiB }), overcommitMemory: 1 });
}

/** Writes one byte to each of `pages` pages from `start`. */
function touch(proc: Process, start: number, pages: number): void {
  for (let i = 0; i < pages; i++) proc.memory.store8(start + i * PAGE, 1);
}

/** Takes every free frame left (the test gives them back with `release`). */
function exhaust(kernel: Kernel): number[] {
  const taken: number[] = [];
  while (kernel.pages.freePages > 0) taken.push(kernel.pages.alloc(0, "the test"));
  return taken;
}

function release(kernel: Kernel, frames: number[]): void {
  for (const pfn of frames) kernel.pages.release(pfn, 0);
}

/** The "Killed process" lines of the kernel log, oldest first. */
function kills(kernel: Kernel): string[] {
  return kernel.log.filter((line) => line.includes(": Killed process "));
}

function candidate(pid: number, rss: number, swap: number, tables: number, adj: number): OomCandidate {
  return { pid, comm: "p", uid: 0, oomScoreAdj: adj, hasExited: false, mm: { rssAnon: rss, rssShmem: 0, swapEntries: swap, totalVm: rss, pageTable: { tablePages: tables } } };
}

describe("oom_badness and select_bad_process", () => {
  it("counts RSS, swap entries and page-table pages, and scales oom_score_adj by (RAM + swap) / 1000", () => {
    expect(oomBadness(candidate(1, 100, 20, 3, 0), 262144)).toBe(123);
    expect(oomBadness(candidate(1, 100, 20, 3, 500), 262144)).toBe(123 + 500 * 262);
    expect(oomBadness(candidate(1, 100, 20, 3, -1), 262144)).toBe(123 - 262);
    expect(oomBadness(candidate(1, 100, 20, 3, -1000), 262144)).toBeUndefined();
  });

  it("chooses the most points; a later pid wins a tie; -1000 is never chosen", () => {
    expect(selectBadProcess([candidate(1, 10, 0, 1, 0), candidate(2, 50, 0, 1, 0), candidate(3, 20, 0, 1, 0)], 1000)?.victim.pid).toBe(2);
    expect(selectBadProcess([candidate(2, 10, 0, 0, 0), candidate(1, 10, 0, 0, 0)], 1000)?.victim.pid).toBe(2);
    expect(selectBadProcess([candidate(1, 900, 0, 0, -1000), candidate(2, 1, 0, 0, 0)], 1000)?.victim.pid).toBe(2);
    expect(selectBadProcess([candidate(1, 900, 0, 0, -1000)], 1000)).toBeUndefined();
  });

  it("scales the badness into /proc/PID/oom_score as this machine does (fixtures/oom-score.txt)", () => {
    const fields = new Map<string, number>();
    for (const line of readFileSync(new URL("./fixtures/oom-score.txt", import.meta.url), "utf8").split("\n")) {
      const m = /^(\w+): (\d+)/.exec(line);
      if (m) fields.set(m[1]!, Number(m[2]));
    }
    const totalPages = (fields.get("MemTotal")! + fields.get("SwapTotal")!) / 4;
    const p = candidate(1, fields.get("VmRSS")! / 4, fields.get("VmSwap")! / 4, fields.get("VmPTE")! / 4, 0);
    expect(oomScore(p, totalPages)).toBe(fields.get("oom_score"));
    expect(oomScore(candidate(1, 0, 0, 0, 0), totalPages)).toBe(666);
    expect(oomScore(candidate(1, 0, 0, 0, -1000), totalPages)).toBe(0);
    const kernel = machine(4);
    const proc = kernel.createProcess({ image: BARE_IMAGE });
    touch(proc, proc.mmap(0, 100 * PAGE, RW, ANON), 100);
    expect(kernel.oomScore(proc)).toBe(Math.trunc(((1000 + Math.trunc(((100 + proc.mm.pageTable.tablePages) * 1000) / kernel.pages.totalPages)) * 2) / 3));
  });

  it("dumps the tasks in the columns this machine's Linux 6.18 printed (fixtures/oom-memcg.txt)", () => {
    const recorded = readFileSync(new URL("./fixtures/oom-memcg.txt", import.meta.url), "utf8").split("\n");
    const victim = { ...candidate(14520, 8160, 0, 28, 0), comm: "oomtest" };
    (victim.mm as { totalVm: number }).totalVm = 8843;
    // rss 8413 there counts 253 file pages, which the simulator does not have
    const expected = recorded.slice(4, 7).map((line) => line.replace("     8413     8160      253", "     8160     8160        0"));
    expect(formatOomTasks([victim])).toEqual(expected);
  });

  it("prints the line in the format this machine's Linux 6.18 printed (fixtures/oom-memcg.txt)", () => {
    const recorded = readFileSync(new URL("./fixtures/oom-memcg.txt", import.meta.url), "utf8").split("\n")[2]!;
    const victim = { ...candidate(14520, 8160, 0, 28, 0), comm: "oomtest" };
    (victim.mm as { totalVm: number }).totalVm = 8843;
    // the simulator maps no files: file-rss is 0 where the real process had 1012 kB of libc pages
    expect(formatOomKill(victim, "Memory cgroup out of memory")).toBe(recorded.replace("file-rss:1012kB", "file-rss:0kB"));
  });
});

describe("the OOM killer", () => {
  it("kills the process with the highest badness; the faulting process gets its page and goes on", () => {
    const kernel = machine(4);
    const hog = kernel.createProcess({ image: BARE_IMAGE, comm: "hog" });
    const small = kernel.createProcess({ image: BARE_IMAGE, comm: "small" });
    const a = hog.mmap(0, 600 * PAGE, RW, ANON);
    touch(hog, a, 600);
    const b = small.mmap(0, 600 * PAGE, RW, ANON);
    const free = kernel.pages.freePages;
    let touched = 0;
    for (; touched < 600 && kernel.oomKills === 0; touched++) small.memory.store8(b + touched * PAGE, touched & 0xff);
    expect(kernel.oomKills).toBe(1);
    expect(touched).toBeGreaterThanOrEqual(free - 2);
    expect(kernel.log).toEqual([
      "small invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0",
      "Tasks state (memory values in pages):",
      "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
      "[      1]     0     1      634      600      600        0         0    32768        0             0 hog",
      `[      2]     0     2      634 ${String(touched - 1).padStart(8)} ${String(touched - 1).padStart(8)}        0         0    32768        0             0 small`,
      "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=hog,pid=1,uid=0",
      "Out of memory: Killed process 1 (hog) total-vm:2536kB, anon-rss:2400kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:32kB oom_score_adj:0",
    ]);
    expect(kernel.dmesg()).toBe(kernel.log.join("\n") + "\n");
    // the faulting store went through, and the survivor keeps running
    expect(small.memory.load8(b + (touched - 1) * PAGE)).toBe((touched - 1) & 0xff);
    touch(small, b, 600);
    // the victim is dead: SIGKILL on every call and access
    expect(hog.hasExited).toBe(true);
    const killed = hog.killedBy!;
    expect(killed).toBeInstanceOf(ProcessKilledError);
    expect(killed.signal).toBe(9);
    expect(killed.exitStatus).toBe(137);
    expect(killed.message).toBe(`os-vm: pid 1 (hog) was killed by SIGKILL: ${kills(kernel)[0]}`);
    expect(() => hog.memory.load8(a)).toThrow(killed);
    expect(() => hog.memory.store64(a, 1)).toThrow(killed);
    expect(() => hog.mmap(0, PAGE, RW, ANON)).toThrow(killed);
    expect(() => hog.munmap(a, PAGE)).toThrow(killed);
    expect(() => hog.brk(0)).toThrow(killed);
    expect(() => hog.sbrk(0)).toThrow(killed);
    expect(() => hog.fork()).toThrow(killed);
    expect("errno" in killed).toBe(false); // not a failed system call an allocator could turn into NULL
    expect(kernel.process(1)).toBeUndefined();
    expect(checkKernel(kernel, [hog, small])).toEqual([]);
    expect(kernel.committedPages).toBe(small.mm.committedPages);
  });

  it("kills the faulting process itself when it is the worst, and gives all its memory back", () => {
    const kernel = machine(2);
    const before = kernel.pages.freePages;
    const proc = kernel.createProcess({ image: BARE_IMAGE });
    const p = proc.mmap(0, 1024 * PAGE, RW, ANON);
    let error: unknown;
    try {
      touch(proc, p, 1024);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProcessKilledError);
    expect((error as ProcessKilledError).pid).toBe(1);
    expect(kernel.log[0]).toBe("bare invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0");
    expect(kills(kernel)[0]).toMatch(/^Out of memory: Killed process 1 \(bare\) total-vm:4\d{3}kB, anon-rss:\d+kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:\d+kB oom_score_adj:0$/);
    expect(kernel.pages.freePages).toBe(before);
    expect(kernel.committedPages).toBe(0);
    expect(kernel.counters.anonPages).toBe(0);
    expect(checkKernel(kernel, [proc])).toEqual([]);
  });

  it("spares oom_score_adj -1000 and prefers +1000", () => {
    const kernel = machine(4);
    const big = kernel.createProcess({ image: BARE_IMAGE, comm: "big", oomScoreAdj: -1000 });
    const small = kernel.createProcess({ image: BARE_IMAGE, comm: "small" });
    const third = kernel.createProcess({ image: BARE_IMAGE, comm: "third" });
    touch(big, big.mmap(0, 500 * PAGE, RW, ANON), 500);
    touch(small, small.mmap(0, 10 * PAGE, RW, ANON), 10);
    third.oomScoreAdj = 1000;
    expect(() => (third.oomScoreAdj = 1001)).toThrow(RangeError);
    const q = third.mmap(0, 1024 * PAGE, RW, ANON);
    expect(() => touch(third, q, 1024)).toThrow(ProcessKilledError); // third has +1000: it goes first
    expect(kills(kernel)[0]).toMatch(/Killed process 3 \(third\) .* oom_score_adj:1000$/);
    const r = small.mmap(0, 1024 * PAGE, RW, ANON);
    expect(() => touch(small, r, 1024)).toThrow(ProcessKilledError); // big is protected: small itself
    expect(big.hasExited).toBe(false);
    touch(big, big.mmap(0, 4 * PAGE, RW, ANON), 4);
    expect(checkKernel(kernel, [big, small, third])).toEqual([]);
  });

  it("a copy-on-write fault whose other sharer is killed frees the old frame (no leaked reference)", () => {
    const kernel = machine(4);
    const parent = kernel.createProcess({ image: BARE_IMAGE, comm: "parent" });
    const shared = parent.mmap(0, 8 * PAGE, RW, ANON);
    touch(parent, shared, 8);
    const child = parent.fork();
    touch(parent, parent.mmap(0, 64 * PAGE, RW, ANON), 64); // the parent is the worse one
    const taken = exhaust(kernel);
    child.memory.store8(shared, 7); // copy-on-write needs a frame: the parent is killed
    expect(kills(kernel)[0]).toMatch(/Killed process 1 \(parent\)/);
    expect(child.memory.load8(shared)).toBe(7);
    expect(child.memory.load8(shared + PAGE)).toBe(1);
    release(kernel, taken);
    expect(checkKernel(kernel, [parent, child])).toEqual([]);
  });

  it("a fork that runs out kills its parent when the parent is the worst: Committed_AS and RAM come back whole", () => {
    const kernel = machine(2);
    const before = kernel.pages.freePages;
    const parent = kernel.createProcess({ image: BARE_IMAGE });
    const p = parent.mmap(0, 300 * PAGE, RW, ANON);
    touch(parent, p, 300);
    const taken = exhaust(kernel);
    let error: unknown;
    try {
      parent.fork();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProcessKilledError);
    expect(kernel.log[0]).toMatch(/^bare invoked oom-killer: gfp_mask=0x400dc0\(GFP_KERNEL_ACCOUNT\|__GFP_ZERO\)/);
    expect(kernel.committedPages).toBe(0);
    release(kernel, taken);
    expect(kernel.pages.freePages).toBe(before);
    expect(checkKernel(kernel, [parent])).toEqual([]);
  });

  it("with nothing killable left, the fault fails with OutOfMemoryError (where Linux panics) and the log says why", () => {
    const kernel = machine(2);
    const proc = kernel.createProcess({ image: BARE_IMAGE, oomScoreAdj: -1000 });
    const p = proc.mmap(0, 1024 * PAGE, RW, ANON);
    expect(() => touch(proc, p, 1024)).toThrow(/os-vm: out of memory/);
    expect(kernel.log[3]).toMatch(/^\[ {6}1\] .* -1000 bare$/); // listed in the task dump, but never chosen
    expect(kernel.log.slice(-2)).toEqual(["Out of memory and no killable processes...", "Kernel panic - not syncing: System is deadlocked on memory"]);
    expect(checkKernel(kernel, [proc])).toEqual([]);
  });

  it("a killed process's failing calls are not segmentation faults or errno errors", () => {
    const kernel = machine(2);
    const proc = kernel.createProcess({ image: BARE_IMAGE });
    const p = proc.mmap(0, 1024 * PAGE, RW, ANON);
    expect(() => touch(proc, p, 1024)).toThrow(ProcessKilledError);
    for (const call of [() => proc.memory.load8(0x1000), () => proc.mprotect(p, PAGE, RW)]) {
      let error: unknown;
      try {
        call();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ProcessKilledError);
      expect(error).not.toBeInstanceOf(SegmentationFault);
      expect(error).not.toBeInstanceOf(SyscallError);
    }
  });
});

describe("starting a process when memory is short", () => {
  it("kills the worst process to build the new page tables; with nothing killable, fails and leaves nothing behind", () => {
    const kernel = machine(2);
    const hog = kernel.createProcess({ image: BARE_IMAGE, comm: "hog" });
    touch(hog, hog.mmap(0, 300 * PAGE, RW, ANON), 300);
    const taken = exhaust(kernel);
    const fresh = kernel.createProcess({ comm: "fresh" }); // needs a PGD and the image's tables
    expect(kernel.log[0]).toBe("kworker/0:0 invoked oom-killer: gfp_mask=0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), order=0, oom_score_adj=0");
    expect(kills(kernel)[0]).toMatch(/Killed process 1 \(hog\)/);
    expect(fresh.hasExited).toBe(false);
    fresh.exit();
    kernel.exit(fresh.pid);
    const rest = exhaust(kernel);
    release(kernel, rest.splice(0, 2)); // room for the PGD and one table, not for all of them
    const committed = kernel.committedPages;
    expect(() => kernel.createProcess()).toThrow(/os-vm: out of memory/);
    expect(kernel.committedPages).toBe(committed);
    expect(kernel.pages.freePages).toBe(2);
    release(kernel, [...taken, ...rest]);
    expect(kernel.pages.freePages).toBe(kernel.pages.totalPages - 1);
    expect(checkKernel(kernel, [])).toEqual([]);
  });
});

describe("the identity the OOM killer prints", () => {
  it("comm is cut to 15 characters and inherited by fork, as uid and oom_score_adj are; bad values are refused before anything is built", () => {
    const kernel = machine(4);
    const proc = kernel.createProcess({ image: BARE_IMAGE, comm: "a-very-long-command-name", uid: 1000, oomScoreAdj: 300 });
    expect(proc.comm).toBe("a-very-long-com");
    const child = proc.fork();
    expect([child.comm, child.uid, child.oomScoreAdj]).toEqual(["a-very-long-com", 1000, 300]);
    expect(kernel.createProcess().comm).toBe("a.out"); // the default image's executable, /tmp/a.out
    const free = kernel.pages.freePages;
    expect(() => kernel.createProcess({ uid: -1 })).toThrow(RangeError);
    expect(() => kernel.createProcess({ comm: "" })).toThrow(RangeError);
    expect(() => kernel.createProcess({ oomScoreAdj: 1001 })).toThrow(RangeError);
    expect(kernel.pages.freePages).toBe(free);
  });
});
