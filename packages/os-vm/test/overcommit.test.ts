import { describe, expect, it } from "vitest";
import { MAP_NORESERVE, PROT_NONE, PROT_READ, SyscallError } from "../src/index.js";
import { ANON, RW, boot } from "./helpers.js";

const MiB = 1024 * 1024;

describe("commit accounting (Committed_AS)", () => {
  it("charges writable private mappings, not NORESERVE or read-only ones, as recorded (test/live/commit.c)", () => {
    const { kernel, proc } = boot({}, {}, 1024 * MiB);
    const committed = (): number => kernel.committedPages * 4;
    let before = committed();
    const reserve = proc.mmap(0, 1024 * MiB, PROT_NONE, ANON | MAP_NORESERVE);
    expect(committed() - before).toBe(0);
    proc.mprotect(reserve, 512 * MiB, RW);
    expect(committed() - before).toBe(0); // VM_NORESERVE: never charged
    before = committed();
    const plain = proc.mmap(0, 1024 * MiB, PROT_NONE, ANON);
    expect(committed() - before).toBe(0);
    proc.mprotect(plain, 512 * MiB, RW);
    expect(committed() - before).toBe(524288); // the part made writable gains VM_ACCOUNT
    proc.munmap(plain, 1024 * MiB);
    expect(committed() - before).toBe(0);
  });

  it("mode 0 refuses one request larger than RAM; mode 1 never; mode 2 beyond CommitLimit", () => {
    const { kernel, proc } = boot({}, {}, 64 * MiB);
    expect(() => proc.mmap(0, 100 * MiB, RW, ANON)).toThrow(/ENOMEM.*overcommit policy/);
    expect(proc.mmap(0, 100 * MiB, PROT_READ, ANON)).toBeGreaterThan(0);
    expect(proc.mmap(0, 100 * MiB, RW, ANON | MAP_NORESERVE)).toBeGreaterThan(0);
    const fifty = proc.mmap(0, 50 * MiB, RW, ANON);
    const fiftyAgain = proc.mmap(0, 50 * MiB, RW, ANON); // each request alone fits: heuristic mode
    kernel.overcommitMemory = 1;
    const huge = proc.mmap(0, 1024 * MiB, RW, ANON);
    proc.munmap(huge, 1024 * MiB);
    proc.munmap(fifty, 50 * MiB);
    proc.munmap(fiftyAgain, 50 * MiB);
    kernel.overcommitMemory = 2;
    // CommitLimit = 50 % of MemTotal; NORESERVE is ignored in mode 2
    expect(kernel.meminfo()).toMatch(new RegExp(`^CommitLimit: +${Math.floor((kernel.pages.totalPages * 50) / 100) * 4} kB$`, "m"));
    const room = kernel.commitLimit - kernel.committedPages;
    expect(() => proc.mmap(0, (room + 1) * 4096, RW, ANON | MAP_NORESERVE)).toThrow(SyscallError);
    const fits = proc.mmap(0, room * 4096, RW, ANON);
    expect(proc.brk(proc.brk(0) + 4096)).toBe(proc.brk(0)); // the break cannot grow either
    expect(() => proc.fork()).toThrow(/fork\(\) failed: ENOMEM/);
    proc.munmap(fits, room * 4096);
    expect(proc.fork().pid).toBe(2);
  });
});
