import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PhysicalMemory } from "@mem/hardware";
import { describe, expect, it } from "vitest";
import { Kernel, imageFromMaps } from "../src/index.js";
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

/** Re-runs the live experiment when gcc, setarch and setpriv are available (skips cleanly otherwise). */
const canRunLive = (() => {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    execFileSync("setarch", ["-R", "true"], { stdio: "ignore" });
    return existsSync("/proc/self/maps");
  } catch {
    return false;
  }
})();

describe.skipIf(!canRunLive)("scripts against the live kernel", () => {
  it("placement.vm and paging.vm agree with a fresh run", () => {
    const tmp = mkdtempSync(join(tmpdir(), "osvm-"));
    const binary = join(tmp, "vmscript");
    execFileSync("gcc", ["-O1", "-o", binary, new URL("live/vmscript.c", import.meta.url).pathname]);
    const run = (input: string): string => execFileSync("setarch", ["-R", binary], { input, encoding: "utf8" });
    const start = parseOutput(run("maps\n"))[0] as { kind: "maps"; text: string };
    for (const name of ["placement", "paging", "splitmerge", "mremap", "stack", "smaps"]) {
      const script = read(`${name}.vm`);
      const ram = new PhysicalMemory({ size: 24 * 1024 * 1024 * 1024 });
      const sim = runScript(new Kernel({ ram }).createProcess({ image: imageFromMaps(start.text) }), script);
      compare(parseOutput(run(script)), parseOutput(sim), start.text);
    }
  }, 30_000);
});
