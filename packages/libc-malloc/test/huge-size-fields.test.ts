import { describe, expect, it } from "vitest";
import { MallocAbort } from "../src/index.js";
import { freshGlibc } from "./support/replay.js";

/**
 * Found by fuzzing (issue 11): a size field of 2^53 or more lost its flag bits when read as a
 * number. Measured on this machine (Debian glibc 2.36, /tmp C program: p = malloc(n), a second
 * malloc(24), `((uint64_t *)p)[-1] = v`, free(p)), for n = 24 and n = 2000:
 *
 *   v = 0x20000000000002, 0x20000000000003, 0xfffffffffffffff2  ->  munmap_chunk(): invalid pointer
 *   v = 0x20000000000001, 0x20000000000000, 0x20000000000031    ->  double free or corruption (out)
 *   v = 0xfffffffffffffff1                                      ->  free(): invalid pointer
 */
const CASES: [bigint, string][] = [
  [0x20000000000002n, "munmap_chunk(): invalid pointer"],
  [0x20000000000003n, "munmap_chunk(): invalid pointer"],
  [0xfffffffffffffff2n, "munmap_chunk(): invalid pointer"],
  [0x20000000000001n, "double free or corruption (out)"],
  [0x20000000000000n, "double free or corruption (out)"],
  [0x20000000000031n, "double free or corruption (out)"],
  [0xfffffffffffffff1n, "free(): invalid pointer"],
];

describe("glibc: size fields of 2^53 or more keep their flag bits", () => {
  for (const n of [24, 2000]) {
    for (const [field, message] of CASES) {
      it(`malloc(${n}), size field 0x${field.toString(16)}, free: ${message}`, () => {
        const g = freshGlibc();
        const p = g.malloc(n);
        g.malloc(24);
        g.process.memory.store64Big(p - 8, field);
        let error: unknown;
        try {
          g.free(p);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(MallocAbort);
        expect((error as MallocAbort).message).toBe(message);
      });
    }
  }
});
