import { describe, expect, it } from "vitest";
import { accountDetail, pageAccount } from "../src/index.js";
import { makeStack } from "./support.js";

describe("pageAccount: the account page by page", () => {
  for (const [preset, libc] of [["default", "glibc"], ["pymalloc_debug", "glibc"], ["malloc", "tlsf"]] as const) {
    it(`every resident page's 4096 bytes are split among causes, and the pages add up to the account (${preset}, ${libc})`, () => {
      const s = makeStack(preset, libc, 128);
      const blocks: { domain: "obj" | "raw"; p: number }[] = [];
      for (let i = 0; i < 3000; i++) blocks.push({ domain: "obj", p: s.pymem.objectMalloc(8 + ((i * 37) % 500)) });
      for (let i = 0; i < 60; i++) {
        const n = 600 + ((i * 7919) % 9000);
        const p = s.pymem.rawMalloc(n);
        s.process.memory.fill(p, n, 7);
        blocks.push({ domain: "raw", p });
      }
      blocks.push({ domain: "raw", p: s.pymem.rawMalloc(300_000) });
      blocks.forEach((b, i) => i % 3 === 0 && s.pymem.free(b.domain, b.p));
      const whole = accountDetail(s);
      const summed: Record<string, number> = {};
      for (const vma of whole.vmas) {
        for (const page of vma.pages) {
          const split = pageAccount(s, page * 4096 + 123);
          expect(Object.values(split).reduce((a, b) => a + b, 0)).toBe(4096);
          for (const [cause, bytes] of Object.entries(split)) summed[cause] = (summed[cause] ?? 0) + bytes;
        }
      }
      expect(summed).toEqual(whole.account.causes);
      expect(pageAccount(s, 0x1000)).toEqual({}); // not resident
    });
  }
});
