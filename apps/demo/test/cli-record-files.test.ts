/**
 * `mem-demo record` never destroys or silently replaces a user's file, names the command it
 * cannot find, chooses its recorder clearly, and loses no call when the program leaves by
 * abort(), _exit(), a fatal signal or exec. The built CLI runs in a temporary folder of its own.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { built, cleanTempDirs, finished, mem, memAsync, tempDir, until } from "./cli-support.js";
import { cacheDir, haveCompiler, havePython } from "./record/support.js";

cleanTempDirs();

const env = { MEM_DEMO_CACHE: cacheDir };

/** A C program that makes 201 calls (100 malloc/free pairs and one kept block), then leaves as argv[1] says. */
const PROGRAM = `
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 0; i < 100; i++) free(malloc(100 + i));
    void *keep = malloc(4000);
    const char *how = argc > 1 ? argv[1] : "exit";
    if (!strcmp(how, "abort")) abort();
    if (!strcmp(how, "_exit")) _exit(3);
    if (!strcmp(how, "_Exit")) _Exit(4);
    if (!strcmp(how, "segv")) { volatile int *p = (int *)16; *p = 1; }
    if (!strcmp(how, "exec")) { char *none[] = { NULL }; execle("/bin/true", "true", (char *)0, none); return 9; }
    if (!strcmp(how, "kill")) kill(getpid(), SIGKILL);
    if (!strcmp(how, "sleep")) { puts("sleeping"); fflush(stdout); sleep(60); }
    return keep != NULL ? 0 : 1;
}
`;

function compileProgram(dir: string): void {
  writeFileSync(join(dir, "prog.c"), PROGRAM);
  execFileSync("cc", ["-O0", "-o", join(dir, "prog"), join(dir, "prog.c")]);
}

const lastLine = (text: string) => text.trimEnd().split("\n").at(-1);

