/**
 * The settings a replay takes from a trace's header: the CPython version (which pymalloc
 * parameters), `PYTHONMALLOC`, and glibc's malloc tunables (`GLIBC_TUNABLES`, `MALLOC_*_`),
 * with the command line winning over the header, setting by setting.
 */
import type { GlibcMallocOptions } from "@mem/libc-malloc";
import type { PythonMallocPreset } from "@mem/pymem";
import type { PymallocVersion } from "@mem/small-object";
import { formatGlibcSettings, glibcSettingsFromEnv, layerGlibcSettings, type GlibcSettings } from "./glibc-tunables.js";
import type { TraceHeader } from "./trace-header.js";
import { GLIBC_RELEASES, PYMALLOC_VERSION_NAMES, PYTHONMALLOC_PRESETS, UNCHECKED_GLIBC_RELEASES, type GlibcRelease } from "./stack.js";

/** A trace whose recorded configuration the replay cannot reproduce (and the command line does not override). */
export class TraceSettingsError extends Error {
  override readonly name = "TraceSettingsError";
}

/** What the command line says; `undefined` means "not given" (the header may decide). */
export interface GivenSettings {
  /** `--pythonmalloc`. */
  readonly pythonMalloc?: PythonMallocPreset;
  /** `--pymalloc-version`. */
  readonly pymallocVersion?: PymallocVersion;
  /** `--glibc-tunables` (GLIBC_TUNABLES syntax). */
  readonly glibcTunables?: string;
  /** `--cpus`: the online CPUs glibc sizes its arena limit from (8 × CPUs); wins over the header's `# cpus`. */
  readonly cpus?: number;
  /** `false` (`--no-trace-settings`): take nothing from the header. @defaultValue true */
  readonly fromHeader?: boolean;
}

/** The settings of one replay. */
export interface ReplaySettings {
  /** `PYTHONMALLOC` preset. */
  readonly pythonMalloc: PythonMallocPreset;
  /** The pymalloc parameter preset. */
  readonly pymallocVersion: PymallocVersion;
  /** Options of glibc's malloc. */
  readonly glibc: GlibcMallocOptions;
  /** The glibc settings in force (header and command line), for reports. */
  readonly glibcSettings: GlibcSettings;
  /** The glibc release whose malloc replays the trace: the recorded one when it has a model, else 2.36. */
  readonly glibcRelease: GlibcRelease;
  /** The settings taken from the header, e.g. `CPython 3.8`, `PYTHONMALLOC=debug`, `glibc.malloc.tcache_count=0`. */
  readonly fromHeader: readonly string[];
  /** Lines about settings that have no effect or were overridden. */
  readonly warnings: readonly string[];
}

/** The pymalloc preset of a CPython version (`3.8.18` → `3.8`), or undefined when there is none. */
export function pymallocVersionOf(python: string): PymallocVersion | undefined {
  const m = /^(\d+)\.(\d+)/.exec(python);
  if (!m) return undefined;
  const short = `${Number(m[1])}.${Number(m[2])}`;
  return (PYMALLOC_VERSION_NAMES as readonly string[]).includes(short) ? (short as PymallocVersion) : undefined;
}

/**
 * Decides the settings of a replay from the trace's header and the command line.
 * @throws {@link TraceSettingsError} when the header names a CPython version without a
 *   pymalloc preset, an unknown PYTHONMALLOC, or mimalloc (no tier models it yet), and the
 *   command line does not decide
 */
