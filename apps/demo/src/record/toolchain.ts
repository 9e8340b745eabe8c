/**
 * Finding the system C compiler and the installed Python's headers and library, and
 * compiling the native helpers (apps/demo/native/*.c) once into a cache directory.
 *
 *   native/memtrace_python.c  --cc + python3-config --embed-->  <cache>/memtrace_python-<hash>
 *
 * The file name carries a hash of the sources, the compiler, the flags and the Python,
 * so that a changed source or another Python compiles afresh, and concurrent first uses
 * are safe (each compiles to a temporary name and renames it into place).
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RecordError } from "./errors.js";
import { nativeInputs } from "./native-inputs.js";
import { run } from "./run.js";

/** The directory of the C sources: `apps/demo/native`, found upwards from this module (src/record or dist). */
export function nativeDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "native");
    if (existsSync(join(candidate, "memtrace_python.c"))) return candidate;
    dir = dirname(dir);
  }
  throw new RecordError("the C sources of the recorders (apps/demo/native) are missing from this installation");
}

/** Where compiled helpers are kept: `$MEM_DEMO_CACHE`, else `$XDG_CACHE_HOME/mem-demo`, else `~/.cache/mem-demo`. */
export function defaultCacheDir(): string {
  const env = process.env;
  if (env.MEM_DEMO_CACHE) return env.MEM_DEMO_CACHE;
  return join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "mem-demo");
}

function onPath(name: string): string | undefined {
  if (name.includes("/")) return existsSync(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The C compiler: `$CC` if set, else `cc`, else `gcc`, else `clang`. */
export function findCompiler(): string {
  const wanted = process.env.CC;
  if (wanted) {
    const found = onPath(wanted);
    if (!found) throw new RecordError(`the C compiler named by CC (${wanted}) was not found`);
    return found;
  }
  for (const name of ["cc", "gcc", "clang"]) {
    const found = onPath(name);
    if (found) return found;
  }
  throw new RecordError(
    "no C compiler found (looked for $CC, cc, gcc, clang on PATH): the recorders are small C programs compiled on first use; " +
      "install one (Debian/Ubuntu: apt-get install gcc; Fedora: dnf install gcc; macOS: xcode-select --install)",
  );
}

/** What is needed to build a program that embeds a Python. */
export interface PythonBuild {
  /** The interpreter's real path (`sys.executable`). */
  readonly executable: string;
  /** `major.minor.micro`. */
  readonly version: string;
  /** Compiler flags (`python3-config --embed --cflags`). */
  readonly cflags: readonly string[];
  /** Linker flags (`python3-config --embed --ldflags`, plus an rpath to the library directory). */
  readonly ldflags: readonly string[];
}

/** Asks `python` (e.g. "python3") where its headers and library are, through its python3-config. */
export async function pythonBuild(python = "python3"): Promise<PythonBuild> {
  const exe = onPath(python);
  if (!exe) throw new RecordError(`no Python interpreter named ${python} on PATH`);
  const probe = await run(exe, [
    "-c",
    "import sys, sysconfig; print(sys.executable); print('%d.%d.%d' % sys.version_info[:3]); " +
      "print(sysconfig.get_config_var('INCLUDEPY') or ''); print(sysconfig.get_config_var('LIBDIR') or ''); print(sysconfig.get_config_var('VERSION') or '')",
  ]);
  if (probe.exitCode !== 0) throw new RecordError(`${python} does not run: ${probe.stderr.trim()}`);
  const [executable = "", version = "", include = "", libdir = "", short = ""] = probe.stdout.split("\n");
  if (!existsSync(join(include, "Python.h"))) {
    throw new RecordError(
      `the headers of ${executable} (Python ${version}) were not found: ${join(include, "Python.h")} is missing; ` +
        `install them (Debian/Ubuntu: apt-get install python${short}-dev; Fedora: dnf install python3-devel)`,
    );
  }
  const config = [join(dirname(executable), `python${short}-config`), join(dirname(executable), "python3-config")].find((c) => existsSync(c));
  if (!config) {
    throw new RecordError(
      `python${short}-config was not found next to ${executable}: it comes with the Python development files ` +
        `(Debian/Ubuntu: apt-get install python${short}-dev)`,
    );
  }
  const flags = await run(config, ["--embed", "--cflags"]);
  const libs = await run(config, ["--embed", "--ldflags"]);
  if (flags.exitCode !== 0 || libs.exitCode !== 0) {
    throw new RecordError(`${config} --embed failed (Python 3.8 or newer is needed): ${(flags.stderr + libs.stderr).trim()}`);
  }
  const split = (s: string): string[] => s.split(/\s+/).filter((f) => f.length > 0);
  return {
    executable,
    version,
    cflags: split(flags.stdout),
    ldflags: [...split(libs.stdout), ...(libdir ? [`-Wl,-rpath,${libdir}`] : [])],
  };
}

/** One helper to compile. */
export interface NativeTarget {
  /** Base name of the output, e.g. "memtrace_python". */
  readonly name: string;
  /** The main source file in the native directory. */
  readonly source: string;
  /** Headers it includes from the native directory; with those found by {@link nativeInputs}, part of the cache key. */
  readonly headers: readonly string[];
  /** Extra flags before the source (e.g. -shared -fPIC). */
  readonly flags: readonly string[];
  /** Flags after the source (libraries). */
  readonly libs: readonly string[];
}

/**
 * Compiles `target` unless an up-to-date binary is in the cache; returns the binary's path.
 * @throws {@link RecordError} with the compiler's messages when compilation fails
 */
export async function compileNative(target: NativeTarget, cacheDir = defaultCacheDir()): Promise<string> {
  const cc = findCompiler();
  const dir = nativeDir();
  const hash = createHash("sha256");
  hash.update(cc);
  for (const f of [...target.flags, ...target.libs]) hash.update(`\0${f}`);
  for (const file of nativeInputs(dir, target.source, target.headers)) hash.update(`\0${file}\0`).update(readFileSync(join(dir, file)));
  const out = join(cacheDir, `${target.name}-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.${randomUUID()}.tmp`; // unique even between worker threads
  const args = ["-O2", "-g", "-Wall", ...target.flags, "-o", tmp, join(dir, target.source), ...target.libs];
  const result = await run(cc, args);
  if (result.exitCode !== 0) {
    rmSync(tmp, { force: true });
    throw new RecordError(`compiling ${target.source} with ${basename(cc)} failed:\n${cc} ${args.join(" ")}\n${result.stderr.trim()}`);
  }
  renameSync(tmp, out);
  return out;
}
