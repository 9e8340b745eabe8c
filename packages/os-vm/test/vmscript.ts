/**
 * Runs a test/scripts/*.vm script on a simulated process and prints the same output as
 * test/live/vmscript.c prints on the real kernel.
 */
import { SyscallError, type Process } from "../src/index.js";

function number(text: string, results: number[]): number {
  const match = /^\$(\d+)([+-].+)?$/.exec(text);
  if (match !== null) return results[Number(match[1])]! + (match[2] === undefined ? 0 : number(match[2].replace(/^\+/, ""), results));
  return text.startsWith("-") ? -Number(text.slice(1)) : Number(text);
}

function hexOut(value: number): string {
  return `0x${value.toString(16)}`;
}

export function runScript(proc: Process, script: string): string {
  const results: number[] = [];
  let out = "";
  let minor = proc.faults.minor;
  const syscall = (f: () => number): void => {
    try {
      const r = f();
      results.push(r);
      out += `= ${hexOut(r)}\n`;
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      results.push(-1);
      out += `= -1 ${error.code}\n`;
    }
  };
  for (const raw of script.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [op, ...args] = line.split(/\s+/);
    const n = args.map((a) => number(a, results));
    switch (op) {
      case "mmap":
        syscall(() => proc.mmap(n[0]!, n[1]!, n[2]!, n[3]!));
        break;
      case "mremap":
        syscall(() => proc.mremap(n[0]!, n[1]!, n[2]!, n[3]!, n[4] ?? 0));
        break;
      case "munmap":
        syscall(() => (proc.munmap(n[0]!, n[1]!), 0));
        break;
      case "mprotect":
        syscall(() => (proc.mprotect(n[0]!, n[1]!, n[2]!), 0));
        break;
      case "madvise":
        syscall(() => (proc.madvise(n[0]!, n[1]!, n[2]!), 0));
        break;
      case "brk":
        syscall(() => proc.brk(n[0]!));
        break;
      case "sbrk":
        syscall(() => proc.sbrk(n[0]!));
        break;
      case "write":
        proc.memory.fill(n[0]!, n[1]!, 1);
        results.push(0);
        out += "= ok\n";
        break;
      case "read":
        for (let i = 0; i < n[1]!; i += 4096) proc.memory.load8(n[0]! + i);
        results.push(0);
        out += "= ok\n";
        break;
      case "maps":
        out += `maps {\n${proc.maps()}}\n`;
        results.push(0);
        break;
      case "status":
        out += `status {\n${proc.status()}}\n`;
        results.push(0);
        break;
      case "smaps":
        out += `smaps {\n${proc.smaps()}}\n`;
        results.push(0);
        break;
      case "statm":
        out += `statm ${proc.statm()}`;
        results.push(0);
        break;
      case "faults":
        out += `faults ${proc.faults.minor - minor}\n`;
        minor = proc.faults.minor;
        results.push(0);
        break;
      default:
        throw new Error(`unknown script step ${String(op)}`);
    }
  }
  return out;
}

/** A recorded or simulated output split into its items: result lines, maps blocks, status blocks, fault counts. */
export type Item = { kind: "smaps"; text: string } | { kind: "statm"; fields: number[] } | { kind: "result"; text: string } | { kind: "maps"; text: string } | { kind: "status"; fields: Map<string, number> } | { kind: "faults"; count: number };

export function parseOutput(text: string): Item[] {
  const items: Item[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("= ")) items.push({ kind: "result", text: line });
    else if (line.startsWith("faults ")) items.push({ kind: "faults", count: Number(line.slice(7)) });
    else if (line.startsWith("statm ")) items.push({ kind: "statm", fields: line.slice(6).split(" ").map(Number) });
    else if (line === "maps {" || line === "status {" || line === "smaps {") {
      const body: string[] = [];
      for (i++; lines[i] !== "}"; i++) body.push(lines[i]!);
      if (line === "maps {") items.push({ kind: "maps", text: body.join("\n") });
      else if (line === "smaps {") items.push({ kind: "smaps", text: body.join("\n") });
      else {
        const fields = new Map<string, number>();
        for (const b of body) {
          const m = /^(\w+):\t *(\d+) kB$/.exec(b);
          if (m !== null) fields.set(m[1]!, Number(m[2]));
        }
        items.push({ kind: "status", fields });
      }
    }
  }
  return items;
}
