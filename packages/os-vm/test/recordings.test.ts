import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PhysicalMemory } from "@mem/hardware";
import { afterAll, describe, expect, it } from "vitest";
import { hostFacts, liveSkip, liveTitle, type HostFacts } from "../../../scripts/host-facts.js";
import { Kernel, imageFromMaps, type KernelOptions } from "../src/index.js";
import { parseOutput, runScript, type Item } from "./vmscript.js";

/**
 * The scripts of test/scripts were run on this machine's kernel (Linux 6.18, setarch -R, as
 * uid 65534) by test/live/vmscript.c; the outputs are committed next to them (*.out). Each
 * script runs here on a simulated process that starts from the recorded program's own maps,
 * and the outputs must agree: every system call result, every maps line, the status sizes
 * exactly, RSS and VmPTE as changes from the first status, and the minor fault counts (the
 * real process may take a few more: faults on its own code pages, which are not simulated).
 */
const dir = new URL("scripts/", import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, dir), "utf8");
const startMaps = parseOutput(read("start.out"))[0] as { kind: "maps"; text: string };

function simulate(script: string): string {
  const ram = new PhysicalMemory({ size: 24 * 1024 * 1024 * 1024 });
  const kernel = new Kernel({ ram });
  return runScript(kernel.createProcess({ image: imageFromMaps(startMaps.text) }), script);
}

const EXACT = ["VmSize", "VmData", "VmStk", "VmExe", "VmLib", "VmPTE", "RssShmem", "VmSwap"];
const DELTA = ["RssAnon"];

function compare(real: Item[], sim: Item[], start = startMaps.text): void {
  const imageRanges = new Set(start.split("\n").map((line) => line.split(" ")[0]));
  expect(sim.map((i) => i.kind)).toEqual(real.map((i) => i.kind));
  let realBase: Map<string, number> | undefined;
  let simBase: Map<string, number> | undefined;
  real.forEach((r, index) => {
    const s = sim[index]!;
    if (r.kind === "result" && s.kind === "result") expect(`${index}: ${s.text}`).toBe(`${index}: ${r.text}`);
    // the inode of a shared anonymous mapping's shmem file is a system-wide counter
    const shmemInode = (text: string): string => text.replace(/ 00:01 \d+ +\/dev\/zero/g, " 00:01 * /dev/zero");
    if (r.kind === "maps" && s.kind === "maps") expect(shmemInode(s.text)).toBe(shmemInode(r.text));
    // smaps: every entry of a mapping the script made (not one of the image's, whose resident
    // file and loader pages are not simulated), except LazyFree, which Linux fills in only when
    // its per-CPU LRU batches drain
    if (r.kind === "smaps" && s.kind === "smaps") {
      const entries = (text: string): Map<string, string> => {
        const map = new Map<string, string>();
        for (const block of shmemInode(text).split(/\n(?=[0-9a-f]{8,}-)/)) {
          const header = block.split("\n")[0]!;
          if (imageRanges.has(header.split(" ")[0])) continue;
          map.set(header, block.replace(/^LazyFree: .*$/m, "LazyFree: -"));
        }
        return map;
      };
      const realEntries = entries(r.text);
      expect(realEntries.size).toBeGreaterThan(3);
      expect(entries(s.text)).toEqual(realEntries);
    }
    // statm: size, text, lib, data and dt exactly (resident and shared include file pages)
    if (r.kind === "statm" && s.kind === "statm") {
      for (const f of [0, 3, 4, 5, 6]) expect(`${index} statm[${f}] ${s.fields[f]}`).toBe(`${index} statm[${f}] ${r.fields[f]}`);
    }
    if (r.kind === "faults" && s.kind === "faults") {
      expect(r.count).toBeGreaterThanOrEqual(s.count);
      expect(r.count).toBeLessThanOrEqual(s.count + 8);
    }
    if (r.kind === "status" && s.kind === "status") {
      realBase ??= r.fields;
      simBase ??= s.fields;
      for (const f of EXACT) expect(`${index} ${f} ${s.fields.get(f)}`).toBe(`${index} ${f} ${r.fields.get(f)}`);
      for (const f of DELTA) {
        const realDelta = r.fields.get(f)! - realBase.get(f)!;
        const simDelta = s.fields.get(f)! - simBase.get(f)!;
        expect(`${index} ${f} +${simDelta}`).toBe(`${index} ${f} +${realDelta}`);
      }
    }
  });
}