describe.skipIf(!built)("mem-demo record: which recorder, which command", () => {
  it("says the command was not found, and touches nothing", () => {
    const dir = tempDir();
    for (const args of [["--", "nosuchcmd"], ["--libc", "--", "nosuchcmd"], ["--", "python3", "nosuch.py"], ["--", "nosuch.py"]]) {
      const r = mem(["record", ...args], { cwd: dir, env });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^mem-demo record: (command not found: nosuchcmd|no such script: nosuch\.py)\n$/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a program that is neither Python nor a .py script without --libc, and says to pass --libc", () => {
    const dir = tempDir();
    const r = mem(["record", "--", "ls", "-l"], { cwd: dir, env });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "mem-demo record: ls is not a Python interpreter (python, python3, python3.11 ...) or a .py script: " +
        "to record a C program's malloc calls, pass --libc (mem-demo record --libc -- ls -l)\n",
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it("--help says which recorder applies and what the outputs are called", () => {
    const dir = tempDir();
    const r = mem(["record", "--help"], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Which recorder runs:");
    expect(r.stdout).toContain("a path ending in .py                     CPython, under python3");
    expect(r.stdout).toContain("anything else is refused: pass --libc to record a C program.");
    expect(r.stdout).toContain("default <program>.memtrace.gz (gzip)");
  });
});

describe.skipIf(!built || !havePython)("mem-demo record (CPython): the user's files are safe", () => {
  it("refuses to write the trace over the script being recorded, even with --force", () => {
    const dir = tempDir();
    const script = "print('hello')\n";
    writeFileSync(join(dir, "script.py"), script);
    for (const force of [[], ["--force"]]) {
      const r = mem(["record", "--out", "script.py", ...force, "--", "python3", "script.py"], { cwd: dir, env });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe("mem-demo record: will not write script.py: it is the same file as the script (script.py)\n");
    }
    const stats = mem(["record", "--stats-out", "script.py", "--", "./script.py"], { cwd: dir, env });
    expect(stats.stderr).toBe("mem-demo record: will not write script.py: it is the same file as the script (./script.py)\n");
    expect(readFileSync(join(dir, "script.py"), "utf8")).toBe(script);
    expect(readdirSync(dir)).toEqual(["script.py"]);
  }, 120_000);

  it("records to <script>.memtrace.gz (gzip) and <script>.stats.txt by default, and refuses to overwrite them without --force", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "script.py"), "x = [str(i) for i in range(1000)]\n");
    const first = mem(["record", "--", "python3", "script.py"], { cwd: dir, env });
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/written to script\.memtrace\.gz; pymalloc statistics in script\.stats\.txt\n$/);
    expect(readdirSync(dir).sort()).toEqual(["script.memtrace.gz", "script.py", "script.stats.txt"]);
    const trace = readFileSync(join(dir, "script.memtrace.gz"));
    expect([...trace.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(trace).toString("utf8")).toMatch(/^# memtrace v1\n/);
    const again = mem(["record", "--", "./script.py"], { cwd: dir, env });
    expect(again.status).toBe(1);
    expect(again.stderr).toBe("mem-demo record: script.memtrace.gz exists: pass --force to replace it, or --out <file> to choose another name\n");
    expect(readFileSync(join(dir, "script.memtrace.gz"))).toEqual(trace);
    const forced = mem(["record", "--force", "--", "./script.py"], { cwd: dir, env });
    expect(forced.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["script.memtrace.gz", "script.py", "script.stats.txt"]);
  }, 120_000);

  it("keeps the previous trace and statistics when a forced recording ends early, and marks the partial trace", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "t.memtrace"), "precious trace\n");
    writeFileSync(join(dir, "t.stats.txt"), "precious stats\n");
    const r = mem(["record", "--out", "t.memtrace", "--force", "--", "python3", "-c", "import os; os.kill(os.getpid(), 9)"], { cwd: dir, env });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^mem-demo record: the trace is incomplete: python3 ended \(exit status 137, SIGKILL\) before the recording reached its end/);
    expect(r.stderr).toContain("mem-demo record: t.memtrace is left as it was (a partial recording never replaces a file)");
    expect(readFileSync(join(dir, "t.memtrace"), "utf8")).toBe("precious trace\n");
    expect(readFileSync(join(dir, "t.stats.txt"), "utf8")).toBe("precious stats\n");
    const fresh = mem(["record", "--out", "u.memtrace", "--", "python3", "-c", "import os; os.kill(os.getpid(), 9)"], { cwd: dir, env });
    expect(fresh.status).toBe(1);
    expect(lastLine(readFileSync(join(dir, "u.memtrace"), "utf8"))).toMatch(/^# partial: python3 ended \(exit status 137, SIGKILL\) before the recording reached its end/);
    expect(readdirSync(dir).sort()).toEqual(["t.memtrace", "t.stats.txt", "u.memtrace"]);
  }, 120_000);

  it("records a program that leaves by os._exit(3) or os.abort() whole, and exits as it did", () => {
    const dir = tempDir();
    for (const [how, status, ending] of [["os._exit(3)", 3, "_exit(3)"], ["os.abort()", 134, "SIGABRT"]] as const) {
      const r = mem(["record", "--out", "t.memtrace", "--force", "--", "python3", "-c", `import os; ${how}`], { cwd: dir, env });
      expect(r.status, r.stderr).toBe(status);
      expect(r.stderr).toMatch(new RegExp(`written to t\\.memtrace; it ended by ${ending.replace(/[()]/g, "\\$&")} \\(exit status ${status}\\); pymalloc statistics in t\\.stats\\.txt\\n$`));
      expect(lastLine(readFileSync(join(dir, "t.memtrace"), "utf8"))).toMatch(new RegExp(`^# end ${ending.replace(/[()]/g, "\\$&")}: \\d+ events, `));
    }
  }, 120_000);

  it("writes the trace to standard output with --out - (the program's output goes to standard error)", () => {
    const dir = tempDir();
    const r = mem(["record", "--out", "-", "--", "python3", "-c", "print('program output')"], { cwd: dir, env });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^# memtrace v1\n[^]*# end atexit: \d+ events/);
    expect(r.stdout.split("\n")).not.toContain("program output");
    expect(r.stderr).toContain("program output");
    expect(readdirSync(dir)).toEqual(["python3.stats.txt"]);
  }, 120_000);

  it("leaves a trace marked partial when SIGINT interrupts the recording", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "slow.py"), "import time\nprint('sleeping', flush=True)\nx = [str(i) for i in range(100)]\ntime.sleep(60)\n");
    const child = memAsync(["record", "--out", "slow.memtrace", "--", "python3", "slow.py"], { cwd: dir, env });
    const done = finished(child);
    let out = "";
    child.stdout.on("data", (d: Buffer | string) => (out += d.toString()));
    await until(() => out.includes("sleeping"));
    child.kill("SIGINT");
    const r = await done;
    expect(r.status).toBe(130);
    expect(r.stderr).toContain("mem-demo record: interrupted by SIGINT; the partial trace is in slow.memtrace");
    expect(lastLine(readFileSync(join(dir, "slow.memtrace"), "utf8"))).toMatch(/^# partial: interrupted by SIGINT after \d+ events$/);
    expect(readdirSync(dir).sort()).toEqual(["slow.memtrace", "slow.py", "slow.stats.txt"]);
  }, 120_000);
});