export function replaySettings(header: TraceHeader, given: GivenSettings = {}): ReplaySettings {
  const useHeader = given.fromHeader !== false;
  const fromHeader: string[] = [];
  const warnings: string[] = [];

  let pymallocVersion: PymallocVersion = given.pymallocVersion ?? "3.11";
  if (useHeader && header.python !== undefined) {
    const recorded = pymallocVersionOf(header.python);
    if (given.pymallocVersion !== undefined) {
      if (recorded !== given.pymallocVersion) {
        warnings.push(`the trace was recorded by CPython ${header.python}; --pymalloc-version ${given.pymallocVersion} wins`);
      }
    } else if (recorded === undefined) {
      throw new TraceSettingsError(
        `the trace was recorded by CPython ${header.python}, which has no pymalloc preset here ` +
          `(${PYMALLOC_VERSION_NAMES.join(", ")}): give --pymalloc-version to replay it with one of them`,
      );
    } else {
      pymallocVersion = recorded;
      fromHeader.push(`CPython ${header.python.replace(/^(\d+\.\d+).*$/, "$1")}`);
    }
  }

  let pythonMalloc: PythonMallocPreset = given.pythonMalloc ?? "default";
  const recordedMalloc = useHeader ? header.env.PYTHONMALLOC : undefined;
  const mimalloc = useHeader ? mimallocRecording(header) : undefined;
  if (mimalloc !== undefined) {
    // CPython 3.13's mimalloc served mem and obj: pymalloc's pools and arenas never existed.
    if (given.pythonMalloc === undefined) {
      throw new TraceSettingsError(
        `${mimalloc}: mimalloc, not pymalloc, served the mem and obj domains, and no mimalloc tier exists yet; ` +
          `give --pythonmalloc to replay its calls through one of ${PYTHONMALLOC_PRESETS.join(", ")} (a what-if, not a reproduction)`,
      );
    }
    warnings.push(`${mimalloc}, and no mimalloc tier exists yet; --pythonmalloc ${given.pythonMalloc} wins (a what-if, not a reproduction)`);
  } else if (recordedMalloc !== undefined && recordedMalloc !== "") {
    // CPython treats an empty PYTHONMALLOC as unset.
    const known = (PYTHONMALLOC_PRESETS as readonly string[]).includes(recordedMalloc);
    if (given.pythonMalloc !== undefined) {
      if (recordedMalloc !== given.pythonMalloc) warnings.push(`the trace was recorded under PYTHONMALLOC=${recordedMalloc}; --pythonmalloc ${given.pythonMalloc} wins`);
    } else if (!known) {
      throw new TraceSettingsError(
        `the trace was recorded under PYTHONMALLOC=${recordedMalloc}, which is not modelled (${PYTHONMALLOC_PRESETS.join(", ")}): ` +
          `give --pythonmalloc to replay it with one of them`,
      );
    } else {
      pythonMalloc = recordedMalloc as PythonMallocPreset;
      fromHeader.push(`PYTHONMALLOC=${recordedMalloc}`);
    }
  }

  const recordedGlibc = glibcSettingsFromEnv(useHeader ? header.env : {});
  const cli = glibcSettingsFromEnv(given.glibcTunables !== undefined ? { GLIBC_TUNABLES: given.glibcTunables } : {});
  const glibc = layerGlibcSettings(recordedGlibc, cli);
  const overridden = new Set(cli.settings.map((s) => s.tunable));
  for (const s of recordedGlibc.settings) {
    if (overridden.has(s.tunable)) {
      const wins = cli.settings.find((c) => c.tunable === s.tunable)!;
      if (wins.value !== s.value) warnings.push(`the trace was recorded with ${s.tunable}=${s.value}; --glibc-tunables ${s.tunable}=${wins.value} wins`);
    } else {
      fromHeader.push(formatGlibcSettings([s]) + (s.source === "GLIBC_TUNABLES" ? "" : ` (${s.source})`));
    }
  }
  warnings.push(...glibc.warnings);
  let options = glibc.options;
  if (given.cpus !== undefined) {
    if (!(Number.isSafeInteger(given.cpus) && given.cpus >= 1)) throw new TraceSettingsError(`--cpus ${String(given.cpus)}: expected a whole number of CPUs, at least 1`);
    options = { ...options, cpus: given.cpus };
    if (useHeader && header.cpus !== undefined && header.cpus !== given.cpus) {
      warnings.push(`the trace was recorded on ${cpusText(header.cpus)}; --cpus ${given.cpus} wins (glibc's arena limit ${8 * given.cpus} instead of ${8 * header.cpus}, unless arena_max is set)`);
    }
  } else if (useHeader && header.cpus !== undefined) {
    // glibc sizes its arena limit from the CPU count: the recording machine's, not this one's
    options = { ...options, cpus: header.cpus };
    fromHeader.push(cpusText(header.cpus));
  }
  let glibcRelease: GlibcRelease = "2.36";
  if (useHeader && header.glibc !== undefined) {
    if ((GLIBC_RELEASES as readonly string[]).includes(header.glibc)) {
      glibcRelease = header.glibc as GlibcRelease;
      // 2.36 is the default: named only when another release was recorded
      if (glibcRelease !== "2.36") fromHeader.push(`glibc ${glibcRelease}`);
      if (UNCHECKED_GLIBC_RELEASES.includes(glibcRelease)) {
        warnings.push(`glibc ${glibcRelease}'s malloc model is written from its sources and not checked against a real build`);
      }
    } else {
      warnings.push(`the trace was recorded under glibc ${header.glibc}, which has no malloc model here (${GLIBC_RELEASES.join(", ")}): replayed with glibc 2.36's`);
    }
  }
  return { pythonMalloc, pymallocVersion, glibc: options, glibcSettings: glibc, glibcRelease, fromHeader, warnings };
}

