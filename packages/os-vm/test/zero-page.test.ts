/**
 * The kernel option `zeroPage`: a read of fresh private anonymous memory maps the shared zero
 * page (Linux on this machine: 0 kB of RssAnon after reading 256 pages, measured with
 * mmap + /proc/self/status) or, with `zeroPage: false`, allocates a page per read fault as
 * the kernels that do not use the zero page there do (`RssAnon +32768 kB` after reading
 * 32 MiB, reported from a Debian 13 machine).
 */
import { describe, expect, it } from "vitest";
import { PROT_READ } from "../src/index.js";
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
});
