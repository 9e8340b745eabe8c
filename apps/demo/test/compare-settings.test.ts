/** The grammar of `mem-demo compare --with '<settings>'`. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CompareSettingsError, parseCompareSettings } from "../src/compare-settings.js";

describe("compare --with: the grammar", () => {
  it("reads NAME=VALUE words and flags with their values", () => {
    expect(parseCompareSettings("PYTHONMALLOC=malloc")).toEqual({ text: "PYTHONMALLOC=malloc", pythonMalloc: "malloc" });
    expect(parseCompareSettings(" --libc tlsf ")).toEqual({ text: "--libc tlsf", libc: "tlsf" });
    expect(parseCompareSettings("--libc=tlsf pymalloc=3.8")).toMatchObject({ libc: "tlsf", pymallocVersion: "3.8" });
    expect(parseCompareSettings("--pymalloc-version 3.13 --pythonmalloc debug")).toMatchObject({ pymallocVersion: "3.13", pythonMalloc: "debug" });
    expect(parseCompareSettings("trim-every=1000")).toMatchObject({ trimEvery: 1000 });
    expect(parseCompareSettings("cpus=1")).toEqual({ text: "cpus=1", cpus: 1 });
    expect(parseCompareSettings("--cpus 4 MALLOC_ARENA_MAX=2")).toEqual({ text: "--cpus 4 MALLOC_ARENA_MAX=2", cpus: 4, glibcTunables: "glibc.malloc.arena_max=2" });
  });

  it("resolves glibc's settings as glibc does: aliases, GLIBC_TUNABLES winning, 0x and octal", () => {
    expect(parseCompareSettings("MALLOC_ARENA_MAX=2").glibcTunables).toBe("glibc.malloc.arena_max=2");
    expect(parseCompareSettings("MALLOC_MMAP_THRESHOLD_=0x10000").glibcTunables).toBe("glibc.malloc.mmap_threshold=65536");
    expect(parseCompareSettings("MALLOC_TOP_PAD_=010").glibcTunables).toBe("glibc.malloc.top_pad=8");
    expect(parseCompareSettings("MALLOC_TRIM_THRESHOLD_=5 GLIBC_TUNABLES=glibc.malloc.trim_threshold=0:glibc.malloc.tcache_count=0").glibcTunables).toBe(
      "glibc.malloc.trim_threshold=0:glibc.malloc.tcache_count=0",
    );
    expect(parseCompareSettings("--glibc-tunables glibc.malloc.mxfast=0").glibcTunables).toBe("glibc.malloc.mxfast=0");
  });

  it.each([
    ["", /empty settings/],
    ["PYTHONMALLOC=mallo", /"PYTHONMALLOC=mallo": expected one of default, malloc/],
    ["pymalloc=3.7", /expected one of 3\.8, 3\.9/],
    ["--libc", /"--libc" needs a value/],
    ["--ram 3", /"--ram" is not a compare setting/],
    ["FOO=1", /unknown setting "FOO"/],
    ["malloc", /neither NAME=VALUE nor a flag/],
    ["trim-every=0", /positive number of call events/],
    ["trim-every=1e3", /positive number of call events/],
    ["cpus=0", /"cpus=0": expected a positive number of CPUs/],
    ["--cpus two", /expected a positive number of CPUs/],
    ["cpus=1 --cpus 2", /"cpus" is given twice/],
    ["--libc tlsf cpus=2", /tlsf allocator has no arenas/],
    ["MALLOC_ARENA_MAX=two", /whole number/],
    ["MALLOC_ARENA_MAX=0", /outside 1\.\./],
    ["GLIBC_TUNABLES=glibc.malloc.hugetlb=1", /not modelled/],
    ["GLIBC_TUNABLES=glibc.malloc.tcache_cnt=0", /not a glibc 2\.36 malloc tunable/],
    ["GLIBC_TUNABLES=glibc.malloc.tcache_count", /is not glibc\.malloc\.<name>=<whole number>/],
    ["PYTHONMALLOC=malloc PYTHONMALLOC=debug", /"PYTHONMALLOC" is given twice/],
    ["--libc tlsf trim-every=10", /tlsf allocator has none/],
  ])("refuses %j in one line", (text, message) => {
    let error: unknown;
    try {
      parseCompareSettings(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CompareSettingsError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });

  it("property: the order of the words does not matter", () => {
    const words = ["PYTHONMALLOC=malloc", "pymalloc=3.9", "--libc glibc", "MALLOC_ARENA_MAX=2", "GLIBC_TUNABLES=glibc.malloc.tcache_count=3", "trim-every=77", "cpus=3"];
    fc.assert(
      fc.property(fc.shuffledSubarray(words, { minLength: 1 }), fc.context(), (chosen, _ctx) => {
        const forward = parseCompareSettings(chosen.join(" "));
        const backward = parseCompareSettings([...chosen].reverse().join("  "));
        expect({ ...backward, text: "" }).toEqual({ ...forward, text: "" });
      }),
    );
  });
});