function cpusText(cpus: number): string {
  return `${cpus} CPU${cpus === 1 ? "" : "s"}`;
}

/**
 * What says that mimalloc allocated in the recorded run (`PYTHONMALLOC=mimalloc` or
 * `mimalloc_debug` of CPython 3.13+, or a free-threaded build, whose only allocator it is),
 * as the start of a sentence; undefined when pymalloc or malloc did.
 */
export function mimallocRecording(header: TraceHeader): string | undefined {
  if (header.freeThreaded === true) return `the trace was recorded by a free-threaded CPython ${header.python ?? ""} build`.replace("  ", " ");
  const name = header.env.PYTHONMALLOC;
  return name === "mimalloc" || name === "mimalloc_debug" ? `the trace was recorded under PYTHONMALLOC=${name}` : undefined;
}

/**
 * The line a report ends with naming the stack a trace was replayed on and the version that
 * recorded it, e.g. `Replayed with: CPython 3.12's pymalloc, PYTHONMALLOC=default, libc glibc
 * 2.36 (recorded by CPython 3.12.1)`. A trace with only `libc` calls names the libc alone.
 */
export function replayedWithLine(
  header: TraceHeader,
  stack: { readonly pythonMalloc: string; readonly pymallocVersion: string; readonly libc: string; readonly glibcRelease?: string },
  hasPymalloc: boolean,
): string {
  const recorded =
    header.python !== undefined
      ? `recorded by CPython ${header.python}${header.freeThreaded === true ? " (free-threaded)" : ""}`
      : header.glibc !== undefined
        ? `recorded under glibc ${header.glibc}`
        : "the trace header names no version";
  const python = header.glibc !== undefined && header.python === undefined ? "" : `${hasPymalloc ? `CPython ${stack.pymallocVersion}'s pymalloc, ` : ""}PYTHONMALLOC=${stack.pythonMalloc}, `;
  const libc = stack.libc === "glibc" ? `glibc ${stack.glibcRelease ?? "2.36"}` : stack.libc;
  return `Replayed with: ${python}libc ${libc} (${recorded})\n`;
}

/** The one line naming what was taken from the header (empty when nothing was). */
export function fromHeaderLine(settings: ReplaySettings): string {
  return settings.fromHeader.length === 0 ? "" : `from the trace header: ${settings.fromHeader.join(", ")}`;
}
