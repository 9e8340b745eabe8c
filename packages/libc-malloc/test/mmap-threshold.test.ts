import { describe, expect, it } from "vitest";
import { GlibcMalloc, M_MMAP_THRESHOLD, TlsfMalloc } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

const MIB = 1 << 20;
const isOwnMapping = (libc: GlibcMalloc | TlsfMalloc, p: number): boolean => p > libc.process.brk(0) + (1 << 30);

describe("currentMmapThreshold(): the size from which a request gets its own mmap", () => {
  it("glibc: 128 KiB at first; freeing a 1 MiB mmapped chunk raises it to that chunk's size", () => {
    // glibc 2.36 here (a C program): malloc(1 MiB) is mmapped, freed, and the next malloc(1 MiB)
    // comes from the brk heap, because free raised mp_.mmap_threshold to the chunk size.
    const g = new GlibcMalloc(freshProcess());
    expect(g.currentMmapThreshold()).toBe(128 * 1024);
    const a = g.malloc(MIB);
    expect(isOwnMapping(g, a)).toBe(true);
    g.free(a);
    expect(g.currentMmapThreshold()).toBe(MIB + 4096);
    expect(isOwnMapping(g, g.malloc(MIB))).toBe(false);
  });

  it("glibc: follows mallopt(M_MMAP_THRESHOLD)", () => {
    const g = new GlibcMalloc(freshProcess());
    g.mallopt(M_MMAP_THRESHOLD, 65536);
    expect(g.currentMmapThreshold()).toBe(65536);
  });

  it("TLSF: blocks of 256 KiB and more are mapped, smaller ones come from the heap", () => {
    const t = new TlsfMalloc(freshProcess());
    const threshold = t.currentMmapThreshold();
    expect(threshold).toBe(256 * 1024);
    const header = 16;
    expect(isOwnMapping(t, t.malloc(threshold - header))).toBe(true);
    expect(isOwnMapping(t, t.malloc(threshold - header - 16))).toBe(false);
  });
});
