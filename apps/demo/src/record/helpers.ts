/**
 * The four native helpers and how each is built (sources in apps/demo/native).
 */
import { compileNative, defaultCacheDir, pythonBuild, type PythonBuild } from "./toolchain.js";

/** Builds (once) the CPython recorder for `build`'s Python; returns its path. */
export function pythonRecorder(build: PythonBuild, cacheDir = defaultCacheDir()): Promise<string> {
  return compileNative(
    // -rdynamic: libpython's calls of _Py_NewReference reach the recorder's (py_frames.h, source locations)
    { name: "memtrace_python", source: "memtrace_python.c", headers: ["trace_writer.h", "ptr_map.h", "py_frames.h", "rss_sample.h", "exit_paths.h", "thread_exits.h", "proc_self.h"], flags: build.cflags, libs: [...build.ldflags, "-rdynamic"] },
    cacheDir,
  );
}

/** Builds (once) the native replayer (linked with `build`'s libpython); returns its path. */
export function nativeReplayer(build: PythonBuild, cacheDir = defaultCacheDir()): Promise<string> {
  return compileNative(
    { name: "memtrace_replay", source: "memtrace_replay.c", headers: ["trace_parse.h", "ptr_map.h"], flags: build.cflags, libs: build.ldflags },
    cacheDir,
  );
}

/** Builds (once) the LD_PRELOAD shim; returns the shared object's path. */
export function libcShim(cacheDir = defaultCacheDir()): Promise<string> {
  return compileNative(
    { name: "memtrace_libc.so", source: "memtrace_libc.c", headers: ["trace_writer.h", "libc_stacks.h", "rss_sample.h", "ptr_map.h", "exit_paths.h", "thread_exits.h", "proc_self.h"], flags: ["-shared", "-fPIC", "-pthread"], libs: [] },
    cacheDir,
  );
}

/** Builds (once) the glibc placement checker; returns its path. */
export function libcChecker(cacheDir = defaultCacheDir()): Promise<string> {
  return compileNative(
    { name: "memtrace_libc_check", source: "memtrace_libc_check.c", headers: ["trace_parse.h", "ptr_map.h", "proc_self.h"], flags: [], libs: [] },
    cacheDir,
  );
}

export { pythonBuild };
