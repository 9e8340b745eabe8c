/**
 * The settings string of one `mem-demo compare --with '<settings>'` column: what to change
 * from the trace as recorded. Words separated by blanks, each `NAME=VALUE` or a flag and its
 * value (`--libc tlsf` or `--libc=tlsf`); every name at most once:
 *
 * | word | meaning |
 * |---|---|
 * | `PYTHONMALLOC=<preset>`, `--pythonmalloc <preset>` | default, malloc, pymalloc, debug, malloc_debug, pymalloc_debug |
 * | `pymalloc=<version>`, `--pymalloc-version <version>` | pymalloc's parameters of CPython 3.8 … 3.13 |
 * | `libc=<impl>`, `--libc <impl>` | glibc or tlsf |
 * | `GLIBC_TUNABLES=<name=value[:name=value…]>`, `--glibc-tunables <…>` | glibc.malloc.* tunables |
 * | `MALLOC_TOP_PAD_=`, `MALLOC_PERTURB_=`, `MALLOC_MMAP_THRESHOLD_=`, `MALLOC_TRIM_THRESHOLD_=`, `MALLOC_MMAP_MAX_=`, `MALLOC_ARENA_MAX=`, `MALLOC_ARENA_TEST=` | glibc's environment aliases |
 * | `cpus=<N>`, `--cpus <N>` | the online CPUs glibc sizes its arena limit from (8 × N), instead of the header's `# cpus` |
 * | `trim-every=<N>` | the program calls `malloc_trim(0)` after every N-th call event (glibc only) |
 *
 * glibc settings are resolved as glibc 2.36 resolves its environment (glibc-tunables.ts: a
 * tunable in GLIBC_TUNABLES wins over its alias; `0x` is hexadecimal, a leading `0` octal)
 * and layered over the trace header's, setting by setting. Stricter than glibc, which
 * ignores what it cannot use: a value that is not a whole number, an unknown or unmodelled
 * tunable, or one out of its range is an error here, so that a column never silently
 * equals the baseline.
 */
import type { PythonMallocPreset } from "@mem/pymem";
import type { PymallocVersion } from "@mem/small-object";
import { formatGlibcSettings, GLIBC_MALLOC_ENV_NAMES, glibcSettingsFromEnv } from "./glibc-tunables.js";
import { LIBC_IMPLEMENTATIONS, PYMALLOC_VERSION_NAMES, PYTHONMALLOC_PRESETS, type LibcImplementation } from "./stack.js";

/** A `--with` string that does not follow the grammar: the message names the word and the rule. */
export class CompareSettingsError extends Error {
  override readonly name = "CompareSettingsError";
}

/** One configuration of `mem-demo compare`, as parsed from its `--with` string. */
export interface CompareConfig {
  /** The settings string as given (trimmed). */
  readonly text: string;
  /** `PYTHONMALLOC`, when changed. */
  readonly pythonMalloc?: PythonMallocPreset;
  /** The pymalloc parameter preset, when changed. */
  readonly pymallocVersion?: PymallocVersion;
  /** The C library allocator, when changed. */
  readonly libc?: LibcImplementation;
  /** glibc's settings in GLIBC_TUNABLES syntax (aliases resolved), layered over the header's. */
  readonly glibcTunables?: string;
  /** The CPU count glibc sizes its arena limit from, when changed. */
  readonly cpus?: number;
  /** `malloc_trim(0)` after every this many call events. */
  readonly trimEvery?: number;
}

const FLAG_NAMES: Readonly<Record<string, string>> = {
  "--pythonmalloc": "PYTHONMALLOC",
  "--pymalloc-version": "pymalloc",
  "--libc": "libc",
  "--glibc-tunables": "GLIBC_TUNABLES",
  "--cpus": "cpus",
};

const NUMBER = /^(0[xX][0-9a-fA-F]+|[0-9]+)$/;

