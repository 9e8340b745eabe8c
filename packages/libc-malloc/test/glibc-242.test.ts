/**
 * glibc 2.42, modelled from bminor/glibc `malloc/malloc.c` at `glibc-2.42` only: no
 * distribution this project can run ships it, so these expectations come from reading the
 * source, not from a real build (unlike the 2.41 and 2.43 tests).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Glibc241Malloc, Glibc242Malloc } from "../src/index.js";
import {
  freshProcess,
  replay,
  scriptTunables,
  tunablesToOptions,
} from "./support/replay.js";

const fresh242 = () =>
  new Glibc242Malloc(freshProcess(), { tcacheKey: 0x1234_5678_9abc });

describe("glibc 2.42 model (from its sources; not checked against a real build)", () => {
  it("the first small malloc creates the 0x300-byte tcache struct as the heap's first chunk (2.41: 0x290)", () => {
    const libc = fresh242();
    const a = libc.malloc(1);
    expect(a - libc.heapStart).toBe(0x310);
    const old = new Glibc241Malloc(freshProcess(), {
      tcacheKey: 0x1234_5678_9abc,
    });
    expect(old.malloc(1) - old.heapStart).toBe(0x2a0);
  });

  it("a first large malloc does not create the tcache; the next small one does, after it", () => {
    const libc = fresh242();
    const big = libc.malloc(0x500);
    expect(big - libc.heapStart).toBe(0x10);
    const small = libc.malloc(24);
    expect(small - libc.heapStart).toBe(0x10 + 0x510 + 0x300);
  });

  it("the tcache holds 7 chunks a bin (num_slots counts down); the 8th goes to a fastbin", () => {
    const libc = fresh242();
    const blocks = Array.from({ length: 9 }, () => libc.malloc(24));
    for (const b of blocks.slice(0, 8)) libc.free(b);
    expect(libc.mallinfo2().smblks).toBe(1);
    // LIFO from the tcache: the 7th freed comes back first
    expect(libc.malloc(24)).toBe(blocks[6]);
  });

  it("free of a chunk already in the tcache aborts with 2.41's message", () => {
    const libc = fresh242();
    const a = libc.malloc(24);
    libc.malloc(24);
    libc.free(a);
    expect(() => libc.free(a)).toThrow(
      "free(): double free detected in tcache 2"
    );
  });

  it("every driver script runs to its end or to an abort", () => {
    const dir = join(import.meta.dirname, "glibc", "scripts");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt"))) {
      const script = readFileSync(join(dir, file), "utf8");
      const libc = new Glibc242Malloc(freshProcess(), {
        tcacheKey: 0x1234_5678_9abc,
        ...tunablesToOptions(scriptTunables(script)),
      });
      expect(replay(script, libc)).toMatch(/exit (0|134|139)\n$/);
    }
  });
});
