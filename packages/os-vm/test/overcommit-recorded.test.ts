import { readFileSync } from "node:fs";
import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import { Kernel, MAP_NORESERVE, SyscallError, type OvercommitPolicy } from "../src/index.js";
import { ANON, RW } from "./helpers.js";

const MiB = 1024 * 1024;

/** The recorded outcomes of live/overcommit.c, by mode: `mmap`, `mmap NORESERVE`, `sbrk` → "ok" | "ENOMEM". */
function recorded(): Map<number, Map<string, string>> {
  const byMode = new Map<number, Map<string, string>>();
  let mode = -1;
  for (const line of readFileSync(new URL("./fixtures/overcommit-enomem.txt", import.meta.url), "utf8").split("\n")) {
    const header = /^## vm\.overcommit_memory=(\d)/.exec(line);
    if (header) {
      mode = Number(header[1]);
      byMode.set(mode, new Map());
      continue;
    }
    const call = /^(mmap NORESERVE|mmap|sbrk) (\S+)/.exec(line);
    if (call && mode >= 0) byMode.get(mode)!.set(call[1]!, call[2] === "ok" ? "ok" : "ENOMEM");
  }
  return byMode;
}

/** What the simulated kernel answers, scaled down 1024 times (40 MiB asked of 24 MiB of RAM, no swap). */
function simulated(mode: OvercommitPolicy): Map<string, string> {
  const kernel = new Kernel({ ram: new PhysicalMemory({ size: 24 * MiB }), overcommitMemory: mode });
  const proc = kernel.createProcess();
  const outcome = (f: () => unknown): string => {
    try {
      f();
      return "ok";
    } catch (error) {
      if (error instanceof SyscallError) return error.code;
      throw error;
    }
  };
  return new Map([
    ["mmap", outcome(() => proc.mmap(0, 40 * MiB, RW, ANON))],
    ["mmap NORESERVE", outcome(() => proc.mmap(0, 40 * MiB, RW, ANON | MAP_NORESERVE))],
    ["sbrk", outcome(() => proc.sbrk(40 * MiB))],
  ]);
}

describe("a request larger than RAM, as recorded on Linux 6.18 (fixtures/overcommit-enomem.txt)", () => {
  const real = recorded();
  it.each([0, 2] as const)("vm.overcommit_memory=%i: the same calls fail, with ENOMEM", (mode) => {
    expect(real.get(mode)?.size).toBe(3);
    expect(simulated(mode)).toEqual(real.get(mode));
  });
});
