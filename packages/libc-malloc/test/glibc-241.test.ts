/**
 * glibc 2.41 (Debian 13's libc6 2.41-12+deb13u5, run on this machine with its own dynamic
 * loader through shared/tools/debian13-glibc.sh): the 57 driver scripts of test/glibc run
 * under the real 2.41 (outputs in test/glibc/expected-2.41, recorded by
 * `sh test/glibc/record.sh 2.41`) and replayed through Glibc241Malloc give the same placements,
 * mallinfo2, break, malloc_stats and abort messages; 12 of the 57 differ from 2.36's.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Glibc241Malloc } from "../src/index.js";
import { freshProcess, replay, scriptTunables, tunablesToOptions } from "./support/replay.js";

const dir = join(import.meta.dirname, "glibc");
const scripts = readdirSync(join(dir, "scripts")).filter((f) => f.endsWith(".txt")).sort();
const expected = (release: string, name: string) => readFileSync(join(dir, release === "2.36" ? "expected" : `expected-${release}`, `${name}.out`), "utf8");
const fresh241 = (script: string) => new Glibc241Malloc(freshProcess(), { tcacheKey: 0x1234_5678_9abc, ...tunablesToOptions(scriptTunables(script)) });

describe("replays of scripts recorded from the real glibc 2.41", () => {
  it("the releases differ on some scripts (what a 2.41 model must reproduce)", () => {
    const differing = scripts.map((f) => f.replace(/\.txt$/, "")).filter((n) => expected("2.36", n) !== expected("2.41", n));
    expect(differing.length).toBeGreaterThanOrEqual(10);
  });
  for (const file of scripts) {
    const name = file.replace(/\.txt$/, "");
    it(`${name}: same output as the real glibc 2.41`, () => {
      const script = readFileSync(join(dir, "scripts", file), "utf8");
      expect(replay(script, fresh241(script))).toBe(expected("2.41", name));
    });
  }
});
