import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import { Kernel, KernelOptionError, checkKernel } from "../src/index.js";

const ram = () => new PhysicalMemory({ size: 16 * 1024 * 1024 });

/** Found by fuzzing (issue 11): impossible kernel and process options were accepted. */
describe("kernel and process options are validated as Linux validates the sysctls and limits", () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["overcommitMemory 5", { overcommitMemory: 5 }, /vm\.overcommit_memory must be 0, 1 or 2, got 5/],
    ["overcommitMemory '1'", { overcommitMemory: "1" }, /vm\.overcommit_memory must be 0, 1 or 2, got string "1"/],
    ["overcommitRatio -1", { overcommitRatio: -1 }, /vm\.overcommit_ratio must be an integer >= 0/],
    ["overcommitRatio NaN", { overcommitRatio: Number.NaN }, /vm\.overcommit_ratio/],
    ["maxMapCount 1.5", { maxMapCount: 1.5 }, /vm\.max_map_count must be an integer in 0\.\.2147483647/],
    ["mmapMinAddr -4096", { mmapMinAddr: -4096 }, /vm\.mmap_min_addr/],
    ["thpAlignment 'yes'", { thpAlignment: "yes" }, /thpAlignment must be a boolean/],
    ["zeroPage 1", { zeroPage: 1 }, /zeroPage must be a boolean/],
    ["ram {}", { ram: {} }, /ram must be a Memory/],
    ["swap 5", { swap: 5 }, /swap must be a Memory/],
  ];
  for (const [title, options, message] of bad) {
    it(`new Kernel refuses ${title}`, () => {
      const make = () => new Kernel({ ram: ram(), ...options });
      expect(make).toThrow(KernelOptionError);
      expect(make).toThrow(message);
    });
  }

  const badProcess: [string, Record<string, unknown>, RegExp][] = [
    ["stackLimit NaN", { stackLimit: Number.NaN }, /RLIMIT_STACK \(stackLimit\) must be a non-negative integer number of bytes or Infinity, got NaN/],
    ["stackLimit -1", { stackLimit: -1 }, /RLIMIT_STACK/],
    ["uid -1", { uid: -1 }, /uid must be an integer in 0\.\.4294967294/],
    ["oomScoreAdj 1001", { oomScoreAdj: 1001 }, /oom_score_adj must be an integer in -1000\.\.1000/],
    ["aslrSeed 1.5", { aslrSeed: 1.5 }, /aslrSeed must be an integer/],
    ["comm 7", { comm: 7 }, /comm must be a string/],
  ];
  for (const [title, options, message] of badProcess) {
    it(`createProcess refuses ${title}, and no process is created`, () => {
      const kernel = new Kernel({ ram: ram() });
      expect(() => kernel.createProcess(options as never)).toThrow(KernelOptionError);
      expect(() => kernel.createProcess(options as never)).toThrow(message);
      expect(kernel.createProcess().pid).toBe(1);
    });
  }

  it("accepts every valid setting", () => {
    for (const overcommitMemory of [0, 1, 2] as const) {
      const kernel = new Kernel({ ram: ram(), overcommitMemory, overcommitRatio: 0, maxMapCount: 0, mmapMinAddr: 0, thpAlignment: false, zeroPage: false });
      kernel.createProcess({ stackLimit: Infinity, uid: 1000, oomScoreAdj: -1000, aslrSeed: 7, comm: "python3" });
    }
  });
});

describe("checkKernel reports corruption as problems, never a crash", () => {
  it("a page-table entry naming a frame beyond RAM is a problem, not a BusError or RangeError", () => {
    const kernel = new Kernel({ ram: ram() });
    const process = kernel.createProcess();
    const p = process.mmap(0, 4096, 3, 0x22);
    process.memory.store8(p, 1);
    expect(checkKernel(kernel, [process])).toEqual([]);
    // Every present entry of the PGD now names a frame far beyond RAM.
    const r = kernel.ram;
    const root = process.mm.pageTable.root * 4096;
    for (let i = 0; i < 512; i++) if ((r.load32(root + 8 * i) & 1) !== 0) r.store64Big(root + 8 * i, 0x000f_ffff_ffff_f067n);
    let problems: string[] = [];
    expect(() => {
      problems = checkKernel(kernel, [process]);
    }).not.toThrow();
    expect(problems.length).toBeGreaterThan(0);
  });
});

/** The sysctls stay writable at run time, with the sysctl's ranges (writing 5 to vm.overcommit_memory is EINVAL). */
describe("vm.overcommit_memory and vm.overcommit_ratio written at run time", () => {
  it("takes 0, 1 and 2 and refuses anything else, keeping the policy", () => {
    const kernel = new Kernel({ ram: ram() });
    kernel.overcommitMemory = 2;
    expect(kernel.overcommitMemory).toBe(2);
    expect(() => (kernel.overcommitMemory = 5 as never)).toThrow(/vm\.overcommit_memory must be 0, 1 or 2, got 5/);
    expect(() => (kernel.overcommitMemory = "1" as never)).toThrow(KernelOptionError);
    expect(kernel.overcommitMemory).toBe(2);
  });

  it("takes a non-negative ratio and refuses NaN or -1, keeping the ratio", () => {
    const kernel = new Kernel({ ram: ram() });
    kernel.overcommitRatio = 80;
    expect(kernel.overcommitRatio).toBe(80);
    expect(() => (kernel.overcommitRatio = Number.NaN)).toThrow(/vm\.overcommit_ratio/);
    expect(() => (kernel.overcommitRatio = -1)).toThrow(KernelOptionError);
    expect(kernel.overcommitRatio).toBe(80);
  });
});
