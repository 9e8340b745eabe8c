/**
 * `mem-demo explain` names the stack it replayed on and the CPython version that recorded
 * the trace (issue 17): the version picks the pymalloc preset, so a reader must see it.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { explainTrace } from "../src/explain-command.js";

const fixture = (path: string): string => fileURLToPath(new URL(`./fixtures/${path}`, import.meta.url));
const small = fileURLToPath(new URL("../../../packages/small-object/test/fixtures/versions/startup-3.13.0.memtrace.gz", import.meta.url));

describe("explain names the version", () => {
  it("a real CPython 3.8.18 recording: replayed with 3.8's pymalloc, and the line says so", async () => {
    const outcome = await explainTrace(fixture("cpython-3.8/list-of-str.memtrace.gz"), {}, { every: 50_000 });
    expect(outcome.text).toContain("\nReplayed with: CPython 3.8's pymalloc, PYTHONMALLOC=default, libc glibc 2.36 (recorded by CPython 3.8.18)\n");
  }, 120_000);

  it("a real CPython 3.13.0 recording; --pymalloc-version 3.11 is named as what was used", async () => {
    const notes: string[] = [];
    const own = await explainTrace(small, {}, { every: 50_000 }, (line) => notes.push(line));
    expect(own.text).toContain("\nReplayed with: CPython 3.13's pymalloc, PYTHONMALLOC=default, libc glibc 2.36 (recorded by CPython 3.13.0)\n");
    expect(notes).toEqual(["from the trace header: CPython 3.13"]);
    notes.length = 0;
    const other = await explainTrace(small, {}, { every: 50_000, pymallocVersion: "3.11" }, (line) => notes.push(line));
    expect(other.text).toContain("\nReplayed with: CPython 3.11's pymalloc, PYTHONMALLOC=default, libc glibc 2.36 (recorded by CPython 3.13.0)\n");
    expect(notes).toEqual(["the trace was recorded by CPython 3.13.0; --pymalloc-version 3.11 wins"]);
  }, 120_000);

  it("a real C program recorded under glibc 2.41: replayed with glibc 2.41's model, and the line says so", async () => {
    const notes: string[] = [];
    const outcome = await explainTrace(fixture("glibc-2.41/sed.memtrace.gz"), {}, { every: 50_000 }, (line) => notes.push(line));
    expect(outcome.text).toContain("\nReplayed with: libc glibc 2.41 (recorded under glibc 2.41)\n");
    expect(notes).toEqual(["from the trace header: 2 CPUs, glibc 2.41"]);
  }, 120_000);
});
