/**
 * Replays a glibc driver script (test/glibc/driver.c) on a simulated allocator and prints
 * exactly what the driver prints, so the two outputs can be compared line for line.
 */
import { PhysicalMemory } from "@mem/hardware";
import { Kernel, type Process } from "@mem/os-vm";
import { GlibcMalloc, type GlibcMallocOptions } from "../../src/index.js";

/** A fresh simulated process (256 MiB of RAM). */
export function freshProcess(ramBytes = 256 * 1024 * 1024): Process {
  return new Kernel({ ram: new PhysicalMemory({ size: ramBytes }) }).createProcess();
}

/** A GlibcMalloc over a fresh process, with a fixed tcache key. */
export function freshGlibc(options: GlibcMallocOptions = {}): GlibcMalloc {
  return new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234_5678_9abc, ...options });
}

const TUNABLES: Record<string, keyof GlibcMallocOptions> = {
  tcache_count: "tcacheCount",
  tcache_max: "tcacheMax",
  tcache_unsorted_limit: "tcacheUnsortedLimit",
  mxfast: "mxfast",
  top_pad: "topPad",
  mmap_threshold: "mmapThreshold",
  trim_threshold: "trimThreshold",
  mmap_max: "mmapMax",
  perturb: "perturb",
};

/** The GLIBC_TUNABLES string of a script's `# tunables: ...` line ("" when none). */
export function scriptTunables(script: string): string {
  return /^# tunables: (.*)$/m.exec(script)?.[1] ?? "";
}

/** GlibcMalloc options equivalent to a GLIBC_TUNABLES string (`glibc.malloc.NAME=VALUE:...`). */
export function tunablesToOptions(tunables: string): GlibcMallocOptions {
  const options: Record<string, number> = {};
  for (const item of tunables.split(":").filter(Boolean)) {
    const [name = "", value = "0"] = item.replace(/^glibc\.malloc\./, "").split("=");
    const key = TUNABLES[name];
    if (key === undefined) throw new Error(`unknown tunable ${name}`);
    options[key] = Number(value);
  }
  return options;
}

function num(token: string | undefined): number {
  if (token === undefined) return 0;
  const negative = token.startsWith("-");
  const body = negative ? token.slice(1) : token;
  const value = Number(BigInt(body));
  return negative ? -value : value;
}

/** Runs `script` on `libc` (with `check`, the heap checker runs after every call) and returns the driver-format output, ending with `exit N`. */
export function replay(script: string, libc: GlibcMalloc = freshGlibc(), options: { check?: boolean } = {}): string {
  const out: string[] = [];
  const slots = new Map<number, number>();
  const slot = (id: number): number => slots.get(id) ?? 0;
  const heap = libc.heapStart;
  const mem = libc.process.memory;
  let quiet = false;
  const pointer = (p: number, err: number): string => {
    if (p === 0) return `null errno=${err}`;
    const field = mem.load64(p - 8);
    if ((field & 2) !== 0) return `mmap mapped=0x${(mem.load64(p - 16) + field).toString(16)}`;
    return `+0x${(p - heap).toString(16)} size=0x${field.toString(16)}`;
  };
  const state = (): string => {
    const mi = libc.mallinfo2();
    // size_t arithmetic: a corrupted top can make uordblks wrap below zero
    const uord = (BigInt(mi.arena) - BigInt(mi.fordblks) + 2n ** 64n) % 2n ** 64n;
    const brk = libc.process.brk(0) - heap;
    return (
      `  | brk=+0x${brk.toString(16)} arena=${mi.arena} ordblks=${mi.ordblks} smblks=${mi.smblks} hblks=${mi.hblks}` +
      ` hblkhd=${mi.hblkhd} fsmblks=${mi.fsmblks} uordblks=${uord} fordblks=${mi.fordblks} keepcost=${mi.keepcost}`
    );
  };
  for (const line of script.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      out.push(line);
      continue;
    }
    const [op, ...rest] = line.split(/\s+/);
    const [a, b, c] = rest.map(num) as [number, number, number];
    let result: string;
    libc.errno = 0;
    try {
      switch (op) {
        case "m":
          slots.set(a, libc.malloc(b));
          result = pointer(slot(a), libc.errno);
          break;
        case "c":
          slots.set(a, libc.calloc(b, c));
          result = pointer(slot(a), libc.errno);
          break;
        case "r":
          slots.set(a, libc.realloc(slot(b), c));
          result = pointer(slot(a), libc.errno);
          break;
        case "f":
          libc.free(slot(a));
          result = "ok";
          break;
        case "a":
          slots.set(a, libc.memalign(b, c));
          result = pointer(slot(a), libc.errno);
          break;
        case "p": {
          const { error, pointer: p } = libc.posixMemalign(b, c);
          if (error === 0) slots.set(a, p);
          result = `ret=${error} ${pointer(error === 0 ? p : 0, error)}`;
          break;
        }
        case "u":
          result = `usable=${libc.usableSize(slot(a))}`;
          break;
        case "o":
          result = `ret=${libc.mallopt(a, b)}`;
          break;
        case "t":
          result = `ret=${libc.mallocTrim(a)}`;
          break;
        case "s":
          out.push(`${line} -> `);
          out.push(...libc.mallocStats().trimEnd().split("\n"));
          result = "stats done";
          out.push(`${result}${quiet ? "" : state()}`);
          continue;
        case "I":
          out.push(`${line} -> `);
          out.push(...libc.mallocInfo().trimEnd().split("\n"));
          result = "info done";
          out.push(`${result}${quiet ? "" : state()}`);
          continue;
        case "w":
          mem.store64Big(slot(a) + b, BigInt(rest[2] ?? "0"));
          result = "ok";
          break;
        case "B":
          libc.process.sbrk(a);
          result = "ok";
          break;
        case "F":
          libc.free(heap + a);
          result = "ok";
          break;
        case "W":
          mem.store64(slot(a) + b, slot(c) + num(rest[3]));
          result = "ok";
          break;
        case "X": {
          const at = slot(a) + b;
          mem.store64Big(at, BigInt(Math.floor(at / 4096)) ^ BigInt(rest[2] ?? "0"));
          result = "ok";
          break;
        }
        case "d": {
          const bytes = mem.read(slot(a) + b, Math.min(c, 32));
          result = Array.from(bytes, (x) => x.toString(16).padStart(2, "0")).join("");
          break;
        }
        case "q":
          quiet = !quiet;
          result = "ok";
          break;
        default:
          result = "?";
      }
      if (!quiet) result += state();
      if (options.check === true) libc.checkHeap();
    } catch (error) {
      if (error instanceof Error && error.name === "MallocAbort") {
        out.push(error.message);
        out.push("exit 134");
        return out.join("\n") + "\n";
      }
      if (error instanceof Error && error.name === "SegmentationFault") {
        out.push("exit 139");
        return out.join("\n") + "\n";
      }
      throw error;
    }
    out.push(`${line} -> ${result}`);
  }
  out.push("exit 0");
  return out.join("\n") + "\n";
}
