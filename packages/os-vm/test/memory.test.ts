import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BARE_IMAGE, MADV_DONTNEED, MADV_FREE, PROT_NONE, PROT_READ, SegmentationFault, checkKernel } from "../src/index.js";
import { ANON, RW, boot, statusKb } from "./helpers.js";

function fault(f: () => unknown): SegmentationFault {
  try {
    f();
  } catch (error) {
    if (error instanceof SegmentationFault) return error;
    throw error;
  }
  throw new Error("no fault");
}

describe("the Memory interface at virtual addresses", () => {
  it("implements every access width, bigints and ranges across page boundaries", () => {
    const { proc } = boot();
    const mem = proc.memory;
    const p = proc.mmap(0, 3 * 4096, RW, ANON);
    mem.store64Big(p + 4092, 0xfedcba9876543210n);
    expect(mem.load64Big(p + 4092)).toBe(0xfedcba9876543210n);
    expect(mem.load32(p + 4092)).toBe(0x76543210);
    expect(mem.load32(p + 4096)).toBe(0xfedcba98);
    expect(() => mem.load64(p + 4092)).toThrow(/above 2\^53-1; read it with load64Big/);
    mem.store16(p + 4095, 0xabcd);
    expect(mem.load8(p + 4095)).toBe(0xcd);
    expect(mem.load8(p + 4096)).toBe(0xab);
    const bytes = Uint8Array.from({ length: 6000 }, (_, i) => i & 0xff);
    mem.write(p + 3000, bytes);
    expect(mem.read(p + 3000, 6000)).toEqual(bytes);
    mem.copy(p + 3001, p + 3000, 6000); // overlapping, like memmove
    expect(mem.load8(p + 3001)).toBe(0);
    expect(mem.load8(p + 9000)).toBe((5999 & 0xff));
    mem.fill(p + 100, 8000, 0x5a);
    const target = new Uint8Array(8000);
    mem.readInto(p + 100, target);
    expect(target.every((b) => b === 0x5a)).toBe(true);
    expect(mem.size).toBe(2 ** 47);
  });

  it("raises a range fault before changing any byte", () => {
    const { proc } = boot({}, { image: BARE_IMAGE });
    const mem = proc.memory;
    const p = proc.mmap(0, 2 * 4096, RW, ANON);
    proc.mprotect(p + 4096, 4096, PROT_READ);
    const error = fault(() => mem.fill(p + 4000, 200, 7));
    expect(error).toMatchObject({ code: "SEGV_ACCERR", address: p + 4096, access: "write" });
    expect(mem.load8(p + 4000)).toBe(0);
    expect(fault(() => mem.write(p + 4090, new Uint8Array(10))).address).toBe(p + 4096);
    expect(fault(() => mem.copy(p + 4090, p, 10)).code).toBe("SEGV_ACCERR");
    expect(fault(() => mem.read(p + 4000, 10000)).code).toBe("SEGV_MAPERR");
    expect(fault(() => mem.store64(p + 8188, 1)).address).toBe(p + 8188);
    expect(mem.load32(p + 4092)).toBe(0);
  });

  it("reports faults with their si_code, address and access in the message", () => {
    const { proc } = boot();
    const p = proc.mmap(0, 4096, PROT_NONE, ANON);
    const accerr = fault(() => proc.memory.load8(p + 5));
    expect(accerr.message).toBe(
      `os-vm: segmentation fault (SIGSEGV, SEGV_ACCERR) in pid 1: read at 0x${(p + 5).toString(16)}: ` +
        `the mapping 0x${p.toString(16)}-0x${(p + 4096).toString(16)} ---p does not allow reading`,
    );
    expect(fault(() => proc.memory.load8(0)).message).toBe("os-vm: segmentation fault (SIGSEGV, SEGV_MAPERR) in pid 1: read at 0x0: no mapping at this address");
    expect(fault(() => proc.memory.store8(2 ** 47, 1)).code).toBe("SI_KERNEL");
    expect(fault(() => proc.memory.load8(-1)).code).toBe("SI_KERNEL");
    expect(() => proc.memory.load8(1.5)).toThrow(TypeError);
    expect(() => proc.memory.store8(p, 256)).toThrow(RangeError);
  });

  it("maps the zero page on a read, copies on the first write, and counts both faults", () => {
    const { proc } = boot();
    const p = proc.mmap(0, 4096, RW, ANON);
    expect(proc.memory.load64(p)).toBe(0);
    expect(proc.faults).toEqual({ minor: 1, major: 0 });
    expect(statusKb(proc.status(), "RssAnon")).toBe(0);
    proc.memory.store64(p, 99);
    expect(proc.faults.minor).toBe(2);
    expect(statusKb(proc.status(), "RssAnon")).toBe(4);
    expect(proc.memory.load64(p)).toBe(99);
    proc.madvise(p, 4096, MADV_DONTNEED);
    expect(proc.memory.load64(p)).toBe(0);
    expect(statusKb(proc.status(), "RssAnon")).toBe(0);
  });

  it("shares MAP_SHARED pages as RssShmem and shows them as /dev/zero (deleted)", () => {
    const { proc } = boot();
    const p = proc.mmap(0, 8192, RW, 0x21);
    proc.memory.load8(p);
    expect(statusKb(proc.status(), "RssShmem")).toBe(4);
    expect(proc.maps()).toMatch(new RegExp(`^${p.toString(16)}-${(p + 8192).toString(16)} rw-s 00000000 00:01 \\d+ +/dev/zero \\(deleted\\)$`, "m"));
  });

  it("keeps MADV_FREE pages until memory runs short, then discards the clean ones", () => {
    const { kernel, proc } = boot({ overcommitMemory: 1 }, { image: BARE_IMAGE }, 4 * 1024 * 1024);
    const lazy = proc.mmap(0, 64 * 4096, RW, ANON);
    for (let i = 0; i < 64; i++) proc.memory.store8(lazy + i * 4096, 1);
    proc.madvise(lazy, 64 * 4096, MADV_FREE);
    proc.memory.store8(lazy, 2); // written again: no longer lazily freeable
    expect(statusKb(proc.status(), "RssAnon")).toBe(256);
    const big = proc.mmap(0, 2048 * 4096, RW, ANON);
    let touched = 0;
    // touch pages until RAM has run out once: the next fault reclaims the clean lazy pages
    while (kernel.pages.freePages > 0) proc.memory.store8(big + touched++ * 4096, 1);
    proc.memory.store8(big + touched * 4096, 1);
    expect(kernel.pages.freePages).toBe(62); // 63 discarded, one of them taken by this fault
    expect(kernel.oomKills).toBe(0); // reclaim sufficed: no OOM kill
    expect(proc.memory.load8(lazy)).toBe(2); // dirty again: kept
    expect(proc.memory.load8(lazy + 4096)).toBe(0); // discarded, reads as zero
    expect(checkKernel(kernel, [proc])).toEqual([]);
  });
});

