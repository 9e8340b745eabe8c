/**
 * Records the probe fixtures: `node --import tsx test/native/record.ts` runs every scenario
 * against every installed CPython version and writes
 * test/fixtures/probe/<scenario>-<version>.memtrace.gz, .stats.txt (the final
 * _PyObject_DebugMallocStats) and .pythonmallocstats.txt (what PYTHONMALLOCSTATS=1 made
 * real pymalloc print at each new_arena()).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { buildProbe, runProbe } from "./probe.js";
import { PROBE_VERSIONS, SCENARIOS } from "./scenarios.js";

const dir = fileURLToPath(new URL("../fixtures/probe/", import.meta.url));
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
for (const version of PROBE_VERSIONS) {
  const built = buildProbe(version);
  if ("skip" in built) {
    console.log(`skipped ${version}: ${built.skip}`);
    continue;
  }
  for (const [name, make] of Object.entries(SCENARIOS)) {
    const { trace, stats, dumps } = runProbe(built.exe, make());
    writeFileSync(`${dir}${name}-${version}.memtrace.gz`, gzipSync(trace, { level: 9 }));
    writeFileSync(`${dir}${name}-${version}.stats.txt`, stats);
    writeFileSync(`${dir}${name}-${version}.pythonmallocstats.txt`, dumps);
    console.log(`${name}-${version}: ${trace.split("\n").length - 1} lines`);
  }
}
