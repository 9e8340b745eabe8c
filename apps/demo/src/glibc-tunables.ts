/**
 * glibc 2.36's malloc settings from a process environment: `GLIBC_TUNABLES` and the
 * `MALLOC_*_` variables, read the way ld.so and `ptmalloc_init` read them, and turned into
 * {@link GlibcMallocOptions}. Measured on this machine (glibc 2.36, `ld.so --list-tunables`
 * and a program that watches the mmap threshold, tcache and perturb byte):
 *
 * - `GLIBC_TUNABLES=name=value:name=value`: entries are separated by `:`; an entry without
 *   `=` or with an unknown name is skipped; a later entry for the same tunable wins.
 * - `MALLOC_TOP_PAD_` and the others are the tunables' environment aliases. A tunable set in
 *   GLIBC_TUNABLES wins over its alias, whatever their order in the environment.
 * - Values are read like glibc's `_dl_strtoul`: leading blanks and a sign are allowed,
 *   `0x` means hexadecimal and a leading `0` octal, reading stops at the first other
 *   character (`12abc` is 12, `abc` is 0), `-1` wraps to 2^64-1.
 * - A value outside the tunable's range (perturb 0..255, check 0..3, mmap_max 0..2^31-1,
 *   arena_max/arena_test at least 1) is ignored: the default stays. malloc then checks
 *   its own limits (tcache_count <= 65535, tcache_max <= 1032, mxfast <= 160: else ignored;
 *   GlibcMalloc applies those).
 */
import type { GlibcMallocOptions } from "@mem/libc-malloc";

/** The numeric options of GlibcMalloc (those a tunable or a `MALLOC_*_` variable sets). */
type NumericGlibcOption = { [K in keyof GlibcMallocOptions]-?: NonNullable<GlibcMallocOptions[K]> extends number ? K : never }[keyof GlibcMallocOptions];

/** How a tunable is checked and where it goes. */
interface TunableSpec {
  /** The environment alias glibc 2.36 reads, if any. */
  readonly alias?: string;
  /** Signed 32-bit (INT_32) or unsigned 64-bit (SIZE_T). */
  readonly type: "int32" | "size";
  /** Inclusive range of the tunable in dl-tunables.list. */
  readonly min: bigint;
  readonly max: bigint;
  /** The GlibcMalloc option it sets, or why it is not modelled. */
  readonly option?: NumericGlibcOption;
  readonly unmodelled?: string;
}

const U64_MAX = (1n << 64n) - 1n;
const I32_MAX = (1n << 31n) - 1n;

/** The `glibc.malloc.*` tunables of glibc 2.36 (elf/dl-tunables.list), by short name. */
export const GLIBC_MALLOC_TUNABLES: Readonly<Record<string, TunableSpec>> = {
  check: {
    alias: "MALLOC_CHECK_",
    type: "int32",
    min: 0n,
    max: 3n,
    unmodelled: "glibc 2.36 honours it only with libc_malloc_debug.so preloaded",
  },
  top_pad: { alias: "MALLOC_TOP_PAD_", type: "size", min: 0n, max: U64_MAX, option: "topPad" },
  perturb: { alias: "MALLOC_PERTURB_", type: "int32", min: 0n, max: 255n, option: "perturb" },
  mmap_threshold: { alias: "MALLOC_MMAP_THRESHOLD_", type: "size", min: 0n, max: U64_MAX, option: "mmapThreshold" },
  trim_threshold: { alias: "MALLOC_TRIM_THRESHOLD_", type: "size", min: 0n, max: U64_MAX, option: "trimThreshold" },
  mmap_max: { alias: "MALLOC_MMAP_MAX_", type: "int32", min: 0n, max: I32_MAX, option: "mmapMax" },
  arena_max: { alias: "MALLOC_ARENA_MAX", type: "size", min: 1n, max: U64_MAX, option: "arenaMax" },
  arena_test: { alias: "MALLOC_ARENA_TEST", type: "size", min: 1n, max: U64_MAX, option: "arenaTest" },
  tcache_max: { type: "size", min: 0n, max: U64_MAX, option: "tcacheMax" },
  tcache_count: { type: "size", min: 0n, max: U64_MAX, option: "tcacheCount" },
  tcache_unsorted_limit: { type: "size", min: 0n, max: U64_MAX, option: "tcacheUnsortedLimit" },
  mxfast: { type: "size", min: 0n, max: U64_MAX, option: "mxfast" },
  hugetlb: { type: "size", min: 0n, max: U64_MAX, unmodelled: "huge pages are not modelled" },
};

/** The environment variables glibc 2.36's malloc reads. */
export const GLIBC_MALLOC_ENV_NAMES: readonly string[] = [
  "GLIBC_TUNABLES",
  ...Object.values(GLIBC_MALLOC_TUNABLES).flatMap((t) => (t.alias ? [t.alias] : [])),
];

/** One setting glibc would take from the environment. */
export interface GlibcSetting {
  /** The tunable's full name, e.g. `glibc.malloc.tcache_count`. */
  readonly tunable: string;
  /** The value glibc stores (64-bit), as read. */
  readonly value: bigint;
  /** Where it came from: `GLIBC_TUNABLES` or the alias (`MALLOC_TOP_PAD_`). */
  readonly source: string;
}

/** glibc's malloc settings resolved from an environment. */
export interface GlibcSettings {
  /** The options for GlibcMalloc (only the modelled tunables that were set and in range). */
  readonly options: GlibcMallocOptions;
  /** Every tunable set and in range, in tunable order, modelled or not. */
  readonly settings: readonly GlibcSetting[];
  /** One line per setting glibc itself ignores (out of range, unknown tunable). */
  readonly rejected: readonly string[];
  /** One line per setting that has no effect here: {@link rejected}, then the ones not modelled. */
  readonly warnings: readonly string[];
}

