/**
 * What a replay takes from a trace's header (CPython version, PYTHONMALLOC, glibc's
 * settings), and that the command line wins.
 */
import { describe, expect, it } from "vitest";
import { parseTraceHeader } from "../src/trace-header.js";
import { fromHeaderLine, pymallocVersionOf, replayedWithLine, replaySettings, TraceSettingsError } from "../src/trace-settings.js";

const python = (version: string, ...more: string[]) =>
  parseTraceHeader([
    "# memtrace v1",
    `# recorder memtrace_python: CPython ${version}, pymalloc arena size 1048576`,
    "# argv python3 -c pass",
    ...more,
    "# heap-start 0x55be5acd6000",
    "m raw 2 0x55be5acd6300",
    "# env PYTHONMALLOC=malloc",
  ]);

describe("reading the header", () => {
  it("the CPython recorder's lines", () => {
    const h = python("3.8.18", "# env PYTHONHASHSEED=0", "# env PYTHONMALLOC=debug");
    expect(h).toEqual({ env: { PYTHONHASHSEED: "0", PYTHONMALLOC: "debug" }, heapStart: 0x55be5acd6000, python: "3.8.18" });
  });

  it("the C recorder's lines", () => {
    const h = parseTraceHeader([
      "# memtrace v1",
      "# recorder memtrace_libc (LD_PRELOAD): glibc 2.36",
      "# pid 15710",
      "# argv ./heap_workout 1",
      "# env GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536",
      "# env MALLOC_PERTURB_=3",
      "# heap-start 0x555a5ac33000",
    ]);
    expect(h.glibc).toBe("2.36");
    expect(h.python).toBeUndefined();
    expect(h.env).toEqual({ GLIBC_TUNABLES: "glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536", MALLOC_PERTURB_: "3" });
  });

  it("versions map to presets only where there is one", () => {
    expect(pymallocVersionOf("3.8.18")).toBe("3.8");
    expect(pymallocVersionOf("3.12.1")).toBe("3.12");
    expect(pymallocVersionOf("3.13.0")).toBe("3.13");
    expect(pymallocVersionOf("3.14.0")).toBeUndefined();
    expect(pymallocVersionOf("3.6.15")).toBeUndefined();
  });
});

