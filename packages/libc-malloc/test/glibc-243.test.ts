/**
 * glibc 2.43 (Debian unstable's libc6 2.43-7, run on this machine with its own dynamic loader
 * through shared/tools/debian13-glibc.sh): the driver scripts of test/glibc run under the real
 * 2.43 (outputs in test/glibc/expected-2.43, recorded by test/glibc/record-2.43.sh) and
 * replayed through Glibc243Malloc give the same placements, mallinfo2, break, malloc_stats and
 * abort messages (40 of the 57 scripts so far; KNOWN_DIFFERENT lists the rest). Every script's output differs from 2.41's (the tcache struct is no longer
 * the heap's first chunk).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Glibc243Malloc } from "../src/index.js";
import {
  freshProcess,
  replay,
  scriptTunables,
  tunablesToOptions,
} from "./support/replay.js";

const dir = join(import.meta.dirname, "glibc");
const scripts = readdirSync(join(dir, "scripts"))
  .filter((f) => f.endsWith(".txt"))
  .sort();
const expected = (release: string, name: string) =>
  readFileSync(join(dir, `expected-${release}`, `${name}.out`), "utf8");
/**
 * Scripts whose 2.43 output the model does not reproduce yet (each `it.fails`, so a fix shows
 * up as a failure to move it out of this list): mmap chunks have the layout of ordinary
 * chunks since 2.43 (commit 614cfd0f8a: a chunk 16 bytes smaller than its mapping; not
 * modelled), which moves everything in the scripts with mmapped or memaligned chunks and the
 * random ones; perturb dumps the real (random) tcache_key; largebins and tunables-tcache-max
 * are 16 bytes off from their first calls (not yet explained); abort-prev-size segfaults in
 * the real 2.43 where the model aborts.
 */
const KNOWN_DIFFERENT = new Set([
  "abort-munmap",
  "abort-prev-size",
  "calloc-realloc",
  "largebins",
  "malloc-info",
  "memalign",
  "mixed",
  "mmap-threshold",
  "perturb",
  "random-1",
  "random-2",
  "random-3",
  "random-4",
  "random-5",
  "random-6",
  "tunables-tcache-max",
  "tunables-thresholds",
]);
const fresh243 = (script: string) =>
  new Glibc243Malloc(freshProcess(), {
    tcacheKey: 0x1234_5678_9abc,
    ...tunablesToOptions(scriptTunables(script)),
  });

describe("replays of scripts recorded from the real glibc 2.43", () => {
  it("2.43 differs from 2.41 on the scripts (what a 2.43 model must reproduce)", () => {
    const differing = scripts
      .map((f) => f.replace(/\.txt$/, ""))
      .filter((n) => expected("2.41", n) !== expected("2.43", n));
    expect(differing.length).toBeGreaterThanOrEqual(50);
  });
  for (const file of scripts) {
    const name = file.replace(/\.txt$/, "");
    (KNOWN_DIFFERENT.has(name) ? it.fails : it)(
      `${name}: same output as the real glibc 2.43`,
      () => {
        const script = readFileSync(join(dir, "scripts", file), "utf8");
        expect(replay(script, fresh243(script))).toBe(expected("2.43", name));
      }
    );
  }
});
