/**
 * What a trace's leading comment lines say about the recorded run: the recorder, the
 * CPython version, the environment that configures the allocators, the initial break.
 *
 * ```
 * # memtrace v1
 * # recorder memtrace_python: CPython 3.11.7, glibc 2.36, pymalloc arena size 1048576
 * # python-build free-threaded      (only from a free-threaded build: mimalloc allocates)
 * # env PYTHONMALLOC=debug
 * # env GLIBC_TUNABLES=glibc.malloc.tcache_count=0
 * # heap-start 0x55d0c3a2e000
 * ```
 */

/** What a trace's leading comment lines say about the recorded run. */
export interface TraceHeader {
  /** `# env NAME=value` lines (PYTHONMALLOC, GLIBC_TUNABLES, MALLOC_*_ among others). */
  env: Record<string, string>;
  /** `# heap-start 0x…`: the recorded process's initial program break. */
  heapStart: number | undefined;
  /** The CPython version a `# recorder …: CPython X.Y.Z` line names. */
  python?: string;
  /** The glibc version a `# recorder …: glibc X.Y` line names. */
  glibc?: string;
  /** `# python-build free-threaded`: recorded by a free-threaded (`--disable-gil`) CPython build. */
  freeThreaded?: boolean;
  /** `# cpus N`: the recording machine's online CPUs (glibc's arena limit is 8 × N). */
  cpus?: number;
  /** `# touched-min N`: the recorder wrote `# touched` lines for blocks of N bytes or more (absent: 65536, the first recorders'). */
  touchedMin?: number;
}

/** The most header lines read (comments before the first event). */
export const HEADER_MAX_LINES = 256;

/** Parses the comment lines at the start of a trace; stops at the first other line. */
export function parseTraceHeader(lines: Iterable<string>): TraceHeader {
  const header: TraceHeader = { env: {}, heapStart: undefined };
  let n = 0;
  for (const raw of lines) {
    if (n++ >= HEADER_MAX_LINES) break;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "") continue;
    if (!line.startsWith("#")) break;
    const env = /^# env ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (env) header.env[env[1]!] = env[2]!;
    const heap = /^# heap-start (0x[0-9a-f]+)$/.exec(line);
    if (heap) header.heapStart = Number.parseInt(heap[1]!, 16);
    if (line === "# python-build free-threaded") header.freeThreaded = true;
    const cpus = /^# cpus ([1-9]\d{0,5})$/.exec(line);
    if (cpus) header.cpus = Number(cpus[1]);
    const touched = /^# touched-min ([1-9]\d{0,15})$/.exec(line);
    if (touched) header.touchedMin = Number(touched[1]);
    if (line.startsWith("# recorder ")) {
      const python = /\bCPython (\d+\.\d+(?:\.\d+)?[a-z0-9+]*)/.exec(line);
      if (python) header.python = python[1]!;
      const glibc = /\bglibc (\d+\.\d+)/.exec(line);
      if (glibc) header.glibc = glibc[1]!;
    }
  }
  return header;
}
