import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_TYPE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "./api.js";
import { hex } from "./errors.js";

/** Formats PROT_* bits as C source writes them: `PROT_READ|PROT_WRITE`, `PROT_NONE`. */
export function formatProt(prot: number): string {
  if (typeof prot !== "number" || !Number.isInteger(prot)) return String(prot);
  if (prot === 0) return "PROT_NONE";
  const names: string[] = [];
  let rest = prot;
  for (const [bit, name] of [
    [PROT_READ, "PROT_READ"],
    [PROT_WRITE, "PROT_WRITE"],
    [PROT_EXEC, "PROT_EXEC"],
  ] as const) {
    if (rest & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0) names.push(hex(rest >>> 0));
  return names.join("|");
}

/** Formats MAP_* flags as C source writes them: `MAP_PRIVATE|MAP_ANONYMOUS`. */
export function formatMapFlags(flags: number): string {
  if (typeof flags !== "number" || !Number.isInteger(flags)) return String(flags);
  const names: string[] = [];
  const type = flags & MAP_TYPE;
  let rest = flags & ~MAP_TYPE;
  if (type === MAP_SHARED) names.push("MAP_SHARED");
  else if (type === MAP_PRIVATE) names.push("MAP_PRIVATE");
  else if (type === MAP_SHARED_VALIDATE) names.push("MAP_SHARED_VALIDATE");
  else if (type !== 0) names.push(hex(type));
  for (const [bit, name] of [
    [MAP_FIXED, "MAP_FIXED"],
    [MAP_ANONYMOUS, "MAP_ANONYMOUS"],
    [MAP_GROWSDOWN, "MAP_GROWSDOWN"],
    [MAP_LOCKED, "MAP_LOCKED"],
    [MAP_NORESERVE, "MAP_NORESERVE"],
    [MAP_POPULATE, "MAP_POPULATE"],
    [MAP_STACK, "MAP_STACK"],
    [MAP_HUGETLB, "MAP_HUGETLB"],
    [MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"],
  ] as const) {
    if (rest & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0) names.push(hex(rest >>> 0));
  return names.length === 0 ? "0" : names.join("|");
}

/** Formats an argument that should be an address or a length: hex for addresses, decimal for lengths. */
export function formatArg(value: unknown, asHex: boolean): string {
  if (typeof value === "number" && Number.isInteger(value)) return asHex ? hex(value) : String(value);
  return String(value);
}

/** A /proc "kB" line: the name with its colon padded to 16 columns, then the value in 8. */
export function kbLine(name: string, kb: number): string {
  return `${`${name}:`.padEnd(16)}${String(kb).padStart(8)} kB\n`;
}

/** A /proc/PID/status line: `VmRSS:\t    1500 kB`. */
export function statusLine(name: string, kb: number): string {
  return `${name}:\t${String(kb).padStart(8)} kB\n`;
}

/** At least 8 lowercase hex digits, as /proc/PID/maps prints addresses and offsets. */
export function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}
