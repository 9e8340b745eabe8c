/*
 * The CPython recorder and the exec functions a C extension may call that CPython's os module
 * does not: execl, execlp, execle and execveat. glibc 2.36 implements the l forms with its
 * internal __execve (no PLT call to execve), so a recorder that interposes only the v forms
 * never sees them: the new image replaced the recorder with the buffered tail unwritten and
 * the recording was reported incomplete. The libc shim has interposed all of them from the
 * start; since both shims share native/exit_paths.h, the CPython recorder does too.
 *
 * Called through ctypes.PyDLL(None): dlsym in the global scope finds the recorder's exported
 * (-rdynamic) definitions first, as a C extension's PLT call would, and the GIL stays held, as in
 * a C extension's function that does not release it (so the statistics can be written).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { recordPython } from "../../src/record/index.js";
import { cacheDir, havePython, scratch } from "./support.js";

const PROGRAM = [
  "import ctypes, os, sys",
  "libc = ctypes.PyDLL(None)",
  "m = bytearray(123456)",
  "how = sys.argv[1]",
  'if how == "execl": libc.execl(b"/bin/true", b"true", None)',
  'if how == "execlp": libc.execlp(b"true", b"true", None)',
  'if how == "execle": libc.execle(b"/bin/true", b"true", None, (ctypes.c_char_p * 1)())',
  'if how == "execveat":',
  '    argv = (ctypes.c_char_p * 2)(b"true", None)',
  "    libc.execveat(-100, b\"/bin/true\", argv, (ctypes.c_char_p * 1)(), 0)",
].join("\n");

const MARKER = /^r obj 0x0 123457 0x[0-9a-f]+$/;

describe.skipIf(!havePython)("the CPython recorder ends the trace before a C extension's execl, execlp, execle or execveat", () => {
  for (const [how, shown] of [
    ["execl", "/bin/true"],
    ["execlp", "true"],
    ["execle", "/bin/true"],
    ["execveat", "/bin/true"],
  ] as const) {
    it(`${how}: '# exec ${shown}', the end lines, the statistics, /bin/true's status`, { timeout: 120_000 }, async () => {
      const dir = scratch();
      const out = join(dir, `${how}.memtrace`);
      const rec = await recordPython(["python3", "-S", "-c", PROGRAM, how], { out, stdio: "pipe", cacheDir, frames: 0, env: { ...process.env, PYTHONHASHSEED: "0" } });
      const lines = readFileSync(out, "utf8").trimEnd().split("\n");
      expect(rec.exitCode).toBe(0);
      expect(rec.ending).toBe("exec");
      expect(lines.some((l) => MARKER.test(l))).toBe(true);
      const at = lines.indexOf(`# exec ${shown}`);
      expect(at).toBeGreaterThan(0);
      expect(lines.at(-1)).toMatch(new RegExp(`^# end exec: ${rec.events} events, `));
      expect(readFileSync(rec.statsOut, "utf8")).toMatch(/^Small block threshold = 512/);
    });
  }
});
