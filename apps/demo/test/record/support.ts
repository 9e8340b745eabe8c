/** Shared by the record tests: a cache directory, and whether the toolchain is here. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hostSkip } from "../../../../scripts/host-facts.js";
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

/**
 * Why the native replayer (native/memtrace_replay.c) cannot be built here, or null: it calls
 * CPython's private `_PyMem_SetupAllocators` and `_PyMem_GetAllocatorName`, which libpython
 * exports up to 3.12 and no longer in 3.13 (checked with nm on pyenv's 3.10, 3.12 and 3.13).
 */
export const nativeReplaySkip = hostSkip({
  check: (host) => {
    if (!havePython) return "no python3 with headers, or no C compiler";
    const [major, minor] = (host.python3 ?? "0.0").split(".").map(Number) as [number, number];
    return major === 3 && minor <= 12 ? null : `host python3 is ${host.python3}: the native replayer needs _PyMem_SetupAllocators (CPython 3.12 or older)`;
  },
});
