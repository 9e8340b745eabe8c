/**
 * Differential test against the real glibc 2.36 of this machine: fast-check writes random
 * call sequences, the compiled driver (test/glibc/driver.c) runs them under glibc, the
 * simulator replays them, and the two outputs — every placement offset, size field,
 * mallinfo2 field, program break and abort message — must be identical.
 * A live comparison: runs under `npm run test:live`, on a host with gcc and glibc 2.36 (the
 * version the simulator reproduces); skipped elsewhere with the difference named.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveSkip, liveTitle } from "../../../scripts/host-facts.js";
import { GLIBC_MODEL } from "./support/live.js";
import { freshGlibc, replay, tunablesToOptions } from "./support/replay.js";

let driver: string | undefined;

function runGlibc(script: string, tunables: string): string {
  try {
    const env = { ...process.env, GLIBC_TUNABLES: tunables };
    return `${execFileSync(driver!, [], { input: script, encoding: "utf8", env })}exit 0\n`;
  } catch (error) {
    const e = error as { stdout: string; status: number | null; signal: string | null };
    const code = e.status ?? (e.signal === "SIGABRT" ? 134 : e.signal === "SIGSEGV" ? 139 : 1);
    return `${e.stdout}exit ${code}\n`;
  }
}

const size = fc.oneof(
  { weight: 6, arbitrary: fc.nat(140) },
  { weight: 3, arbitrary: fc.integer({ min: 140, max: 1100 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1100, max: 70_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 70_000, max: 400_000 }) },
);
const op = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constant("m"), size) },
  { weight: 7, arbitrary: fc.tuple(fc.constant("f"), fc.nat()) },
  { weight: 2, arbitrary: fc.tuple(fc.constant("r"), fc.nat(), size) },
  { weight: 1, arbitrary: fc.tuple(fc.constant("c"), fc.integer({ min: 1, max: 8 }), fc.nat(600)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant("a"), fc.constantFrom(32, 64, 256, 4096), size) },
  { weight: 1, arbitrary: fc.tuple(fc.constant("t"), fc.constantFrom(0, 4096, 131072)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("s", "I"), fc.constant(0)) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.tuple(fc.constant("o"), fc.constant(1), fc.constantFrom(0, 8, 24, 64, 160)),
      fc.tuple(fc.constant("o"), fc.constantFrom(-1, -2, -3), fc.constantFrom(0, 4096, 65536, 262144)),
      fc.tuple(fc.constant("o"), fc.constant(-4), fc.constantFrom(0, 1, 100)),
    ),
  },
);

/** Start-up tunables: mostly none, sometimes a mix of glibc.malloc.* settings. */
const tunables = fc.oneof(
  { weight: 3, arbitrary: fc.constant("") },
  {
    weight: 2,
    arbitrary: fc
      .subarray([
        "glibc.malloc.tcache_count=0",
        "glibc.malloc.tcache_count=2",
        "glibc.malloc.mxfast=0",
        "glibc.malloc.mxfast=160",
        "glibc.malloc.tcache_max=100",
        "glibc.malloc.top_pad=0",
        "glibc.malloc.mmap_threshold=32768",
        "glibc.malloc.trim_threshold=0",
        "glibc.malloc.tcache_unsorted_limit=2",
      ])
      .map((items) => items.filter((item, i) => items.findIndex((x) => x.split("=")[0] === item.split("=")[0]) === i).join(":")),
  },
);

/** Turns generated operations into a driver script over live slots (no double frees). */
function toScript(ops: (readonly [string, number, number?])[]): string {
  const live: number[] = [];
  let next = 0;
  const lines: string[] = [];
  const allocate = (line: string): void => {
    lines.push(line);
    live.push(next++);
  };
  for (const [kind, x, y = 0] of ops) {
    if (kind === "m") allocate(`m ${next} ${x}`);
    else if (kind === "c") allocate(`c ${next} ${x} ${y}`);
    else if (kind === "a") allocate(`a ${next} ${x} ${y}`);
    else if (kind === "t") lines.push(`t ${x}`);
    else if (kind === "o") lines.push(`o ${x} ${y}`);
    else if (kind === "s" || kind === "I") lines.push(kind);
    else if (live.length > 0) {
      const slot = live.splice(x % live.length, 1)[0]!;
      if (kind === "f") lines.push(`f ${slot}`);
      else allocate(`r ${next} ${slot} ${y}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

const skip = liveSkip({ tools: ["gcc"], glibc: GLIBC_MODEL });

describe.skipIf(skip !== null)(liveTitle("random call sequences: the simulator against the real glibc", skip), () => {
  let work = "";
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "glibc-diff-"));
    driver = join(work, "driver");
    execFileSync("gcc", ["-O1", "-o", driver, join(import.meta.dirname, "glibc", "driver.c")], { stdio: "ignore" });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("prints exactly what glibc prints, call after call (property)", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: Number(process.env.DIFF_LEN ?? 120) }), tunables, (ops, tuning) => {
        const script = toScript(ops);
        const libc = freshGlibc(tunablesToOptions(tuning));
        expect(replay(script, libc, { check: true })).toBe(runGlibc(script, tuning));
      }),
      { numRuns: Number(process.env.DIFF_RUNS ?? 40) },
    );
  }, 600_000);
});
