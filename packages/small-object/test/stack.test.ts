/**
 * pymalloc inside the stack: @mem/pymem installs it in the MEM and OBJ domains of a
 * process of @mem/os-vm, whose mmap gives the arenas (demand-paged) and whose memory holds
 * every pool header, with @mem/libc-malloc's glibc model behind the raw domain.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { PymallocOptions } from "../src/index.js";
import { replayOn } from "./helpers/replay.js";
import { makeStack, pymemTarget } from "./helpers/stack.js";

/** The /proc/<pid>/maps line whose range holds `address` ("" when none does). */
function vmaOf(maps: string, address: number): string {
  for (const line of maps.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m && address >= Number.parseInt(m[1]!, 16) && address < Number.parseInt(m[2]!, 16)) return line;
  }
  return "";
}

/** Bytes mapped in total according to /proc/<pid>/maps (the vsyscall page excluded). */
function mappedBytes(maps: string): number {
  let total = 0;
  for (const line of maps.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m && !line.includes("[vsyscall]")) total += Number.parseInt(m[2]!, 16) - Number.parseInt(m[1]!, 16);
  }
  return total;
}

const stack = (options: PymallocOptions = {}) => {
  const s = makeStack("default", options);
  return { ...s, pm: s.pm! };
};

describe("pymalloc in the stack (pymem + glibc malloc + os-vm)", () => {
  it("one pymalloc serves MEM and OBJ; arenas are 1 MiB private anonymous mappings of the process", () => {
    const { process, py, pm } = stack();
    const a = py.objectMalloc(100);
    const b = py.memMalloc(100);
    expect(b).toBe(a + 112); // the same pool: MEM and OBJ share one instance
    expect(pm.owns(a)).toBe(true);
    const base = pm.host.memory.load64(pm.arenas);
    expect(a - base).toBeLessThan(2 * 16384);
    // the kernel merges the arena with an adjacent anonymous mapping, as Linux does
    expect(vmaOf(process.maps(), base)).toMatch(/ rw-p 00000000 00:00 0 *$/);
    expect(vmaOf(process.maps(), base + (1 << 20) - 1)).toBe(vmaOf(process.maps(), base));
    py.objectFree(a);
    py.memFree(b);
    const big = py.objectMalloc(1000); // above the threshold: the raw domain's malloc
    expect(pm.owns(big)).toBe(false);
    expect(pm.allocatedBlocks()).toBe(1);
    pm.check();
  });

  it("releases arenas with munmap: the mapping disappears from /proc/<pid>/maps", () => {
    const { process, py, pm } = stack();
    const blocks: number[] = [];
    for (let i = 0; i < 31 * 64 * 3; i++) blocks.push(py.objectMalloc(512));
    const arenas = pm.narenasCurrentlyAllocated; // 3, or 4 when the arenas are not 16 KiB-aligned
    expect(arenas).toBeGreaterThanOrEqual(3);
    const before = mappedBytes(process.maps());
    for (const p of blocks) py.objectFree(p);
    expect(pm.narenasCurrentlyAllocated).toBe(1);
    expect(before - mappedBytes(process.maps())).toBe((arenas - 1) * (1 << 20));
    pm.check();
  });

  it("replays the recorded CPython start-up through pymem and the kernel: the real statistics", { timeout: 60_000 }, () => {
    const { process, py, pm } = stack();
    const url = new URL("./fixtures/recordings/startup.memtrace.gz", import.meta.url);
    const trace = gunzipSync(readFileSync(url)).toString("utf8");
    const result = replayOn(trace, pymemTarget(py, pm), { trim: true });
    expect(pm.debugMallocStats()).toBe(readFileSync(new URL("./fixtures/recordings/startup.stats.txt", import.meta.url), "utf8"));
    expect(result.blocksCompared).toBeGreaterThan(10_000);
    // with trim, each arena is exactly one 1 MiB mapping at the recorded alignment
    const base = pm.host.memory.load64(pm.arenas);
    expect(vmaOf(process.maps(), base)).toMatch(/ rw-p /);
    const recorded = Number.parseInt(/^A \d+ 0x([0-9a-f]+)$/m.exec(trace)![1]!, 16);
    expect(base % 16384).toBe(recorded % 16384); // placed at the recorded alignment
    pm.check();
  });

  for (const version of ["3.8", "3.11"] as const) {
    it(`replays the ${version} probe churn through the whole stack (raw pointers checked by ${version === "3.8" ? "the arenaindex trick, reading glibc's pages" : "the radix tree"})`, () => {
      const { py, pm } = stack({ version });
      const dir = new URL("./fixtures/probe/", import.meta.url);
      const trace = gunzipSync(readFileSync(new URL(`churn-small-${version}.memtrace.gz`, dir))).toString("utf8");
      replayOn(trace, pymemTarget(py, pm), { trim: true });
      expect(pm.debugMallocStats()).toBe(readFileSync(new URL(`churn-small-${version}.stats.txt`, dir), "utf8"));
      expect(pm.allocatedBlocks()).toBe(Number(/^# allocated-blocks (\d+)$/m.exec(trace)![1]));
      pm.check();
    });
  }
});
