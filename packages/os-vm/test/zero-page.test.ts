/**
 * The kernel option `zeroPage`: a read of fresh private anonymous memory maps the shared zero
 * page (Linux on this machine: 0 kB of RssAnon after reading 256 pages, measured with
 * mmap + /proc/self/status) or, with `zeroPage: false`, allocates a page per read fault as
 * the kernels that do not use the zero page there do (`RssAnon +32768 kB` after reading
 * 32 MiB, reported from a Debian 13 machine).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PROT_READ, checkKernel } from "../src/index.js";
import { ANON, RW, boot, statusKb } from "./helpers.js";

const PAGES = 256;

describe("reading fresh anonymous memory", () => {
  it("maps the zero page by default: no RSS, one fault a page", () => {
    const { proc } = boot();
    const before = statusKb(proc.status(), "RssAnon");
    const p = proc.mmap(0, PAGES * 4096, RW, ANON);
    for (let i = 0; i < PAGES; i++) expect(proc.memory.load8(p + i * 4096)).toBe(0);
    expect(statusKb(proc.status(), "RssAnon") - before).toBe(0);
    expect(proc.faults.minor).toBeGreaterThanOrEqual(PAGES);
  });

  it("with zeroPage: false allocates a page a read (RssAnon grows), and writes then take no new fault", () => {
    const { proc } = boot({ zeroPage: false });
    const before = statusKb(proc.status(), "RssAnon");
    const p = proc.mmap(0, PAGES * 4096, RW, ANON);
    for (let i = 0; i < PAGES; i++) expect(proc.memory.load8(p + i * 4096)).toBe(0);
    expect(statusKb(proc.status(), "RssAnon") - before).toBe(PAGES * 4);
    const faults = proc.faults.minor;
    for (let i = 0; i < PAGES; i++) proc.memory.store8(p + i * 4096, 7);
    expect(proc.faults.minor).toBe(faults);
    expect(proc.memory.load8(p)).toBe(7);
  });

  it("with zeroPage: false a read-only mapping gets read-only pages (a write still faults SEGV)", () => {
    const { proc } = boot({ zeroPage: false });
    const p = proc.mmap(0, 4096, PROT_READ, ANON);
    expect(proc.memory.load8(p)).toBe(0);
    expect(statusKb(proc.status(), "RssAnon")).toBeGreaterThanOrEqual(4);
    expect(() => proc.memory.store8(p, 1)).toThrow(/does not allow writing/);
  });

  it("property: RssAnon counts the pages written (zero page) or every page touched (zeroPage: false), and the kernel stays consistent", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.tuple(fc.boolean(), fc.nat(63), fc.nat(4095)), { maxLength: 80 }), (zeroPage, accesses) => {
        const { kernel, proc } = boot({ zeroPage });
        const before = statusKb(proc.status(), "RssAnon");
        const p = proc.mmap(0, 64 * 4096, RW, ANON);
        const touched = new Set<number>();
        const written = new Set<number>();
        for (const [write, page, offset] of accesses) {
          if (write) {
            proc.memory.store8(p + page * 4096 + offset, 1);
            written.add(page);
          } else proc.memory.load8(p + page * 4096 + offset);
          touched.add(page);
        }
        expect(statusKb(proc.status(), "RssAnon") - before).toBe(4 * (zeroPage ? written : touched).size);
        expect(checkKernel(kernel, [proc])).toEqual([]);
        proc.munmap(p, 64 * 4096);
        expect(statusKb(proc.status(), "RssAnon")).toBe(before);
        expect(checkKernel(kernel, [proc])).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