describe("layout options", () => {
  it("does not align 2 MiB maps as Linux 6.1 without THP alignment", () => {
    const { proc } = boot({ thpAlignment: false });
    expect(proc.mmap(0, 4096, RW, ANON)).toBe(0x7ffff7fbf000);
    expect(proc.mmap(0, 2 << 20, RW, ANON)).toBe(0x7ffff7bd2000);
  });

  it("randomises the layout reproducibly with a seed", () => {
    const a = boot({}, { aslrSeed: 42 }).proc;
    const b = boot({}, { aslrSeed: 42 }).proc;
    const c = boot({}, { aslrSeed: 43 }).proc;
    expect(a.maps()).toBe(b.maps());
    expect(a.maps()).not.toBe(c.maps());
    const brk = a.brk(0);
    expect(brk % 4096).toBe(0);
    expect(brk - 0x555555559000).toBeGreaterThanOrEqual(4096);
    expect(a.mmap(0, 4096, RW, ANON)).toBeLessThan(0x7ffff7fbf000 - 16 * 2 ** 30);
  });

  it("prints /proc/buddyinfo lines in the recorded format", () => {
    const { kernel } = boot();
    const recorded = readFileSync(new URL("fixtures/buddyinfo.txt", import.meta.url), "utf8").split("\n")[0]!;
    expect(kernel.buddyinfo().split("\n").map((l) => l.length > 0 && /^Node 0, zone +\w+( +\d+){11} $/.test(l))).toEqual([true, true, false]);
    expect(recorded).toMatch(/^Node 0, zone +\w+( +\d+){11} $/);
  });
});

describe("shared anonymous memory", () => {
  it("keeps the shmem file alive when mremap moves its only mapping (regression)", () => {
    const { kernel, proc } = boot();
    const p = proc.mmap(0x300000000000, 4096, RW, 0x31);
    proc.memory.store32(p, 77);
    proc.mmap(p + 4096, 4096, RW, ANON | 0x10); // something right after it: mremap must move
    const q = proc.mremap(p, 4096, 2 * 4096, 1);
    expect(q).not.toBe(p);
    expect(proc.memory.load32(q)).toBe(77);
    proc.memory.store32(q + 4096, 78);
    expect(checkKernel(kernel, [proc])).toEqual([]);
  });

  it("keeps a shmem page in its file after MADV_DONTNEED, until MADV_REMOVE or the last munmap", () => {
    const { kernel, proc } = boot();
    const shmem = (): number => Number(/^Shmem: +(\d+) kB$/m.exec(kernel.meminfo())![1]);
    const p = proc.mmap(0, 2 * 4096, RW, 0x21);
    proc.memory.store32(p, 1234);
    proc.memory.store32(p + 4096, 5678);
    expect(shmem()).toBe(8);
    proc.madvise(p, 2 * 4096, MADV_DONTNEED);
    expect(statusKb(proc.status(), "RssShmem")).toBe(0);
    expect(proc.memory.load32(p)).toBe(1234); // as Linux: the data lives in the shmem file
    proc.madvise(p, 4096, 9 /* MADV_REMOVE */);
    expect(proc.memory.load32(p)).toBe(0);
    expect(proc.memory.load32(p + 4096)).toBe(5678);
    const child = proc.fork();
    proc.munmap(p, 2 * 4096);
    expect(child.memory.load32(p + 4096)).toBe(5678); // the child still maps the file
    expect(checkKernel(kernel, [proc, child])).toEqual([]);
    kernel.exit(child.pid);
    expect(shmem()).toBe(0);
    expect(checkKernel(kernel, [proc])).toEqual([]);
  });
});
