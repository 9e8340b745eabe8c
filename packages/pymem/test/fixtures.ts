import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Loads a recorded fixture from test/fixtures (recorded by test/live/record.py from python3 3.11). */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}

/** Path of a live probe script in test/live. */
export function probe(name: string): string {
  return fileURLToPath(new URL(`./live/${name}`, import.meta.url));
}

/** `python3` when it is CPython 3.11 with `_testcapi` (the probes need it), else null. */
export function livePython(): string | null {
  try {
    const out = execFileSync("python3", ["-c", "import sys, _testcapi; print(sys.version_info[:2] == (3, 11))"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out.trim() === "True" ? "python3" : null;
  } catch {
    return null;
  }
}
