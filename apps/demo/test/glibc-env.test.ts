/**
 * glibc 2.36's malloc settings from the environment (GLIBC_TUNABLES, MALLOC_*_), checked
 * against what the real glibc did: fixtures/glibc-env/env_probe.c ran on this machine under
 * each environment of env_probe.txt; the same calls through the simulated glibc, configured
 * by glibcSettingsFromEnv, must see the same thing.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { dlStrtoul, glibcSettingsFromEnv, layerGlibcSettings, splitTunables } from "../src/glibc-tunables.js";
import { createStack } from "../src/stack.js";

const FIXTURE = new URL("./fixtures/glibc-env/env_probe.txt", import.meta.url);

/** `A=1 B=2` → { A: "1", B: "2" } (values hold no spaces in the fixture). */
function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of text.split(" ").filter(Boolean)) {
    const eq = word.indexOf("=");
    env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

/** env_probe.c's calls through the simulated stack, and its output line. */
function simulateProbe(env: Record<string, string>): string {
  const stack = createStack({ ramSize: 256 * 1024 * 1024, glibc: glibcSettingsFromEnv(env).options });
  const libc = stack.libc;
  const mem = stack.process.memory;
  const where = (p: number) => ((mem.load64(p - 8) & 2) !== 0 ? "mmap" : "brk");
  const a = libc.malloc(200000);
  const big = libc.malloc(40 << 20);
  const x = libc.malloc(24);
  const y = libc.malloc(24);
  libc.malloc(24);
  libc.free(x);
  libc.free(y);
  const z = libc.malloc(24);
  const q = libc.malloc(200);
  const reuse = z === y ? "second" : z === x ? "first" : "other";
  return `200000:${where(a)} 40MiB:${where(big)} reuse:${reuse} perturb:0x${mem.load8(q + 8).toString(16).padStart(2, "0")}`;
}

describe("glibc 2.36's malloc environment, as the real glibc read it", () => {
  const lines = readFileSync(FIXTURE, "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"));
  it("has the recorded runs", () => expect(lines.length).toBeGreaterThanOrEqual(20));
  for (const line of lines) {
    const [envText, output] = line.split(" -> ") as [string, string];
    it(`${envText} -> ${output}`, { timeout: 30_000 }, () => {
      expect(simulateProbe(parseEnv(envText))).toBe(output);
    });
  }
});

describe("reading values as glibc's _dl_strtoul (measured with ld.so --list-tunables)", () => {
  const cases: [string, bigint][] = [
    ["65536", 65536n],
    ["0x10000", 65536n],
    ["0xFF", 255n],
    ["010", 8n],
    ["08", 0n],
    ["12abc", 12n],
    ["1e3", 1n],
    ["abc", 0n],
    ["0x", 0n],
    ["  5", 5n],
    ["+5", 5n],
    ["-1", (1n << 64n) - 1n],
    ["-0x10", (1n << 64n) - 16n],
    ["99999999999999999999999", (1n << 64n) - 1n],
  ];
  for (const [text, value] of cases) it(`"${text}" is ${value}`, () => expect(dlStrtoul(text)).toBe(value));

  it("a GLIBC_TUNABLES entry without = is skipped; a later entry wins", () => {
    expect(splitTunables("glibc.malloc.tcache_count=3:bogus:glibc.malloc.perturb=9=3")).toEqual([
      ["glibc.malloc.tcache_count", "3"],
      ["glibc.malloc.perturb", "9=3"],
    ]);
    const s = glibcSettingsFromEnv({ GLIBC_TUNABLES: "glibc.malloc.tcache_count=3:glibc.malloc.tcache_count=5" });
    expect(s.options).toEqual({ tcacheCount: 5 });
  });
});

describe("settings that have no effect say so", () => {
  it("out of the tunable's range: ignored, as glibc ignores it", () => {
    const s = glibcSettingsFromEnv({ GLIBC_TUNABLES: "glibc.malloc.perturb=300:glibc.malloc.check=5", MALLOC_ARENA_MAX: "0" });
    expect(s.options).toEqual({});
    expect(s.warnings).toEqual([
      "glibc.malloc.arena_max=0 (MALLOC_ARENA_MAX): outside 1..18446744073709551615, ignored as glibc 2.36 ignores it",
      "glibc.malloc.perturb=300 (GLIBC_TUNABLES): outside 0..255, ignored as glibc 2.36 ignores it",
      "glibc.malloc.check=5 (GLIBC_TUNABLES): outside 0..3, ignored as glibc 2.36 ignores it",
    ]);
  });

  it("tunables the model lacks: not modelled, ignored", () => {
    const s = glibcSettingsFromEnv({ MALLOC_CHECK_: "3", MALLOC_ARENA_MAX: "2", MALLOC_ARENA_TEST: "1", GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" });
    expect(s.options).toEqual({ arenaMax: 2, arenaTest: 1 }); // modelled since the threads of issue 16
    expect(s.warnings).toEqual([
      "glibc.malloc.check=3 (MALLOC_CHECK_): not modelled (glibc 2.36 honours it only with libc_malloc_debug.so preloaded): ignored",
      "glibc.malloc.hugetlb=1 (GLIBC_TUNABLES): not modelled (huge pages are not modelled): ignored",
    ]);
  });

  it("unknown tunables and other namespaces: ignored with a line", () => {
    const s = glibcSettingsFromEnv({ GLIBC_TUNABLES: "glibc.malloc.nosuch=1:glibc.pthread.rseq=0:glibc.malloc.top_pad=0" });
    expect(s.options).toEqual({ topPad: 0 });
    expect(s.warnings).toEqual([
      "glibc.malloc.nosuch=1 (GLIBC_TUNABLES): not a glibc 2.36 malloc tunable: ignored",
      "glibc.pthread.rseq=0 (GLIBC_TUNABLES): not a glibc 2.36 malloc tunable: ignored",
    ]);
  });

  it("every modelled tunable and alias reaches its GlibcMalloc option", () => {
    const s = glibcSettingsFromEnv({
      GLIBC_TUNABLES:
        "glibc.malloc.tcache_max=100:glibc.malloc.tcache_count=3:glibc.malloc.tcache_unsorted_limit=2:glibc.malloc.mxfast=64",
      MALLOC_TOP_PAD_: "4096",
      MALLOC_PERTURB_: "7",
      MALLOC_MMAP_THRESHOLD_: "65536",
      MALLOC_TRIM_THRESHOLD_: "1048576",
      MALLOC_MMAP_MAX_: "10",
    });
    expect(s.options).toEqual({
      topPad: 4096,
      perturb: 7,
      mmapThreshold: 65536,
      trimThreshold: 1048576,
      mmapMax: 10,
      tcacheMax: 100,
      tcacheCount: 3,
      tcacheUnsortedLimit: 2,
      mxfast: 64,
    });
    expect(s.warnings).toEqual([]);
  });

  it("the command line's tunables replace the header's one by one", () => {
    const header = glibcSettingsFromEnv({ GLIBC_TUNABLES: "glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536" });
    const cli = glibcSettingsFromEnv({ GLIBC_TUNABLES: "glibc.malloc.tcache_count=7" });
    expect(layerGlibcSettings(header, cli).options).toEqual({ tcacheCount: 7, mmapThreshold: 65536 });
  });
});
