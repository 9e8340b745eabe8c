/** Shared by the record tests: a cache directory, and whether the toolchain is here. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findCompiler, pythonBuild } from "../../src/record/index.js";

/** Compiled helpers are cached across test runs here (in the workspace, not the temp directory). */
export const cacheDir = fileURLToPath(new URL("../../../../node_modules/.cache/mem-demo-test", import.meta.url));

/** A fresh directory for one test's outputs (inside the run's temporary folder, removed at the end). */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), "mem-demo-record-"));
}

function has(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

/** Whether a C compiler is on PATH. */
export const haveCompiler = has(findCompiler);

/** Whether python3 with its headers and python3-config is installed (and a compiler). */
export const havePython = haveCompiler && (await pythonBuild("python3").then(() => true, () => false));
