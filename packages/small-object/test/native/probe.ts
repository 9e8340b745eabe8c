/**
 * Builds and runs pymalloc_probe.c against a real CPython shared library (when gcc and the
 * Python headers are on the machine). Used by the live tests, the fixture recorder and the
 * benchmark.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("./pymalloc_probe.c", import.meta.url));

/** The python executable of a `major.minor` version: python3 for 3.11, else a pyenv install. */
export function findPython(version: string): string | null {
  const candidates: string[] = [];
  const root = process.env.PYENV_ROOT ?? join(homedir(), ".pyenv");
  const versions = join(root, "versions");
  if (existsSync(versions)) {
    for (const d of readdirSync(versions)) if (d.startsWith(`${version}.`)) candidates.push(join(versions, d, "bin", `python${version}`));
  }
  candidates.push(`python${version}`);
  if (version === "3.11") candidates.push("python3");
  for (const c of candidates) {
    try {
      const out = execFileSync(c, ["-c", "import sys;print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      if (out.trim() === version) return c;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Compiles the probe for `version`; returns the executable path, or a reason it cannot be built. */
export function buildProbe(version: string): { exe: string } | { skip: string } {
  const python = findPython(version);
  if (python === null) return { skip: `no CPython ${version} found` };
  let include: string;
  let libdir: string;
  try {
    [include, libdir] = execFileSync(python, ["-c", "import sysconfig as s;print(s.get_paths()['include']);print(s.get_config_var('LIBDIR'))"], {
      encoding: "utf8",
    })
      .trim()
      .split("\n") as [string, string];
  } catch {
    return { skip: `cannot query sysconfig of ${python}` };
  }
  if (!existsSync(join(include, "Python.h"))) return { skip: `no Python.h under ${include}` };
  const dir = join(tmpdir(), `mem-small-object-probe-${process.pid}`); // per process: tests and benches may run at once
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    process.once("exit", () => rmSync(dir, { recursive: true, force: true })); // the bench leaves nothing in the temp directory either
  }
  const exe = join(dir, `probe-${version}`);
  try {
    execFileSync("gcc", ["-O2", "-o", exe, SOURCE, `-I${include}`, `-L${libdir}`, `-lpython${version}`, `-Wl,-rpath,${libdir}`, "-lm"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    return { skip: `gcc failed for CPython ${version}: ${String((e as Error).message).split("\n")[0]}` };
  }
  return { exe };
}

/**
 * Runs the probe in trace mode on `script` with PYTHONMALLOCSTATS=1; returns the memtrace
 * text, the real final stats text, and the dumps real pymalloc wrote at each new_arena().
 */
export function runProbe(exe: string, script: string[]): { trace: string; stats: string; dumps: string } {
  const r = spawnSync(exe, ["trace"], {
    input: script.join("\n") + "\n",
    encoding: "utf8",
    maxBuffer: 1 << 28,
    env: { ...process.env, PYTHONMALLOCSTATS: "1" },
  });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  const last = r.stderr.lastIndexOf("Small block threshold");
  return { trace: r.stdout, stats: r.stderr.slice(last), dumps: r.stderr.slice(0, last) };
}

/** Runs the probe's benchmark mode; returns the best nanoseconds per operation. */
export function benchProbe(exe: string, rounds: number, live: number, churn: number): number {
  return Number(execFileSync(exe, ["bench", String(rounds), String(live), String(churn)], { encoding: "utf8" }).trim());
}

/** The first `n` request sizes of the benchmark workload as the probe generates them. */
export function probeSizes(exe: string, n: number): number[] {
  return execFileSync(exe, ["sizes", String(n)], { encoding: "utf8" }).trim().split("\n").map(Number);
}
