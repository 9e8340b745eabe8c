import { describe, expect, it } from "vitest";
import { ARENA_OBJECT_SIZE, Pymalloc } from "../src/index.js";
import { makeHost } from "./helpers/host.js";

describe("arenaObjects() reads what CPython initialises, nothing more", () => {
  it("skips unused slots whose other fields hold garbage (the debug hooks' 0xCD in a realloc'd vector)", () => {
    // new_arena() sets only `address` (0) and `nextarena` of the slots it adds; under
    // PYTHONMALLOC=debug the rest of the vector is CLEANBYTE 0xCD, whose 8-byte words are
    // above 2^53. Found by `mem-demo --pythonmalloc debug`.
    const host = makeHost();
    const pm = new Pymalloc(host);
    pm.malloc(78);
    for (let i = 1; i < pm.maxarenas; i++) {
      const slot = pm.arenas + i * ARENA_OBJECT_SIZE;
      host.memory.fill(slot + 8, 24, 0xcd); // pool_address, nfreepools, ntotalpools, freepools
      host.memory.fill(slot + 40, 8, 0xcd); // prevarena
    }
    const live = pm.arenaObjects();
    expect(live.map((a) => a.index)).toEqual([0]);
    expect(live[0]!.ntotalpools).toBeGreaterThan(0);
  });
});
