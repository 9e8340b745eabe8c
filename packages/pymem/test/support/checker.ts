import { expect } from "vitest";
import { PYMEM_FORBIDDENBYTE, type PyMem, type PyMemDomain } from "../../src/index.js";

/** A block the model believes is live, with the bytes the test wrote into it. */
export interface LiveBlock {
  domain: PyMemDomain;
  p: number;
  size: number;
  data: Uint8Array;
}

const ID: Record<PyMemDomain, number> = { raw: 0x72, mem: 0x6d, obj: 0x6f };

/**
 * Walks every live block and checks the invariants: contents intact, no two blocks overlap,
 * and under debug hooks the decorations in memory are exactly right (big-endian size, API id,
 * 7 + 8 forbidden bytes).
 */
export function checkInvariants(py: PyMem, live: Map<number, LiveBlock>, debug: boolean): void {
  const blocks = [...live.values()].sort((a, b) => a.p - b.p);
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!;
    expect(b.p).toBeGreaterThan(0);
    const got = py.memory.read(b.p, b.size);
    expect(Buffer.from(got).equals(Buffer.from(b.data))).toBe(true);
    const extent = debug ? 8 : 0;
    const next = blocks[i + 1];
    if (next !== undefined) expect(b.p + Math.max(b.size, 1) + extent).toBeLessThanOrEqual(next.p - (debug ? 16 : 0));
    if (debug) {
      const header = py.memory.read(b.p - 16, 16);
      const size = new DataView(header.buffer).getBigUint64(0, false);
      expect(size).toBe(BigInt(b.size));
      expect(header[8]).toBe(ID[b.domain]);
      for (let k = 9; k < 16; k++) expect(header[k]).toBe(PYMEM_FORBIDDENBYTE);
      const trailer = py.memory.read(b.p + b.size, 8);
      expect([...trailer].every((x) => x === PYMEM_FORBIDDENBYTE)).toBe(true);
    }
  }
}
