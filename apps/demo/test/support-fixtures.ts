/** Where the recordings of real programs live (made by src/record on this machine). */
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Real CPython 3.11 recordings: `<name>.memtrace.gz` + `<name>.stats.txt`. */
export const PYTHON_RECORDINGS = fileURLToPath(new URL("../../../packages/small-object/test/fixtures/recordings/", import.meta.url));
/** Real C-program recordings under glibc 2.36: `<name>.memtrace.gz` with `# heap-start`. */
export const LIBC_RECORDINGS = fileURLToPath(new URL("../../../packages/libc-malloc/test/fixtures/recordings/", import.meta.url));

/** The recording names in `dir` (without `.memtrace.gz`). */
export function recordings(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".memtrace.gz"))
    .map((f) => f.slice(0, -".memtrace.gz".length))
    .sort();
}
