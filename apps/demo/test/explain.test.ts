import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { explainTrace, parseAt, parseEvery } from "../src/explain-command.js";
import { LIBC_RECORDINGS, PYTHON_RECORDINGS, recordings } from "./support-fixtures.js";

const require = createRequire(import.meta.url);
const schema = JSON.parse(readFileSync(require.resolve("@mem/insight/explain.schema.json"), "utf8")) as object;
// ajv 8 is @mem/insight's devDependency: resolved from there
type Validator = ((data: unknown) => boolean) & { errors?: unknown[] | null };
const Ajv2020 = createRequire(require.resolve("@mem/insight/package.json"))("ajv/dist/2020.js") as { default: new (options: object) => { compile(s: object): Validator } };
const validate = new Ajv2020.default({ allErrors: true }).compile(schema);
const DEMO_FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const sum = (causes: Record<string, number>): number => Object.values(causes).reduce((a, b) => a + b, 0);

describe("mem-demo explain on the committed real recordings", () => {
  const cases = [
    ...recordings(PYTHON_RECORDINGS).map((name) => join(PYTHON_RECORDINGS, `${name}.memtrace.gz`)),
    ...recordings(LIBC_RECORDINGS).map((name) => join(LIBC_RECORDINGS, `${name}.memtrace.gz`)),
    // apps/demo's own recordings: CPython 3.8 (256 KiB arenas, no arena map), glibc under GLIBC_TUNABLES
    ...["cpython-3.8", "glibc-env"].flatMap((dir) => recordings(join(DEMO_FIXTURES, dir)).map((name) => join(DEMO_FIXTURES, dir, `${name}.memtrace.gz`))),
  ];
  it.each(cases)("%s: every sample's causes sum to its RssAnon; the JSON follows the schema", async (trace) => {
    const outcome = await explainTrace(trace, {}, { every: 5000 });
    const json = JSON.parse(JSON.stringify(outcome.json)) as { timeline: { rssAnon: number; causes: Record<string, number> }[] };
    expect(json.timeline.length).toBeGreaterThan(0);
    for (const s of json.timeline) expect(sum(s.causes)).toBe(s.rssAnon);
    expect(sum(outcome.json.peak.causes)).toBe(outcome.json.peak.rssAnon);
    expect(sum(outcome.json.end.causes)).toBe(outcome.json.end.rssAnon);
    expect(validate(json), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(outcome.text).toMatch(/^RSS is /);
  }, 120_000);
});

describe("mem-demo explain: bad input", () => {
  it("parses --at and --every, refusing what is not a positive count", () => {
    expect(parseAt("peak")).toBe("peak");
    expect(parseAt("12")).toBe(12);
    expect(() => parseAt("0")).toThrow(/call event number/);
    expect(() => parseEvery("0")).toThrow(/positive/);
    expect(() => parseEvery("-5")).toThrow(/positive/);
  });

  it("refuses --at beyond the end in one line, and accounts a failing trace up to the failing event", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mem-explain-"));
    try {
      const ok = join(dir, "ok.memtrace");
      writeFileSync(ok, "# memtrace v1\nm libc 100 0x1000\nm libc 200 0x2000\nf libc 0x1000\n");
      await expect(explainTrace(ok, {}, { at: 4 })).rejects.toThrow(/--at 4 is beyond the end of the trace \(3 call events\)/);
      const at = await explainTrace(ok, {}, { at: 2, every: 1 });
      expect(at.json.at?.event).toBe(2);
      const bad = join(dir, "bad.memtrace");
      writeFileSync(bad, "# memtrace v1\nm libc 100 0x1000\nm libc 200 0x2000\nf libc 0x1000\nf libc 0x1000\nm libc 5 0x3000\n");
      const failed = await explainTrace(bad, {}, { every: 1 });
      expect(failed.failure?.line).toBe(5);
      expect(failed.json.stopped).toMatchObject({ event: 3, line: 5 });
      expect(failed.json.end.event).toBe(3);
      expect(failed.text).toMatch(/where the replay stopped \(event 3\)/);
      expect(failed.text).toMatch(/The replay stopped: at line 5, after 3 call events: .*double free/);
      const truncated = join(dir, "truncated.memtrace.gz");
      writeFileSync(truncated, readFileSync(join(LIBC_RECORDINGS, "find.memtrace.gz")).subarray(0, 5000));
      await expect(explainTrace(truncated, {}, {})).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
