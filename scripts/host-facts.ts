/**
 * What the machine running the tests is: the facts a live comparison needs before it can
 * compare the real system with a model (glibc version, python3 version, kernel release and
 * how it pages fresh anonymous memory, the tools on PATH).
 *
 * Live comparisons run only under `npm run test:live` (MEM_LIVE=1). Each live test asks
 * {@link liveSkip} whether this host matches the model it compares with; the answer is null
 * (compare) or a one-line reason naming the difference (skip). The facts are probed once per
 * test run (the global setup stores them in MEM_HOST_FACTS) and once per process otherwise.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { release } from "node:os";

/** Whether live comparisons were asked for (`npm run test:live` sets MEM_LIVE=1). */
export const LIVE = process.env.MEM_LIVE === "1";

/** The facts about this host that live comparisons depend on. */
export interface HostFacts {
  /** glibc `major.minor` (`getconf GNU_LIBC_VERSION`, else `ldd --version`), or null. */
  glibc: string | null;
  /** `python3`'s `major.minor`, or null without python3. */
  python3: string | null;
  /** Whether `python3` has `_testcapi` (the pymem probes need it). */
  python3TestCapi: boolean;
  /** Kernel release `major.minor` (from uname). */
  kernel: string;
  /**
   * How the kernel serves a read of fresh private anonymous memory: "zero-page" (maps the
   * shared zero page: no RSS), "allocates" (a new page per read fault), or null if the probe
   * could not run (it needs python3).
   */
  anonRead: "zero-page" | "allocates" | null;
  /** `/sys/kernel/mm/transparent_hugepage/enabled`'s selected mode, or null. */
  thp: string | null;
  /** Tools found on PATH, of those live tests use. */
  tools: Record<"gcc" | "setarch" | "python3", boolean>;
}

const run = (cmd: string, args: string[], input?: string): string | null => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "ignore"], timeout: 20_000 });
  } catch {
    return null;
  }
};

/** Reads `/proc/self/status` before and after reading one byte of each of 256 fresh pages. */
const ANON_READ_PROBE = `
import mmap
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('RssAnon:'):
                return int(line.split()[1])
n = 256 * 4096
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
rss(); rss()
before = rss()
s = 0
for i in range(0, n, 4096):
    s += m[i]
print(rss() - before, n // 1024)
`;

/** Probes the host (spawns getconf, python3, gcc, setarch; about 100 ms). */
export function probeHostFacts(): HostFacts {
  const glibcOut = run("getconf", ["GNU_LIBC_VERSION"]) ?? run("ldd", ["--version"]);
  const glibc = /(\d+\.\d+)/.exec(glibcOut?.split("\n")[0] ?? "")?.[1] ?? null;
  const py = run("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])\ntry:\n import _testcapi; print(1)\nexcept ImportError: print(0)"]);
  const [python3 = null, capi = "0"] = py?.trim().split("\n") ?? [];
  let anonRead: HostFacts["anonRead"] = null;
  const probe = python3 === null ? null : run("python3", ["-"], ANON_READ_PROBE);
  if (probe !== null) {
    const [grewKb, sizeKb] = probe.trim().split(" ").map(Number) as [number, number];
    anonRead = grewKb >= sizeKb / 2 ? "allocates" : "zero-page";
  }
  let thp: string | null = null;
  try {
    thp = /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1] ?? null;
  } catch {
    thp = null;
  }
  return {
    glibc,
    python3,
    python3TestCapi: capi === "1",
    kernel: /^(\d+\.\d+)/.exec(release())?.[1] ?? release(),
    anonRead,
    thp,
    tools: { gcc: run("gcc", ["--version"]) !== null, setarch: run("setarch", ["-R", "true"]) !== null, python3: python3 !== null },
  };
}

let cached: HostFacts | undefined;

/** This host's facts, probed once (reused from MEM_HOST_FACTS when the global setup stored them). */
export function hostFacts(): HostFacts {
  if (cached === undefined) {
    const stored = process.env.MEM_HOST_FACTS;
    cached = stored === undefined ? probeHostFacts() : (JSON.parse(stored) as HostFacts);
  }
  return cached;
}

/** What a live comparison needs of the host for its model to apply. */
export interface LiveNeeds {
  /** Tools that must be on PATH. */
  tools?: (keyof HostFacts["tools"])[];
  /** The glibc `major.minor` the model reproduces. */
  glibc?: string;
  /** The python3 `major.minor` the model or recordings are of. */
  python3?: string;
  /** python3 must have `_testcapi`. */
  python3TestCapi?: boolean;
  /** Any further check on the facts: a reason to skip, or null. */
  check?: (facts: HostFacts) => string | null;
}

/**
 * Null when a live comparison should run here; otherwise the one-line reason it is skipped:
 * not asked for (no MEM_LIVE=1), a tool missing, or the host differing from the model.
 */
export function liveSkip(needs: LiveNeeds): string | null {
  if (!LIVE) return "live comparison: run with npm run test:live";
  return hostSkip(needs);
}

/**
 * For tests of tools that run on the host (the recorders), in every run: null when this host
 * has what the test needs, otherwise the one-line reason naming what differs.
 */
export function hostSkip(needs: LiveNeeds): string | null {
  const facts = hostFacts();
  for (const tool of needs.tools ?? []) if (!facts.tools[tool]) return `no ${tool} on this host`;
  if (needs.glibc !== undefined && facts.glibc !== needs.glibc) {
    return `host glibc is ${facts.glibc ?? "unknown"}, the model reproduces glibc ${needs.glibc}`;
  }
  if (needs.python3 !== undefined && facts.python3 !== needs.python3) {
    return `host python3 is ${facts.python3 ?? "missing"}, the model and recordings are of CPython ${needs.python3}`;
  }
  if (needs.python3TestCapi === true && !facts.python3TestCapi) return `host python3 ${facts.python3 ?? ""} has no _testcapi module`;
  return needs.check?.(facts) ?? null;
}

/** A live test's title: the title, and the reason when it is skipped. */
export function liveTitle(title: string, skip: string | null): string {
  return skipTitle(`live: ${title}`, skip);
}

/** A host-dependent test's title: the title, and the reason when it is skipped. */
export function skipTitle(title: string, skip: string | null): string {
  return skip === null ? title : `${title} (skipped: ${skip})`;
}
