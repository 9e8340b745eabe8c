import type { GlibcMalloc } from "@mem/libc-malloc";
import { describe, expect, it } from "vitest";
import { account, accountDetail } from "../src/index.js";
import { makeStack } from "./support.js";

const sum = (causes: Record<string, number>): number => Object.values(causes).reduce((a, b) => a + b, 0);

describe("account", () => {
  it("accounts for every resident byte of a fresh stack", () => {
    const s = makeStack();
    const a = account(s);
    expect(sum(a.causes)).toBe(a.rssAnon);
    expect(a.rssAnon).toBe(s.process.mm.rssAnon * 4096);
  });

  it("reads glibc's heap with the lean walk: its chunks, built when asked for, are walkHeap's", () => {
    const s = makeStack();
    const raws: number[] = [];
    for (let i = 0; i < 300; i++) raws.push(s.pymem.rawMalloc(600 + (i % 7) * 300));
    for (let i = 0; i < raws.length; i += 3) s.pymem.rawFree(raws[i]!);
    const d = accountDetail(s);
    const g = s.libc as GlibcMalloc;
    expect(d.libc.chunkStates?.count).toBe(g.walkHeap().length);
    expect(d.libc.chunks).toEqual(g.walkHeap());
    expect(d.libc.chunks.some((c) => c.state === "bin") && d.libc.chunks.some((c) => c.state === "tcache")).toBe(true);
  });

  it("splits pymalloc's arena and glibc's heap by cause, summing to RssAnon", () => {
    const s = makeStack();
    const objs: number[] = [];
    for (let i = 0; i < 5000; i++) objs.push(s.pymem.objectMalloc(64));
    const raw = s.pymem.rawMalloc(2000);
    const big = s.pymem.rawMalloc(300_000);
    for (let i = 0; i < objs.length; i += 2) s.pymem.objectFree(objs[i]!);
    const a = account(s);
    expect(sum(a.causes)).toBe(a.rssAnon);
    expect(a.causes["pymalloc.live-blocks"]).toBe(2500 * 64);
    // the last pool carved one block ahead: its free list holds the next virgin block
    expect(a.causes["pymalloc.free-blocks"]).toBe(2501 * 64);
    expect(a.causes["glibc.in-use"]).toBeGreaterThanOrEqual(2000);
    expect(a.causes["glibc.mmapped-payload"]).toBeGreaterThan(0);
    expect(a.causes["glibc.main-arena"]).toBe(0x898);
    expect(a.causes["pymalloc.arena-objects"]).toBeGreaterThan(0);
    expect(a.outside["kernel.page-tables"]).toBe(s.process.mm.pageTable.tablePages * 4096);
    expect(raw).not.toBe(0);
    expect(big).not.toBe(0);
  });

  it("leaves the process untouched: RSS, faults and page tables are the same after an account", () => {
    const s = makeStack();
    for (let i = 0; i < 100; i++) s.pymem.objectMalloc(100);
    s.pymem.rawMalloc(500_000);
    const before = [s.process.mm.rssAnon, s.process.faults.minor, s.process.mm.pageTable.tablePages];
    accountDetail(s);
    expect([s.process.mm.rssAnon, s.process.faults.minor, s.process.mm.pageTable.tablePages]).toEqual(before);
  });
});