describe("scripts against the recordings of the real kernel", () => {
  for (const name of ["placement", "splitmerge", "errors", "paging", "brk", "overcommit", "stack", "mremap", "smaps"]) {
    it(`${name}.vm`, () => {
      compare(parseOutput(read(`${name}.out`)), parseOutput(simulate(read(`${name}.vm`))));
    });
  }
});

/**
 * The live re-run (`npm run test:live`): the scripts run on this machine's kernel now, and on
 * the model configured as this kernel is: the zero page on read of fresh anonymous memory or
 * not (probed), 2 MiB alignment of anonymous mappings from Linux 6.7. Skipped, with the
 * difference named, where the model has no counterpart (transparent huge pages "always", a
 * kernel older than 6.7 whose smaps and status lines differ).
 */
const liveReason = liveSkip({
  tools: ["gcc", "setarch", "python3"],
  check: (host) => {
    if (!existsSync("/proc/self/maps")) return "no /proc on this host";
    if (host.anonRead === null) return "could not probe how the kernel reads fresh anonymous memory";
    const [major = 0, minor = 0] = host.kernel.split(".").map(Number);
    if (major < 6 || (major === 6 && minor < 7)) return `host kernel is ${host.kernel}; the model prints the /proc formats of Linux 6.7+ (recorded on 6.18)`;
    if (host.thp === "always") return `host transparent huge pages are "always"; the model has no huge pages (THP "madvise" or "never")`;
    return null;
  },
});

/** The kernel options that make the model behave as this host's kernel. */
function hostKernelOptions(host: HostFacts): Pick<KernelOptions, "zeroPage" | "thpAlignment"> {
  const [major = 0, minor = 0] = host.kernel.split(".").map(Number);
  return { zeroPage: host.anonRead !== "allocates", thpAlignment: host.thp !== "never" && (major > 6 || (major === 6 && minor >= 7)) };
}

describe.skipIf(liveReason !== null)(liveTitle("scripts against the live kernel", liveReason), () => {
  const tmp = mkdtempSync(join(tmpdir(), "osvm-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("placement, paging, splitmerge, mremap, stack and smaps agree with a fresh run on the model of this kernel", () => {
    const options = hostKernelOptions(hostFacts());
    const binary = join(tmp, "vmscript");
    execFileSync("gcc", ["-O1", "-o", binary, new URL("live/vmscript.c", import.meta.url).pathname]);
    const run = (input: string): string => execFileSync("setarch", ["-R", binary], { input, encoding: "utf8" });
    const start = parseOutput(run("maps\n"))[0] as { kind: "maps"; text: string };
    for (const name of ["placement", "paging", "splitmerge", "mremap", "stack", "smaps"]) {
      const script = read(`${name}.vm`);
      const ram = new PhysicalMemory({ size: 24 * 1024 * 1024 * 1024 });
      const sim = runScript(new Kernel({ ram, ...options }).createProcess({ image: imageFromMaps(start.text) }), script);
      compare(parseOutput(run(script)), parseOutput(sim), start.text);
    }
  }, 30_000);
});

describe("the model of the live kernel", () => {
  it("follows the probed zero-page behaviour and the kernel version's THP alignment", () => {
    const host: HostFacts = { glibc: "2.41", python3: "3.13", python3TestCapi: false, kernel: "6.12", anonRead: "allocates", thp: "madvise", tools: { gcc: true, setarch: true, python3: true } };
    expect(hostKernelOptions(host)).toEqual({ zeroPage: false, thpAlignment: true });
    expect(hostKernelOptions({ ...host, kernel: "6.1", anonRead: "zero-page" })).toEqual({ zeroPage: true, thpAlignment: false });
    expect(hostKernelOptions({ ...host, thp: "never" })).toEqual({ zeroPage: false, thpAlignment: false });
  });

  it("reading 32 MiB of fresh memory: +0 kB RssAnon with the zero page, +32768 kB without (the paging.vm step that differed)", () => {
    const script = "mmap 0 0x4000000 3 0x22\nstatus\nread $0 0x2000000\nstatus\n";
    const rssAfterRead = (zeroPage: boolean): number => {
      const ram = new PhysicalMemory({ size: 24 * 1024 * 1024 * 1024 });
      const out = parseOutput(runScript(new Kernel({ ram, zeroPage }).createProcess({ image: imageFromMaps(startMaps.text) }), script));
      const status = out.filter((i) => i.kind === "status");
      return status[1]!.fields.get("RssAnon")! - status[0]!.fields.get("RssAnon")!;
    };
    expect(rssAfterRead(true)).toBe(0);
    expect(rssAfterRead(false)).toBe(32768);
  });
});
