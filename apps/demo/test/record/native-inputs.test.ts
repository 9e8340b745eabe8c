import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { nativeInputs } from "../../src/record/native-inputs.js";
import { nativeDir } from "../../src/record/index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "mem-demo-inputs-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("the inputs of a native helper (its cache key)", () => {
  it("both recorders are built from the shared exit_paths.h, thread_exits.h and proc_self.h and every other local header they include; the checker from proc_self.h too", () => {
    const dir = nativeDir();
    expect(nativeInputs(dir, "memtrace_libc.c").sort()).toEqual(["exit_paths.h", "libc_stacks.h", "memtrace_libc.c", "proc_self.h", "ptr_map.h", "rss_sample.h", "thread_exits.h", "trace_writer.h"]);
    // internal/pycore_interp.h (CPython's, under #if) is not a file of the directory: not followed
    expect(nativeInputs(dir, "memtrace_python.c").sort()).toEqual(["exit_paths.h", "memtrace_python.c", "proc_self.h", "ptr_map.h", "py_frames.h", "rss_sample.h", "thread_exits.h", "trace_writer.h"]);
    expect(nativeInputs(dir, "memtrace_libc_check.c").sort()).toEqual(["memtrace_libc_check.c", "proc_self.h", "ptr_map.h", "trace_parse.h"]);
  });

  it("follows includes through headers, each once (a cycle ends), skips <system> headers and missing files, adds the extra ones", () => {
    const dir = tree({
      "a.c": '#include <stdio.h>\n#include "b.h"\n  #  include "missing.h"\n/* #include "c.h" in a comment line is not at the start */\n',
      "b.h": '#include "c.h"\n#include "b.h"\n',
      "c.h": '#include "b.h"\n',
      "d.h": "",
    });
    expect(nativeInputs(dir, "a.c")).toEqual(["a.c", "b.h", "c.h"]);
    expect(nativeInputs(dir, "a.c", ["d.h", "b.h"])).toEqual(["a.c", "b.h", "c.h", "d.h"]);
  });
});
