/** Shared by the record tests: a cache directory, and whether the toolchain is here. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findCompiler, pythonBuild } from "../../src/record/index.js";

/** Compiled helpers are cached across test runs here. */
export const cacheDir = join(tmpdir(), "mem-demo-test-cache");

/** A fresh directory for one test's outputs. */
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
