import { join } from "node:path";
import type { TraceRecord } from "@mem/memtrace";
import { describe, expect, it } from "vitest";
import type { Replayer } from "../src/replay.js";
import { replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";
import { LIBC_RECORDINGS, PYTHON_RECORDINGS } from "./support-fixtures.js";

/** The model: requested bytes of the live blocks in a Map of recorded pointers, with a running sum. */
class Model {
  readonly sizes = new Map<number, number>();
  sum = 0;
  private add(p: number, n: number): void {
    if (p === 0) return;
    this.drop(p);
    this.sizes.set(p, n);
    this.sum += n;
  }
  private drop(p: number): void {
    this.sum -= this.sizes.get(p) ?? 0;
    this.sizes.delete(p);
  }
  follow(r: TraceRecord): void {
    if (r.kind === "malloc" || r.kind === "memalign") this.add(r.result, r.size);
    else if (r.kind === "calloc") this.add(r.result, r.nelem * r.elsize);
    else if (r.kind === "realloc") {
      if (r.ptr !== 0 && (r.result !== 0 || r.size === 0)) this.drop(r.ptr);
      this.add(r.result, r.size);
    } else if (r.kind === "free") this.drop(r.ptr);
  }
}

describe("Replayer.keepRequestedSizes", () => {
  for (const [dir, name] of [
    [PYTHON_RECORDINGS, "arena-release"],
    [LIBC_RECORDINGS, "sed"],
  ] as const) {
    it(`keeps the requested bytes of the live blocks beside its pointers (${name}, after every event)`, async () => {
      const stack = createStack({ ramSize: 512 * 1024 * 1024 });
      const model = new Model();
      let replayer: Replayer | undefined;
      let checked = 0;
      await replayFile(stack, join(dir, `${name}.memtrace.gz`), {
        replayer: (r) => {
          replayer = r;
          r.keepRequestedSizes();
        },
        onEvent: (r) => {
          model.follow(r);
          if (replayer!.liveRequested !== model.sum) expect(replayer!.liveRequested).toBe(model.sum);
          checked++;
        },
      });
      expect(checked).toBeGreaterThan(1000);
      const live = new Map<number, number>();
      replayer!.forEachLiveRequested((p, n) => live.set(p, n));
      expect(live.size).toBe(model.sizes.size);
      for (const [recorded, n] of model.sizes) expect(live.get(replayer!.simulatedPointer(recorded))).toBe(n);
    }, 120_000);
  }
});