/**
 * Reads a number as glibc's `_dl_strtoul` does: blanks, a sign, `0x` hex or `0` octal,
 * stopping at the first other character; overflow gives 2^64-1, a minus sign wraps.
 */
export function dlStrtoul(text: string): bigint {
  let i = 0;
  while (text[i] === " " || text[i] === "\t") i++;
  let negative = false;
  if (text[i] === "-") {
    negative = true;
    i++;
  } else if (text[i] === "+") i++;
  const first = text[i];
  if (first === undefined || first < "0" || first > "9") return 0n;
  let base = 10n;
  let digits = "0123456789";
  if (first === "0") {
    if (text[i + 1] === "x" || text[i + 1] === "X") {
      base = 16n;
      digits = "0123456789abcdef";
      i += 2;
    } else {
      base = 8n;
      digits = "01234567";
    }
  }
  let result = 0n;
  for (; i < text.length; i++) {
    const d = digits.indexOf(text[i]!.toLowerCase());
    if (d < 0) break;
    result = result * base + BigInt(d);
    if (result > U64_MAX) return U64_MAX;
  }
  return negative ? (-result) & U64_MAX : result;
}

/** Whether `value` (a 64-bit word) is in the tunable's range, compared as glibc compares its type. */
function inRange(spec: TunableSpec, value: bigint): boolean {
  const v = spec.type === "int32" ? BigInt.asIntN(64, value) : value;
  return v >= spec.min && v <= spec.max;
}

/**
 * Parses a `GLIBC_TUNABLES` string into `[tunable, value text]` pairs, in order, skipping
 * entries without `=`.
 */
export function splitTunables(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of text.split(":")) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    out.push([entry.slice(0, eq), entry.slice(eq + 1)]);
  }
  return out;
}

/**
 * Resolves glibc 2.36's malloc settings from environment variables (`GLIBC_TUNABLES`, the
 * `MALLOC_*_` aliases; others are ignored). GLIBC_TUNABLES wins over an alias.
 */
export function glibcSettingsFromEnv(env: Readonly<Record<string, string>>): GlibcSettings {
  const warnings: string[] = [];
  const chosen = new Map<string, GlibcSetting>();
  const set = (name: string, text: string, source: string) => {
    const spec = GLIBC_MALLOC_TUNABLES[name];
    const tunable = `glibc.malloc.${name}`;
    if (spec === undefined) return;
    const value = dlStrtoul(text);
    if (!inRange(spec, value)) {
      warnings.push(`${tunable}=${text} (${source}): outside ${spec.min}..${spec.max}, ignored as glibc 2.36 ignores it`);
      return;
    }
    chosen.set(name, { tunable, value, source });
  };
  for (const [name, spec] of Object.entries(GLIBC_MALLOC_TUNABLES)) {
    if (spec.alias !== undefined && env[spec.alias] !== undefined) set(name, env[spec.alias]!, spec.alias);
  }
  if (env.GLIBC_TUNABLES !== undefined) {
    for (const [tunable, text] of splitTunables(env.GLIBC_TUNABLES)) {
      const short = tunable.startsWith("glibc.malloc.") ? tunable.slice("glibc.malloc.".length) : undefined;
      if (short !== undefined && GLIBC_MALLOC_TUNABLES[short] !== undefined) set(short, text, "GLIBC_TUNABLES");
      else warnings.push(`${tunable}=${text} (GLIBC_TUNABLES): not a glibc 2.36 malloc tunable: ignored`);
    }
  }
  return resolve([...chosen.values()], warnings);
}

/** Turns chosen settings into GlibcMalloc options and warnings for the unmodelled ones. */
function resolve(settings: GlibcSetting[], rejected: string[]): GlibcSettings {
  const warnings = [...rejected];
  const options: Record<string, number> & GlibcMallocOptions = {};
  const ordered = Object.keys(GLIBC_MALLOC_TUNABLES).flatMap((name) => settings.filter((s) => s.tunable === `glibc.malloc.${name}`));
  for (const s of ordered) {
    const spec = GLIBC_MALLOC_TUNABLES[s.tunable.slice("glibc.malloc.".length)]!;
    if (spec.option === undefined) {
      warnings.push(`${s.tunable}=${s.value} (${s.source}): not modelled (${spec.unmodelled ?? "no model"}): ignored`);
      continue;
    }
    const big = spec.type === "int32" ? BigInt.asIntN(64, s.value) : s.value;
    options[spec.option] = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
  }
  return { options, settings: ordered, rejected, warnings };
}

/**
 * Layers `over` on top of `under`, tunable by tunable (the command line over the trace's
 * header): a tunable set in `over` replaces the one in `under`.
 */
export function layerGlibcSettings(under: GlibcSettings, over: GlibcSettings): GlibcSettings {
  const names = new Set(over.settings.map((s) => s.tunable));
  const kept = under.settings.filter((s) => !names.has(s.tunable));
  return resolve([...kept, ...over.settings], [...under.rejected, ...over.rejected]);
}

/** The settings in `GLIBC_TUNABLES` syntax, e.g. `glibc.malloc.tcache_count=0:glibc.malloc.perturb=3`. */
export function formatGlibcSettings(settings: readonly GlibcSetting[]): string {
  return settings.map((s) => `${s.tunable}=${s.value}`).join(":");
}
