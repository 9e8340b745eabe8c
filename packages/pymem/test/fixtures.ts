import { readFileSync } from "node:fs";

/** Loads a recorded fixture from test/fixtures (recorded by test/live/record.py from python3 3.11). */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;
}
