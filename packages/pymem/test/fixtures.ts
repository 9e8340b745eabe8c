import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { liveSkip } from "../../../scripts/host-facts.js";

/** Loads a recorded fixture from test/fixtures (recorded by test/live/record.py from python3 3.11). */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}

/** Path of a live probe script in test/live. */
export function probe(name: string): string {
  return fileURLToPath(new URL(`./live/${name}`, import.meta.url));
}

/**
 * Why the live re-run of the probes against `python3` is skipped here, or null to run it:
 * only under `npm run test:live`, and only when python3 is CPython 3.11 (the version the
 * model and the fixtures are of) with `_testcapi` (the probes need it).
 */
export function livePythonSkip(): string | null {
  return liveSkip({ tools: ["python3"], python3: "3.11", python3TestCapi: true });
}