describe("deciding the settings", () => {
  it("a CPython 3.8 trace replays with 3.8 parameters", () => {
    const s = replaySettings(python("3.8.18"));
    expect(s.pymallocVersion).toBe("3.8");
    expect(fromHeaderLine(s)).toBe("from the trace header: CPython 3.8");
  });

  it("a version without a preset is refused unless --pymalloc-version is given", () => {
    for (const version of ["3.14.0", "3.6.15", "3.7.16"]) {
      expect(() => replaySettings(python(version))).toThrow(TraceSettingsError);
      expect(() => replaySettings(python(version))).toThrow(
        `the trace was recorded by CPython ${version}, which has no pymalloc preset here (3.8, 3.9, 3.10, 3.11, 3.12, 3.13): give --pymalloc-version to replay it with one of them`,
      );
      const s = replaySettings(python(version), { pymallocVersion: "3.12" });
      expect(s.pymallocVersion).toBe("3.12");
      expect(s.warnings).toEqual([`the trace was recorded by CPython ${version}; --pymalloc-version 3.12 wins`]);
    }
  });

  it("PYTHONMALLOC from the header, unless given; an unknown one is refused", () => {
    const h = python("3.11.7", "# env PYTHONMALLOC=debug");
    expect(replaySettings(h).pythonMalloc).toBe("debug");
    expect(fromHeaderLine(replaySettings(h))).toBe("from the trace header: CPython 3.11, PYTHONMALLOC=debug");
    expect(replaySettings(h, { pythonMalloc: "malloc" }).pythonMalloc).toBe("malloc");
    expect(replaySettings(python("3.11.7", "# env PYTHONMALLOC=")).pythonMalloc).toBe("default");
    expect(() => replaySettings(python("3.11.7", "# env PYTHONMALLOC=weird"))).toThrow("the trace was recorded under PYTHONMALLOC=weird, which is not modelled");
  });

  it("a trace of CPython 3.13's mimalloc is refused with that reason; --pythonmalloc replays its calls as a what-if", () => {
    for (const name of ["mimalloc", "mimalloc_debug"]) {
      const h = python("3.13.0", `# env PYTHONMALLOC=${name}`);
      expect(() => replaySettings(h)).toThrow(
        `the trace was recorded under PYTHONMALLOC=${name}: mimalloc, not pymalloc, served the mem and obj domains, and no mimalloc tier exists yet; ` +
          "give --pythonmalloc to replay its calls through one of default, malloc, pymalloc, debug, malloc_debug, pymalloc_debug (a what-if, not a reproduction)",
      );
      const s = replaySettings(h, { pythonMalloc: "pymalloc" });
      expect(s.pythonMalloc).toBe("pymalloc");
      expect(s.warnings).toEqual([`the trace was recorded under PYTHONMALLOC=${name}, and no mimalloc tier exists yet; --pythonmalloc pymalloc wins (a what-if, not a reproduction)`]);
    }
  });

  it("a trace of a free-threaded build (mimalloc is its only allocator) is refused with that reason", () => {
    const h = python("3.13.0", "# python-build free-threaded");
    expect(h.freeThreaded).toBe(true);
    expect(() => replaySettings(h)).toThrow(
      "the trace was recorded by a free-threaded CPython 3.13.0 build: mimalloc, not pymalloc, served the mem and obj domains, and no mimalloc tier exists yet; " +
        "give --pythonmalloc to replay its calls through one of default, malloc, pymalloc, debug, malloc_debug, pymalloc_debug (a what-if, not a reproduction)",
    );
    expect(replaySettings(h, { pythonMalloc: "default" }).warnings).toEqual([
      "the trace was recorded by a free-threaded CPython 3.13.0 build, and no mimalloc tier exists yet; --pythonmalloc default wins (a what-if, not a reproduction)",
    ]);
    expect(python("3.13.0").freeThreaded).toBeUndefined();
  });

  it("glibc settings from the header, each overridable; the line names them all", () => {
    const h = python(
      "3.8.18",
      "# env PYTHONMALLOC=debug",
      "# env GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=65536",
      "# env MALLOC_PERTURB_=3",
      "# env MALLOC_ARENA_MAX=2",
    );
    const s = replaySettings(h);
    expect(s.glibc).toEqual({ tcacheCount: 0, mmapThreshold: 65536, perturb: 3, arenaMax: 2 });
    expect(fromHeaderLine(s)).toBe(
      "from the trace header: CPython 3.8, PYTHONMALLOC=debug, glibc.malloc.perturb=3 (MALLOC_PERTURB_), " +
        "glibc.malloc.mmap_threshold=65536, glibc.malloc.arena_max=2 (MALLOC_ARENA_MAX), glibc.malloc.tcache_count=0",
    );
    expect(s.warnings).toEqual([]);
    const cli = replaySettings(h, { glibcTunables: "glibc.malloc.tcache_count=7" });
    expect(cli.glibc).toEqual({ tcacheCount: 7, mmapThreshold: 65536, perturb: 3, arenaMax: 2 });
    expect(cli.warnings[0]).toBe("the trace was recorded with glibc.malloc.tcache_count=0; --glibc-tunables glibc.malloc.tcache_count=7 wins");
  });

  it("the recording machine's CPU count (# cpus) sizes glibc's arena limit; MALLOC_ARENA_MAX is modelled", () => {
    const h = parseTraceHeader(["# memtrace v1", "# recorder memtrace_libc (LD_PRELOAD): glibc 2.36", "# env MALLOC_ARENA_MAX=2", "# cpus 16", "m libc 1 0x10"]);
    expect(h.cpus).toBe(16);
    const s = replaySettings(h);
    expect(s.glibc).toEqual({ arenaMax: 2, cpus: 16 });
    expect(fromHeaderLine(s)).toBe("from the trace header: glibc.malloc.arena_max=2 (MALLOC_ARENA_MAX), 16 CPUs");
    expect(replaySettings(h, { fromHeader: false }).glibc).toEqual({});
  });

  it("--cpus wins over the header's # cpus, and says so when they differ", () => {
    const h = parseTraceHeader(["# memtrace v1", "# recorder memtrace_libc (LD_PRELOAD): glibc 2.36", "# cpus 2", "m libc 1 0x10"]);
    const s = replaySettings(h, { cpus: 1 });
    expect(s.glibc).toEqual({ cpus: 1 });
    expect(s.fromHeader).toEqual([]);
    expect(s.warnings).toEqual(["the trace was recorded on 2 CPUs; --cpus 1 wins (glibc's arena limit 8 instead of 16, unless arena_max is set)"]);
    expect(replaySettings(h, { cpus: 2 }).warnings).toEqual([]);
    // a trace without # cpus (an older recorder): the given count, no warning
    expect(replaySettings(parseTraceHeader(["# memtrace v1", "m libc 1 0x10"]), { cpus: 3 })).toMatchObject({ glibc: { cpus: 3 }, warnings: [] });
    expect(() => replaySettings(h, { cpus: 0 })).toThrow(TraceSettingsError);
    expect(() => replaySettings(h, { cpus: 1.5 })).toThrow(/--cpus 1\.5: expected a whole number of CPUs, at least 1/);
  });

  it("--no-trace-settings takes nothing from the header", () => {
    const h = python("3.13.0", "# env PYTHONMALLOC=debug", "# env GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
    const s = replaySettings(h, { fromHeader: false });
    expect(s).toMatchObject({ pythonMalloc: "default", pymallocVersion: "3.11", glibc: {}, fromHeader: [] });
  });
});

describe("the report's line naming the stack and the recorded version", () => {
  const stack = { pythonMalloc: "default", pymallocVersion: "3.12", libc: "glibc" };
  it("names the pymalloc version used and the CPython that recorded the trace", () => {
    expect(replayedWithLine(python("3.12.1"), stack, true)).toBe("Replayed with: CPython 3.12's pymalloc, PYTHONMALLOC=default, libc glibc 2.36 (recorded by CPython 3.12.1)\n");
    expect(replayedWithLine(python("3.13.0"), { ...stack, pythonMalloc: "malloc" }, false)).toBe("Replayed with: PYTHONMALLOC=malloc, libc glibc 2.36 (recorded by CPython 3.13.0)\n");
    expect(replayedWithLine(parseTraceHeader(["# memtrace v1", "m obj 1 0x10"]), stack, true)).toBe(
      "Replayed with: CPython 3.12's pymalloc, PYTHONMALLOC=default, libc glibc 2.36 (the trace header names no version)\n",
    );
  });
  it("a C program's trace names its libc only", () => {
    const c = parseTraceHeader(["# memtrace v1", "# recorder memtrace_libc (LD_PRELOAD): glibc 2.36", "m libc 1 0x10"]);
    expect(replayedWithLine(c, stack, true)).toBe("Replayed with: libc glibc 2.36 (recorded under glibc 2.36)\n");
    const c241 = parseTraceHeader(["# memtrace v1", "# recorder memtrace_libc (LD_PRELOAD): glibc 2.41", "m libc 1 0x10"]);
    expect(replayedWithLine(c241, { ...stack, glibcRelease: "2.41" }, false)).toBe("Replayed with: libc glibc 2.41 (recorded under glibc 2.41)\n");
    expect(replayedWithLine(c241, { ...stack, libc: "tlsf" }, false)).toBe("Replayed with: libc tlsf (recorded under glibc 2.41)\n");
  });
});