/** Splits the string into `[name, value]` pairs (flags folded into their `NAME=` form). */
function words(text: string): [name: string, value: string, word: string][] {
  const tokens = text.split(/\s+/).filter((t) => t !== "");
  const out: [string, string, string][] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      const flag = eq < 0 ? token : token.slice(0, eq);
      const name = FLAG_NAMES[flag];
      if (name === undefined) throw new CompareSettingsError(`"${flag}" is not a compare setting (flags: ${Object.keys(FLAG_NAMES).join(", ")})`);
      if (eq >= 0) out.push([name, token.slice(eq + 1), token]);
      else {
        const value = tokens[++i];
        if (value === undefined) throw new CompareSettingsError(`"${flag}" needs a value`);
        out.push([name, value, `${flag} ${value}`]);
      }
      continue;
    }
    const eq = token.indexOf("=");
    if (eq <= 0) throw new CompareSettingsError(`"${token}" is neither NAME=VALUE nor a flag with its value`);
    out.push([token.slice(0, eq), token.slice(eq + 1), token]);
  }
  return out;
}

function oneOf<T extends string>(word: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new CompareSettingsError(`"${word}": expected one of ${choices.join(", ")}`);
  return value as T;
}

/**
 * Parses one `--with` string (grammar above).
 * @throws {@link CompareSettingsError} for an empty string, an unknown name or flag, a
 *   repeated name, a bad value, or a glibc setting glibc 2.36 would ignore or that has no model
 */
export function parseCompareSettings(text: string): CompareConfig {
  const trimmed = text.trim();
  if (trimmed === "") throw new CompareSettingsError("empty settings (give e.g. PYTHONMALLOC=malloc, --libc tlsf, trim-every=1000)");
  const config: { -readonly [K in keyof CompareConfig]: CompareConfig[K] } = { text: trimmed };
  const seen = new Set<string>();
  const env: Record<string, string> = {};
  for (const [name, value, word] of words(trimmed)) {
    if (seen.has(name)) throw new CompareSettingsError(`"${name}" is given twice`);
    seen.add(name);
    if (value === "") throw new CompareSettingsError(`"${word}": the value is empty`);
    if (name === "PYTHONMALLOC") config.pythonMalloc = oneOf(word, value, PYTHONMALLOC_PRESETS);
    else if (name === "pymalloc") config.pymallocVersion = oneOf(word, value, PYMALLOC_VERSION_NAMES);
    else if (name === "libc") config.libc = oneOf(word, value, LIBC_IMPLEMENTATIONS);
    else if (name === "trim-every") {
      const n = Number(value);
      if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new CompareSettingsError(`"${word}": expected a positive number of call events`);
      config.trimEvery = n;
    } else if (name === "cpus") {
      const n = Number(value);
      if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new CompareSettingsError(`"${word}": expected a positive number of CPUs`);
      config.cpus = n;
    } else if (name === "GLIBC_TUNABLES") {
      for (const entry of value.split(":")) {
        const eq = entry.indexOf("=");
        if (eq <= 0 || !NUMBER.test(entry.slice(eq + 1))) throw new CompareSettingsError(`"${word}": "${entry}" is not glibc.malloc.<name>=<whole number>`);
      }
      env[name] = value;
    } else if (GLIBC_MALLOC_ENV_NAMES.includes(name)) {
      if (!NUMBER.test(value)) throw new CompareSettingsError(`"${word}": expected a whole number (decimal, 0x hexadecimal, or 0 octal)`);
      env[name] = value;
    } else {
      throw new CompareSettingsError(
        `"${word}": unknown setting "${name}" (PYTHONMALLOC, pymalloc, libc, GLIBC_TUNABLES, ${GLIBC_MALLOC_ENV_NAMES.filter((n) => n !== "GLIBC_TUNABLES").join(", ")}, cpus, trim-every)`,
      );
    }
  }
  if (Object.keys(env).length > 0) {
    const glibc = glibcSettingsFromEnv(env);
    if (glibc.warnings.length > 0) throw new CompareSettingsError(glibc.warnings[0]);
    config.glibcTunables = formatGlibcSettings(glibc.settings);
  }
  if (config.cpus !== undefined && config.libc === "tlsf") throw new CompareSettingsError(`"cpus=${config.cpus}": the CPU count sizes glibc's arena limit; the tlsf allocator has no arenas`);
  if (config.trimEvery !== undefined && config.libc === "tlsf") throw new CompareSettingsError(`"trim-every=${config.trimEvery}": malloc_trim is glibc's; the tlsf allocator has none`);
  return config;
}
