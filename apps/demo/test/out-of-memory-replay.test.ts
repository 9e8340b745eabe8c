/**
 * A real recording replayed on too little memory ends as the real program would: killed by the
 * OOM killer (status 137, the kernel's line), or with a Python MemoryError under
 * vm.overcommit_memory=2 — never with a simulated crash of a half-updated allocator.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkKernel } from "@mem/os-vm";
import { describe, expect, it } from "vitest";
import { killedExitStatus, memoryErrorFor, PythonMemoryError } from "../src/out-of-memory.js";
import { ReplayError } from "../src/replay.js";
import { replayFile } from "../src/replay-file.js";
import { createStack } from "../src/stack.js";
import { runWalkthrough } from "../src/walkthrough.js";
import { PYTHON_RECORDINGS } from "./support-fixtures.js";

const TRACE = join(PYTHON_RECORDINGS, "arena-release.memtrace.gz");
const KILLED = /^line (\d+): Killed \(SIGKILL\): Out of memory: Killed process 1 \(python3\) total-vm:\d+kB, anon-rss:\d+kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:\d+kB oom_score_adj:0$/;
const MEMORY_ERROR = /^line (\d+): MemoryError \(PyObject_Malloc\(\d+\) returned NULL\)$/;

async function replayError(options: Parameters<typeof createStack>[0]): Promise<{ error: ReplayError; stack: ReturnType<typeof createStack> }> {
  const stack = createStack(options);
  try {
    await replayFile(stack, TRACE);
  } catch (error) {
    if (error instanceof ReplayError) return { error, stack };
    throw error;
  }
  throw new Error("the replay did not fail");
}

describe("a replay that runs out of memory", () => {
  it("with 1 MiB of RAM (heuristic overcommit), is killed by the OOM killer: the kernel's line, status 137, all memory back", async () => {
    const { error, stack } = await replayError({ ramSize: 1024 * 1024 });
    expect(error.message).toMatch(KILLED);
    expect(killedExitStatus(error)).toBe(137);
    expect(stack.kernel.log.at(-1)).toBe(error.message.replace(/^line \d+: Killed \(SIGKILL\): /, ""));
    expect(stack.process.hasExited).toBe(true);
    expect(checkKernel(stack.kernel, [stack.process])).toEqual([]);
    expect(stack.kernel.pages.freePages).toBe(stack.kernel.pages.totalPages - 1);
  });

  it("with vm.overcommit_memory=2, ends with CPython's MemoryError at the event's line; the stack stays sound", async () => {
    const { error, stack } = await replayError({ ramSize: 1024 * 1024, overcommit: 2 });
    expect(error.message).toMatch(MEMORY_ERROR);
    expect(error.cause).toBeInstanceOf(PythonMemoryError);
    expect(killedExitStatus(error)).toBeUndefined();
    expect(stack.kernel.oomKills).toBe(0);
    expect(stack.process.hasExited).toBe(false);
    expect(checkKernel(stack.kernel, [stack.process])).toEqual([]);
    stack.libc.checkHeap();
    stack.pymalloc!.check();
  });

  it("with swap, gets further before the OOM killer acts", async () => {
    const without = await replayError({ ramSize: 1024 * 1024 });
    const withSwap = await replayError({ ramSize: 1024 * 1024, swapSize: 1024 * 1024 });
    expect(withSwap.error.message).toMatch(KILLED);
    expect(withSwap.error.line).toBeGreaterThan(without.error.line);
    expect(withSwap.stack.kernel.swap!.freeSlots).toBe(withSwap.stack.kernel.swap!.slots);
  });

  it("names each domain's C API in the MemoryError; a C program's NULL is no MemoryError", () => {
    expect(memoryErrorFor("obj", "Malloc", [400])?.message).toBe("MemoryError (PyObject_Malloc(400) returned NULL)");
    expect(memoryErrorFor("mem", "Calloc", [4, 100])?.message).toBe("MemoryError (PyMem_Calloc(4, 100) returned NULL)");
    expect(memoryErrorFor("raw", "Realloc", ["0x7ffff7f00010", 9000])?.message).toBe("MemoryError (PyMem_Raw_Realloc(0x7ffff7f00010, 9000) returned NULL)");
    expect(memoryErrorFor("libc", "Malloc", [400])).toBeUndefined();
  });
});

describe("the walk-through on too little memory", () => {
  it("with 1 MiB of RAM, its 1 MiB request is refused (one request larger than RAM + swap: ENOMEM) and CPython raises MemoryError", () => {
    expect(() => runWalkthrough({ ramSize: 1024 * 1024 })).toThrow(new PythonMemoryError("PyObject_Malloc(1048576)"));
    expect(() => runWalkthrough({ ramSize: 1024 * 1024, overcommit: 2 })).toThrow(PythonMemoryError);
  });
});

describe("mem-demo replay on too little memory", () => {
  const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
  const run = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });

  it("--ram 1: the OOM killer's line and exit status 137", () => {
    const r = run(["replay", TRACE, "--ram", "1"]);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(new RegExp(`^mem-demo replay: ${TRACE.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: ${KILLED.source.slice(1)}`));
    expect(r.status).toBe(137);
  }, 60_000);

  it("--ram 1 --overcommit 2: a MemoryError line and a non-zero status", () => {
    const r = run(["replay", TRACE, "--ram", "1", "--overcommit", "2"]);
    expect(r.stderr).toMatch(/: line \d+: MemoryError \(PyObject_Malloc\(\d+\) returned NULL\)\n$/);
    expect(r.status).toBe(1);
  }, 60_000);

  it("the walk-through with --ram 1: a MemoryError line, not a NULL dereference", () => {
    const r = run(["--ram", "1"]);
    expect(r.stderr).toBe("mem-demo: MemoryError (PyObject_Malloc(1048576) returned NULL)\n");
    expect(r.status).toBe(1);
  }, 60_000);

  it("refuses a bad --overcommit or --swap as a usage error", () => {
    expect(run(["replay", TRACE, "--overcommit", "3"]).status).not.toBe(0);
    expect(run(["replay", TRACE, "--swap", "-1"]).status).not.toBe(0);
  }, 60_000);
});