describe.skipIf(!built || !haveCompiler)("mem-demo record --libc: no call lost, no file lost", () => {
  const calls = (text: string) => text.split("\n").filter((l) => /^[mcrfa] libc /.test(l)).length;

  for (const [how, status, ending] of [
    ["abort", 134, "SIGABRT"],
    ["_exit", 3, "_exit(3)"],
    ["_Exit", 4, "_Exit(4)"],
    ["segv", 139, "SIGSEGV"],
    ["exec", 0, "exec /bin/true"],
  ] as const) {
    it(`records every call of a program that leaves by ${how}`, () => {
      const dir = tempDir();
      compileProgram(dir);
      const r = mem(["record", "--libc", "--out", "t.memtrace", "--", "./prog", how], { cwd: dir, env });
      expect(r.status, r.stderr).toBe(status); // the CLI's message when it is not the program's status
      expect(r.stderr).toMatch(new RegExp(`^mem-demo record: 201 calls of \\./prog written to t\\.memtrace \\(heap start 0x[0-9a-f]+, exit status ${status}; it ended by ${ending.replace(/[()]/g, "\\$&")}\\)\\n$`));
      const text = readFileSync(join(dir, "t.memtrace"), "utf8");
      expect(calls(text)).toBe(201);
      expect(lastLine(text)).toBe(how === "exec" ? "# exec /bin/true: 201 events" : `# end ${ending}: 201 events`);
    }, 120_000);
  }

  it("is invisible to the program's own signal handling (CPython still turns SIGINT into KeyboardInterrupt)", () => {
    const dir = tempDir();
    const code = "import signal; h = signal.getsignal; print(h(signal.SIGINT) is signal.default_int_handler, int(h(signal.SIGTERM)), int(h(signal.SIGSEGV)))";
    const r = mem(["record", "--libc", "--out", "t.memtrace", "--", "python3", "-S", "-c", code], { cwd: dir, env });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("True 0 0\n"); // as without the shim
  }, 120_000);

  it("defaults to <program>.memtrace.gz", () => {
    const dir = tempDir();
    compileProgram(dir);
    const r = mem(["record", "--libc", "--", "./prog"], { cwd: dir, env });
    expect(r.status).toBe(0);
    expect(calls(gunzipSync(readFileSync(join(dir, "prog.memtrace.gz"))).toString("utf8"))).toBe(201);
  }, 120_000);

  it("reports a trace without its end marker (SIGKILL) as incomplete and keeps it marked partial", () => {
    const dir = tempDir();
    compileProgram(dir);
    const r = mem(["record", "--libc", "--out", "t.memtrace", "--", "./prog", "kill"], { cwd: dir, env });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^mem-demo record: the trace of \.\/prog is incomplete: \.\/prog ended \(exit status 137, SIGKILL\) without the recorder's end marker/);
    expect(lastLine(readFileSync(join(dir, "t.memtrace"), "utf8"))).toMatch(/^# partial: \.\/prog ended \(exit status 137, SIGKILL\) without the recorder's end marker/);
  }, 120_000);

  it("keeps the previous output when the command does not exist, even with --force", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "t.memtrace"), "precious\n");
    const r = mem(["record", "--libc", "--force", "--out", "t.memtrace", "--", "nosuchcmd"], { cwd: dir, env });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("mem-demo record: command not found: nosuchcmd\n");
    expect(readFileSync(join(dir, "t.memtrace"), "utf8")).toBe("precious\n");
    expect(readdirSync(dir)).toEqual(["t.memtrace"]);
  }, 120_000);

  it("refuses an output that is the program or one of its file arguments (also through a hard link)", () => {
    const dir = tempDir();
    compileProgram(dir);
    const size = statSync(join(dir, "prog")).size;
    const r = mem(["record", "--libc", "--force", "--out", "prog", "--", "./prog"], { cwd: dir, env });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("mem-demo record: will not write prog: it is the same file as the program (./prog)\n");
    writeFileSync(join(dir, "words.txt"), "b\na\n");
    execFileSync("ln", [join(dir, "words.txt"), join(dir, "link.txt")]);
    const arg = mem(["record", "--libc", "--force", "--out", "link.txt", "--", "sort", "words.txt"], { cwd: dir, env });
    expect(arg.stderr).toBe("mem-demo record: will not write link.txt: it is the same file as an argument of the command (words.txt)\n");
    expect(statSync(join(dir, "prog")).size).toBe(size);
    expect(readFileSync(join(dir, "words.txt"), "utf8")).toBe("b\na\n");
  }, 120_000);

  it("leaves a trace marked partial when SIGINT interrupts the recording", async () => {
    const dir = tempDir();
    compileProgram(dir);
    const child = memAsync(["record", "--libc", "--out", "t.memtrace.gz", "--", "./prog", "sleep"], { cwd: dir, env });
    const done = finished(child);
    let out = "";
    child.stdout.on("data", (d: Buffer | string) => (out += d.toString()));
    await until(() => out.includes("sleeping"));
    child.kill("SIGINT");
    const r = await done;
    expect(r.status).toBe(130);
    expect(r.stderr).toContain("mem-demo record: interrupted by SIGINT; the partial trace is in t.memtrace.gz");
    const text = gunzipSync(readFileSync(join(dir, "t.memtrace.gz"))).toString("utf8");
    expect(calls(text)).toBe(202); // puts() allocated stdout's buffer
    expect(text.trimEnd().split("\n").slice(-2)).toEqual(["# end SIGINT: 202 events", "# partial: interrupted by SIGINT after 202 events"]);
    expect(readdirSync(dir).sort()).toEqual(["prog", "prog.c", "t.memtrace.gz"]);
  }, 120_000);
});
