/**
 * Global setup of every package's vitest run: one temporary folder for the whole run,
 * handed to the tests (and the compilers and interpreters they start) as TMPDIR and removed
 * at the end, so that no test leaves folders in the system's temp directory; and, for
 * `npm run test:live`, the host facts probed once and passed to every test file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LIVE, probeHostFacts } from "./host-facts.js";

/** Sets TMPDIR (and MEM_HOST_FACTS when live) for the run; returns the teardown. */
export default function setup(): () => void {
  const saved = { TMPDIR: process.env.TMPDIR, MEM_HOST_FACTS: process.env.MEM_HOST_FACTS };
  const dir = mkdtempSync(join(tmpdir(), "mem-test-run-"));
  process.env.TMPDIR = dir;
  if (LIVE && saved.MEM_HOST_FACTS === undefined) process.env.MEM_HOST_FACTS = JSON.stringify(probeHostFacts());
  return () => {
    rmSync(dir, { recursive: true, force: true });
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}
