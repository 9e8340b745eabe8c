import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";

const STACKS = fileURLToPath(new URL("./fixtures/report-stacks/sources.memtrace.gz", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "replay-stacks-out-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("replay --out of a recording with stacks", () => {
  it("keeps every #F, #T and #S line byte for byte, in order, and every #R (with the simulated pointer)", async () => {
    const out = join(dir, "replayed.memtrace");
    const summary = await replayFile(createStack({ ramSize: 1024 * 1024 * 1024 }), STACKS, { out });
    const input = gunzipSync(readFileSync(STACKS)).toString("utf8").split("\n");
    const output = readFileSync(out, "utf8").split("\n");
    const records = (lines: string[]) => lines.filter((l) => /^#[FTS] /.test(l));
    expect(records(input).length).toBeGreaterThan(15000);
    expect(records(output)).toEqual(records(input));
    // #R carries a pointer: the replayed trace has the simulated one (the recorder writes #R for live blocks only)
    const retraces = (lines: string[]) => lines.filter((l) => l.startsWith("#R ")).length;
    expect(retraces(output)).toBe(retraces(input));
    expect(summary.calls).toBe(77474);
  });
});
