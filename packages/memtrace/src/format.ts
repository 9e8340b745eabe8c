import type { MemtraceEvent } from "./api.js";
import type { TraceRecord } from "./record.js";
import { escapeFilename } from "./stack-line.js";

/** A pointer as the trace writes it: `0x` + lowercase hex, `0x0` for NULL. */
export function formatPointer(p: number): string {
  // Number#toString(16) is slow for values above 2^32: print the two 32-bit halves.
  if (p < 4294967296) return `0x${p.toString(16)}`;
  const hi = Math.floor(p / 4294967296);
  const lo = (p >>> 0).toString(16);
  return `0x${hi.toString(16)}${"00000000".slice(lo.length)}${lo}`;
}

/** Bytes as lowercase hex, two digits each. */
export function formatBytes(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    s += (b < 16 ? "0" : "") + b.toString(16);
  }
  return s;
}

/** One event as its trace line, without the newline. */
export function formatEvent(e: MemtraceEvent | TraceRecord): string {
  switch (e.kind) {
    case "malloc":
      return `m ${e.domain} ${e.size} ${formatPointer(e.result)}`;
    case "calloc":
      return `c ${e.domain} ${e.nelem} ${e.elsize} ${formatPointer(e.result)}`;
    case "realloc":
      return `r ${e.domain} ${formatPointer(e.ptr)} ${e.size} ${formatPointer(e.result)}`;
    case "free":
      return `f ${e.domain} ${formatPointer(e.ptr)}`;
    case "memalign":
      return `a ${e.domain} ${e.alignment} ${e.size} ${formatPointer(e.result)}`;
    case "arena-alloc":
      return `A ${e.size} ${formatPointer(e.result)}`;
    case "arena-free":
      return `D ${formatPointer(e.ptr)} ${e.size}`;
    case "write":
      return `w ${formatPointer(e.ptr)} ${e.offset} ${formatBytes(e.bytes)}`;
    case "heap-start":
      return `# heap-start ${formatPointer(e.address)}`;
    case "cpus":
      return `# cpus ${e.count}`;
    case "thread":
      return `t ${e.thread}`;
    case "thread-start":
      return `n ${e.thread}`;
    case "thread-exit":
      return `x ${e.thread}`;
    case "frame":
      return `#F ${e.id} ${e.lineno} ${escapeFilename(e.filename)}`;
    case "traceback":
      return `#T ${e.id} ${e.total} ${e.frames.join(" ")}`;
    case "stack":
      return `#S ${e.traceback}`;
    case "retrace":
      return `#R ${formatPointer(e.ptr)}`;
    case "comment":
      return `#${e.text}`;
  }
}

/** A whole trace: each event's line followed by a newline (add the header event yourself, or use {@link formatTraceWithHeader}). */
export function formatTrace(events: Iterable<MemtraceEvent>): string {
  let out = "";
  for (const e of events) out += `${formatEvent(e)}\n`;
  return out;
}

/** `# memtrace v1`, then the events, one a line. */
export function formatTraceWithHeader(events: Iterable<MemtraceEvent>): string {
  return `# memtrace v1\n${formatTrace(events)}`;
}
