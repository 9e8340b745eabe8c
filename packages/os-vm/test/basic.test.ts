import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  SegmentationFault,
  SyscallError,
} from "../src/index.js";
import { ANON, RW, boot, statusKb } from "./helpers.js";

const startMaps = readFileSync(new URL("fixtures/start-maps.txt", import.meta.url), "utf8");

describe("process start", () => {
  it("lays out the image as the recorded setarch -R C program", () => {
    const { proc } = boot();
    expect(proc.maps()).toBe(startMaps.replaceAll("/tmp/osvm/start2", "/tmp/a.out"));
  });
});

describe("mmap placement (recorded under setarch -R on 6.18)", () => {
  it("puts the first 4 KiB below the TLS pages and aligns 2 MiB maps", () => {
    const { proc } = boot();
    expect(proc.sbrk(0)).toBe(0x555555559000);
    expect(proc.mmap(0, 4096, RW, ANON)).toBe(0x7ffff7fbf000);
    expect(proc.mmap(0, 2 << 20, RW, ANON)).toBe(0x7ffff7a00000);
  });
});

describe("memory through page tables", () => {
  it("stores and loads through a mapping and keeps processes apart", () => {
    const { kernel, proc } = boot();
    const other = kernel.createProcess();
    const p = proc.mmap(0, 8192, RW, ANON);
    const q = other.mmap(0, 8192, RW, ANON);
    expect(q).toBe(p);
    proc.memory.store64(p + 8, 0x1234_5678_9abc);
    other.memory.store64(q + 8, 7);
    expect(proc.memory.load64(p + 8)).toBe(0x1234_5678_9abc);
    expect(other.memory.load64(q + 8)).toBe(7);
    proc.memory.store32(p + 4094, 0xdeadbeef); // straddles two pages
    expect(proc.memory.load32(p + 4094)).toBe(0xdeadbeef);
    expect(proc.memory.load16(p + 4094)).toBe(0xbeef);
    expect(proc.memory.load16(p + 4096)).toBe(0xdead);
  });

  it("raises SEGV_MAPERR on an unmapped address and SEGV_ACCERR on a read-only page, changing nothing", () => {
    const { proc } = boot();
    const p = proc.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    expect(() => proc.memory.store8(p, 1)).toThrow(SegmentationFault);
    try {
      proc.memory.store8(p, 1);
    } catch (error) {
      expect(error).toMatchObject({ code: "SEGV_ACCERR", address: p, access: "write" });
    }
    try {
      proc.memory.load8(0x1000);
    } catch (error) {
      expect(error).toMatchObject({ code: "SEGV_MAPERR", address: 0x1000, access: "read" });
    }
    const w = proc.mmap(0, 4096, RW, ANON);
    expect(w).toBe(p - 4096);
    // an 8-byte write straddling into the read-only page faults before changing a byte
    expect(() => proc.memory.store64(w + 4092, 0x0101010101)).toThrow(SegmentationFault);
    expect(proc.memory.load32(w + 4092)).toBe(0);
  });

  it("demand-pages: mapping costs no RSS, a read maps the zero page, a write a frame", () => {
    const { proc } = boot();
    const p = proc.mmap(0, 64 * 4096, RW, ANON);
    expect(statusKb(proc.status(), "VmRSS")).toBe(0);
    for (let i = 0; i < 32; i++) proc.memory.load8(p + i * 4096);
    expect(statusKb(proc.status(), "VmRSS")).toBe(0);
    expect(proc.faults.minor).toBe(32);
    for (let i = 0; i < 32; i++) proc.memory.store8(p + i * 4096, 1);
    expect(statusKb(proc.status(), "RssAnon")).toBe(128);
    expect(proc.faults.minor).toBe(64);
  });
});

describe("munmap and brk", () => {
  it("splits a mapping on a partial munmap and merges it back on MAP_FIXED", () => {
    const { proc } = boot();
    const q = proc.mmap(0, 5 * 4096, RW, ANON);
    proc.munmap(q + 4096, 4096);
    expect(proc.maps()).toContain(`${(q).toString(16)}-${(q + 4096).toString(16)} rw-p`);
    expect(() => proc.memory.load8(q + 4096)).toThrow(SegmentationFault);
    proc.mmap(q + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    expect(proc.maps()).toContain(`${q.toString(16)}-7ffff7fc2000 rw-p`); // merged with the TLS pages above
    expect(() => proc.mmap(q, 4096, RW, ANON | MAP_FIXED_NOREPLACE)).toThrow(/EEXIST/);
  });

  it("grows and shrinks the break", () => {
    const { proc } = boot();
    const start = proc.sbrk(0);
    expect(proc.sbrk(0x21000)).toBe(start);
    expect(proc.brk(0)).toBe(start + 0x21000);
    proc.memory.store32(start + 0x20ffc, 5);
    expect(proc.brk(start + 100)).toBe(start + 100);
    expect(() => proc.memory.load8(start + 0x1000)).toThrow(SegmentationFault);
    expect(proc.brk(start - 4096)).toBe(start + 100);
    // glibc's sbrk works from its cached break (start + 0x21000), which the raw brk calls did not update
    expect(proc.sbrk(-0x10000)).toBe(start + 0x21000);
    expect(proc.sbrk(0)).toBe(start + 0x11000);
    expect(() => proc.sbrk(0x7ffff0000000 - start)).toThrow(SyscallError);
    expect(() => proc.sbrk(0x7ffff0000000 - start)).toThrow(/ENOMEM/);
  });

  it("reports errno errors with the call in the message", () => {
    const { proc } = boot();
    expect(() => proc.mmap(0, 0, RW, ANON)).toThrow(
      "os-vm: mmap(0x0, 0, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) failed: EINVAL (Invalid argument): length is 0",
    );
  });
});
