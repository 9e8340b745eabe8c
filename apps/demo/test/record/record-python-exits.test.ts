/*
 * The CPython recorder on the ways out that skip the atexit callbacks: os._exit() (_exit
 * interposed), fatal signals (os.abort()'s SIGABRT, a SIGSEGV) and os.execv (the exec family). The buffered tail of the
 * trace used to be lost there (the recording reported incomplete); now every call is kept,
 * the trace ends with "# end _exit(3): ..." / "# end SIGABRT: ..." and the status is passed on.
 *
 * Every call is kept: the program makes a marker allocation (bytearray(123456): "r obj 0x0
 * 123457 ...") just before it leaves; the trace holds it and the calls after it (os._exit: 2,
 * os.abort: 2, measured, the same in every run), as many calls up to it as a normal exit records
 * (PYTHONHASHSEED=0, same argv length; within a few calls: with address space randomisation a
 * few frees in CPython's start-up depend on the addresses), and as many call lines as its end
 * line counts. The recorder before this change lost up to 1 MiB of lines there: the marker and
 * ~4,400 calls before it were missing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { recordPython } from "../../src/record/index.js";
import { cacheDir, havePython, scratch } from "./support.js";

const PROGRAM = [
  "import os, sys",
  "l = [str(i) for i in range(5000)]",
  "m = bytearray(123456)",
  'if sys.argv[1] == "_exit": os._exit(3)',
  'if sys.argv[1] == "abort": os.abort()',
  'if sys.argv[1] == "segv_": import ctypes; ctypes.string_at(0)',
  'if sys.argv[1] == "fork_":',
  "    pid = os.fork()",
  "    if pid == 0: os._exit(5)",
  "    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))",
  'if sys.argv[1] == "exec_": os.execv("/bin/true", ["true"])',
  'if sys.argv[1] == "fail_":',
  '    try: os.execv("/nonexistent/prog", ["prog"])',
  '    except OSError: print("exec failed")',
  "    n = bytearray(123456)",
  // every argv[1] is also a constant of the code: otherwise one more string is allocated before the marker
  'if sys.argv[1] == "none_": pass',
].join("\n");

const env = { ...process.env, PYTHONHASHSEED: "0" };
const CALL = /^[mcrfa] /;
const MARKER = /^r obj 0x0 123457 0x[0-9a-f]+$/;

/** Records PROGRAM leaving by `how` (five letters, so that argv has the same length). */
async function recordLeaving(how: string) {
  const dir = scratch();
  const out = join(dir, `${how}.memtrace`);
  const rec = await recordPython(["python3", "-S", "-c", PROGRAM, how], { out, stdio: "pipe", cacheDir, frames: 0, rssEvery: 10000, env });
  const lines = readFileSync(out, "utf8").trimEnd().split("\n");
  const calls = lines.filter((l) => CALL.test(l)).length;
  const marker = lines.findIndex((l) => MARKER.test(l));
  const callsToMarker = marker < 0 ? -1 : lines.slice(0, marker + 1).filter((l) => CALL.test(l)).length;
  const stats = readFileSync(rec.statsOut, "utf8");
  return { rec, lines, calls, callsToMarker, stats };
}

describe.skipIf(!havePython)("the CPython recorder keeps every call when the program leaves by os._exit or a fatal signal", () => {
  it("os._exit(3) and os.abort(): the same calls up to the marker as a normal exit, every call of the trace counted, the status passed on", { timeout: 240_000 }, async () => {
    const normal = await recordLeaving("none_");
    expect(normal.rec.exitCode).toBe(0);
    expect(normal.rec.ending).toBe("atexit");
    expect(normal.callsToMarker).toBeGreaterThan(10_000);
    for (const [how, status, ending, after] of [
      ["_exit", 3, "_exit(3)", 2],
      ["abort", 134, "SIGABRT", 2],
      ["segv_", 139, "SIGSEGV", undefined], // after importing ctypes
      ["exec_", 0, "exec", 8], // /bin/true's status
    ] as const) {
      const r = await recordLeaving(how);
      expect(r.rec.exitCode, how).toBe(status);
      expect(r.rec.ending, how).toBe(ending);
      expect(r.callsToMarker, how).toBeGreaterThan(0);
      expect(Math.abs(r.callsToMarker - normal.callsToMarker), how).toBeLessThanOrEqual(10);
      if (after !== undefined) expect(r.calls - r.callsToMarker, how).toBe(after);
      else expect(r.calls - r.callsToMarker, how).toBeGreaterThan(1000);
      expect(r.calls, how).toBe(r.rec.events);
      expect(r.lines.at(-1), how).toMatch(new RegExp(`^# end ${ending.replace(/[()]/g, "\\$&")}: ${r.rec.events} events, `));
      // the last # rss sample is taken at the end, as at a normal exit
      expect(r.lines.at(-2), how).toMatch(new RegExp(`^# rss ${r.rec.events} `));
      // the statistics of that moment (the GIL held, no allocator call under way)
      expect(r.stats, how).toMatch(/^Small block threshold = 512/);
    }
  });

  it("os.execv that fails: '# exec failed', the recording goes on to its real end, whose statistics are written", { timeout: 120_000 }, async () => {
    const r = await recordLeaving("fail_");
    expect(r.rec.exitCode).toBe(0);
    expect(r.rec.stdout).toBe("exec failed\n");
    expect(r.rec.ending).toBe("atexit");
    expect(r.calls).toBe(r.rec.events);
    expect(r.lines.filter((l) => MARKER.test(l))).toHaveLength(2); // the second bytearray, after the failed exec: the hooks are back
    const at = r.lines.indexOf("# exec /nonexistent/prog");
    expect(at).toBeGreaterThan(0);
    expect(r.lines.slice(at).find((l) => l.startsWith("# end "))).toMatch(/^# end exec: \d+ events, /);
    expect(r.lines).toContain("# exec failed: the recording goes on");
    expect(r.lines.at(-1)).toMatch(new RegExp(`^# end atexit: ${r.rec.events} events, `));
    expect(r.stats).toMatch(/^Small block threshold = 512/);
  });

  it("a forked child's os._exit(5) does not end the parent's recording; the program's own SIGTERM handler and getsignal() are as without the recorder", { timeout: 120_000 }, async () => {
    const fork = await recordLeaving("fork_");
    expect(fork.rec.stdout).toBe("5\n");
    expect(fork.rec.ending).toBe("atexit");
    expect(fork.calls).toBe(fork.rec.events);
    const dir = scratch();
    const code = [
      "import os, signal",
      "h = signal.getsignal",
      "print(h(signal.SIGINT) is signal.default_int_handler, int(h(signal.SIGTERM)), int(h(signal.SIGSEGV)), int(h(signal.SIGABRT)))",
      "signal.signal(signal.SIGTERM, lambda *a: print('own handler'))",
      "os.kill(os.getpid(), signal.SIGTERM)",
    ].join("\n");
    const rec = await recordPython(["python3", "-S", "-c", code], { out: join(dir, "t.memtrace"), stdio: "pipe", cacheDir, frames: 0 });
    expect(rec.stdout).toBe("True 0 0 0\nown handler\n");
    expect(rec.exitCode).toBe(0);
    expect(rec.ending).toBe("atexit");
  });
});
