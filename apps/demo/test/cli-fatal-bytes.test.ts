/**
 * CPython writes a debug block's API id with `%c`: a corrupted id of 0xe9 reaches stderr as the
 * single byte 0xe9 (measured on 3.11.7), not as the UTF-8 pair 0xc3 0xa9. The CLI passes the
 * report's bytes through as they are.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { built, cleanTempDirs, CLI, tempDir } from "./cli-support.js";

cleanTempDirs();

// Two 16-byte debug blocks side by side in a 48-byte class pool; a write from the first lands on
// the second's API id byte (8 bytes before its data), then the second is freed.
const TRACE = ["# memtrace v1", "m obj 16 0x1000", "m obj 16 0x2000", "w 0x1000 40 e9", "f obj 0x2000", ""].join("\n");

describe.skipIf(!built)("mem-demo replay: a fatal error's report as bytes", () => {
  it("writes a corrupted API id as one raw byte, the rest of the line as text", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rawid.memtrace"), TRACE);
    const r = spawnSync(process.execPath, [CLI, "replay", "--pythonmalloc", "debug", "rawid.memtrace"], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    expect(r.status).toBe(1);
    const err = r.stderr as Buffer;
    const text = err.toString("latin1");
    expect(text).toContain("mem-demo replay: rawid.memtrace: line 5: ");
    expect(text).toContain("Debug memory block at address p=");
    expect(text).toContain("bad ID: Allocated using API '\xe9', verified using API 'o'");
    expect(err.includes(Buffer.from([0xc3, 0xa9]))).toBe(false);
    expect(err.includes(Buffer.from("API '\xe9'", "latin1"))).toBe(true);
  });
});
