import { describe, expect, it } from "vitest";
import { MemtraceSyntaxError, TraceRecord } from "@mem/memtrace";
import { PymallocError } from "@mem/small-object";
import { createStack } from "../src/stack.js";
import { ReplayError, Replayer } from "../src/replay.js";
import { built, mem, tempDir, cleanTempDirs } from "./cli-support.js";

cleanTempDirs();

function arenaLine(result: number): TraceRecord {
  const r = new TraceRecord();
  r.kind = "arena-alloc";
  r.size = 1 << 20;
  r.result = result;
  return r;
}

/** Found by fuzzing (issue 11): an unaligned `A` line surfaced an internal `munmap … EINVAL` and leaked a mapping. */
describe("replay: A lines with an impossible arena address", () => {
  it("a record with an unaligned arena address stops the replay at its line with a typed cause, leaking nothing", () => {
    const stack = createStack({ ramSize: 256 << 20 });
    const replayer = new Replayer(stack);
    let error: unknown;
    try {
      replayer.handle(arenaLine(0x7fee_87ee_7123), 2);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ReplayError);
    expect((error as ReplayError).line).toBe(2);
    expect((error as ReplayError).cause).toBeInstanceOf(PymallocError);
    expect((error as ReplayError).message).toBe(
      "line 2: PymallocError: small-object: expectArena(0x7fee87ee7123): arena-alignment: a recorded arena address must be a non-NULL multiple of the page size (4096)",
    );
    // The next arena is placed as usual and no mapping was left behind: the same maps as a
    // replay that never saw the bad line.
    const p = stack.pymem.objectMalloc(16);
    expect(p).not.toBe(0);
    const clean = createStack({ ramSize: 256 << 20 });
    new Replayer(clean);
    expect(clean.pymem.objectMalloc(16)).toBe(p);
    expect(stack.process.maps()).toBe(clean.process.maps());
  });

  it.skipIf(!built)("the CLI names the line and the rule, not munmap's EINVAL", () => {
    const r = mem(["replay", "-"], { cwd: tempDir(), input: "# memtrace v1\nA 1048576 0x7fee87ee7123\nm obj 16 0x7fee87ee7130\n" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("memtrace: line 2: arena-alloc (A) result 0x7fee87ee7123 is not a multiple of the page size (4096): arenas are mmapped");
    expect(r.stderr).not.toMatch(/EINVAL|munmap/);
    expect(MemtraceSyntaxError.name).toBe("MemtraceSyntaxError");
  }, 60_000);
});
