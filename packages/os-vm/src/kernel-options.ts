import type { KernelOptions, ProcessOptions } from "./api.js";

/**
 * An impossible kernel or process setting, refused the way Linux refuses the sysctl write or
 * the limit (`EINVAL`): the message names the setting, its allowed range and the value given.
 * A `RangeError`, so existing `catch` clauses still match. Nothing is created.
 */
export class KernelOptionError extends RangeError {
  override readonly name = "KernelOptionError";
  /** The option that was refused, e.g. `overcommitMemory`. */
  readonly option: string;

  /** Creates the error for `option`; `message` says what is allowed and what was given. */
  constructor(option: string, message: string) {
    super(`os-vm: ${message}`);
    this.option = option;
  }
}

/** A value as an error message shows it: strings quoted, other types named. */
function shown(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "bigint") return `bigint ${value.toString()}`;
  return typeof value === "number" || typeof value === "boolean" || value == null ? String(value) : typeof value;
}

function integerIn(option: string, label: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new KernelOptionError(option, `${label} must be an integer in ${min}..${max}, got ${shown(value)}`);
  }
}

function boolean(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") throw new KernelOptionError(option, `${option} must be a boolean, got ${shown(value)}`);
}

/** Whether `value` has the loads and stores of a `Memory` (checked by shape: any implementation will do). */
function isMemory(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.size === "number" && ["load8", "load32", "load64", "store8", "store32", "store64", "read", "write", "fill"].every((k) => typeof m[k] === "function");
}

/**
 * Checks every {@link KernelOptions} field before the kernel is built, with the ranges the
 * sysctls accept: `vm.overcommit_memory` 0..2 (proc_dointvec_minmax), `vm.overcommit_ratio`
 * and `vm.max_map_count` non-negative ints, `vm.mmap_min_addr` an address of user space.
 * @throws {@link KernelOptionError} for the first bad field.
 */
export function validateKernelOptions(options: KernelOptions): void {
  if (typeof options !== "object" || options === null) throw new KernelOptionError("options", `kernel options must be an object, got ${shown(options)}`);
  if (!isMemory(options.ram)) throw new KernelOptionError("ram", `ram must be a Memory (an @mem/hardware PhysicalMemory or alike), got ${shown(options.ram)}`);
  const policy: unknown = options.overcommitMemory;
  if (policy !== undefined && policy !== 0 && policy !== 1 && policy !== 2) {
    throw new KernelOptionError("overcommitMemory", `vm.overcommit_memory must be 0, 1 or 2, got ${shown(policy)}`);
  }
  if (options.overcommitRatio !== undefined && !(Number.isInteger(options.overcommitRatio) && options.overcommitRatio >= 0 && options.overcommitRatio < 2 ** 31)) {
    throw new KernelOptionError("overcommitRatio", `vm.overcommit_ratio must be an integer >= 0, got ${shown(options.overcommitRatio)}`);
  }
  integerIn("maxMapCount", "vm.max_map_count", options.maxMapCount, 0, 2 ** 31 - 1);
  integerIn("mmapMinAddr", "vm.mmap_min_addr", options.mmapMinAddr, 0, 2 ** 47);
  if (options.swap !== undefined && !isMemory(options.swap)) throw new KernelOptionError("swap", `swap must be a Memory (a simulated disk), got ${shown(options.swap)}`);
  boolean("thpAlignment", options.thpAlignment);
  boolean("zeroPage", options.zeroPage);
}

/**
 * Checks every {@link ProcessOptions} field before a process is created: `RLIMIT_STACK` a
 * non-negative integer or Infinity (RLIM_INFINITY), the uid a `uid_t` other than -1,
 * `oom_score_adj` -1000..1000 as /proc accepts it, the ASLR seed an integer, `comm` a string.
 * @throws {@link KernelOptionError} for the first bad field.
 */
export function validateProcessOptions(options: ProcessOptions): void {
  if (typeof options !== "object" || options === null) throw new KernelOptionError("options", `process options must be an object, got ${shown(options)}`);
  const limit: unknown = options.stackLimit;
  if (limit !== undefined && !(typeof limit === "number" && (limit === Infinity || (Number.isSafeInteger(limit) && limit >= 0)))) {
    throw new KernelOptionError("stackLimit", `RLIMIT_STACK (stackLimit) must be a non-negative integer number of bytes or Infinity, got ${shown(limit)}`);
  }
  integerIn("uid", "uid", options.uid, 0, 2 ** 32 - 2);
  integerIn("oomScoreAdj", "oom_score_adj", options.oomScoreAdj, -1000, 1000);
  if (options.aslrSeed !== undefined && !Number.isSafeInteger(options.aslrSeed)) {
    throw new KernelOptionError("aslrSeed", `aslrSeed must be an integer, got ${shown(options.aslrSeed)}`);
  }
  if (options.comm !== undefined && typeof options.comm !== "string") throw new KernelOptionError("comm", `comm must be a string, got ${shown(options.comm)}`);
}
