import { PAGE_SIZE, STACK_TOP, type ImageMapping, type ProcessImage } from "./api.js";

/**
 * The default process image: a small dynamically linked C program (gcc 12 -O0, glibc 2.36,
 * Debian 12) as Linux 6.18 lays it out under `setarch -R` (no randomisation), recorded on
 * this machine from /proc/self/maps at the start of `main` (test/fixtures/start-maps.txt).
 *
 * ```
 * 0x555555554000  a.out: r--p r-xp r--p r--p rw-p       PIE at ELF_ET_DYN_BASE
 * 0x555555559000  start_brk: the heap starts at the page after .bss
 *    ...
 * 0x7ffff7dd2000  libc's anonymous pages, libc.so.6, libc's .bss
 * 0x7ffff7fc0000  TLS / ld.so data, [vvar] [vvar_vclock] [vdso], ld-linux-x86-64.so.2
 * 0x7ffff7fff000  mmap_base = TASK_SIZE - 128 MiB (the minimum gap)
 * 0x7ffffffde000  [stack] (132 KiB) up to STACK_TOP 0x7ffffffff000
 * ```
 *
 * mmap_base: x86's `mmap_base()` uses gap = RLIMIT_STACK (8 MiB) + stack_guard_gap (1 MiB)
 * + 0 (no stack randomisation), clamped to at least 128 MiB, so mmap_base =
 * 0x7ffffffff000 - 0x8000000 = 0x7ffff7fff000; ld.so is mapped right below it and the first
 * anonymous mmap of 4 KiB lands at 0x7ffff7fbf000 (observed), in the hole below the TLS pages.
 */
export const SMALL_C_PROGRAM: ProcessImage = {
  description: "small dynamically linked C program (gcc -O0, glibc 2.36) under setarch -R on Linux 6.18",
  mappings: [
    { start: 0x555555554000, end: 0x555555555000, perms: "r--p", offset: 0x0, device: "fe:00", inode: 2147006, name: "/tmp/a.out", executable: true },
    { start: 0x555555555000, end: 0x555555556000, perms: "r-xp", offset: 0x1000, device: "fe:00", inode: 2147006, name: "/tmp/a.out", executable: true },
    { start: 0x555555556000, end: 0x555555557000, perms: "r--p", offset: 0x2000, device: "fe:00", inode: 2147006, name: "/tmp/a.out", executable: true },
    { start: 0x555555557000, end: 0x555555558000, perms: "r--p", offset: 0x2000, device: "fe:00", inode: 2147006, name: "/tmp/a.out", executable: true },
    { start: 0x555555558000, end: 0x555555559000, perms: "rw-p", offset: 0x3000, device: "fe:00", inode: 2147006, name: "/tmp/a.out", executable: true },
    { start: 0x7ffff7dd2000, end: 0x7ffff7dd5000, perms: "rw-p" },
    { start: 0x7ffff7dd5000, end: 0x7ffff7dfb000, perms: "r--p", offset: 0x0, device: "fe:00", inode: 339380, name: "/usr/lib/x86_64-linux-gnu/libc.so.6" },
    { start: 0x7ffff7dfb000, end: 0x7ffff7f51000, perms: "r-xp", offset: 0x26000, device: "fe:00", inode: 339380, name: "/usr/lib/x86_64-linux-gnu/libc.so.6" },
    { start: 0x7ffff7f51000, end: 0x7ffff7fa4000, perms: "r--p", offset: 0x17c000, device: "fe:00", inode: 339380, name: "/usr/lib/x86_64-linux-gnu/libc.so.6" },
    { start: 0x7ffff7fa4000, end: 0x7ffff7fa8000, perms: "r--p", offset: 0x1cf000, device: "fe:00", inode: 339380, name: "/usr/lib/x86_64-linux-gnu/libc.so.6" },
    { start: 0x7ffff7fa8000, end: 0x7ffff7faa000, perms: "rw-p", offset: 0x1d3000, device: "fe:00", inode: 339380, name: "/usr/lib/x86_64-linux-gnu/libc.so.6" },
    { start: 0x7ffff7faa000, end: 0x7ffff7fb7000, perms: "rw-p" },
    { start: 0x7ffff7fc0000, end: 0x7ffff7fc2000, perms: "rw-p" },
    { start: 0x7ffff7fc2000, end: 0x7ffff7fc6000, perms: "r--p", name: "[vvar]" },
    { start: 0x7ffff7fc6000, end: 0x7ffff7fc8000, perms: "r--p", name: "[vvar_vclock]" },
    { start: 0x7ffff7fc8000, end: 0x7ffff7fca000, perms: "r-xp", name: "[vdso]" },
    { start: 0x7ffff7fca000, end: 0x7ffff7fcb000, perms: "r--p", offset: 0x0, device: "fe:00", inode: 338944, name: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
    { start: 0x7ffff7fcb000, end: 0x7ffff7ff1000, perms: "r-xp", offset: 0x1000, device: "fe:00", inode: 338944, name: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
    { start: 0x7ffff7ff1000, end: 0x7ffff7ffb000, perms: "r--p", offset: 0x27000, device: "fe:00", inode: 338944, name: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
    { start: 0x7ffff7ffb000, end: 0x7ffff7ffd000, perms: "r--p", offset: 0x31000, device: "fe:00", inode: 338944, name: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
    { start: 0x7ffff7ffd000, end: 0x7ffff7fff000, perms: "rw-p", offset: 0x33000, device: "fe:00", inode: 338944, name: "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
  ],
  startBrk: 0x555555559000,
  mmapBase: STACK_TOP - 128 * 1024 * 1024,
  stackTop: STACK_TOP,
  stackSize: 132 * 1024,
};

/**
 * A bare image: only a one-page executable text at ELF_ET_DYN_BASE, no libraries; the heap
 * starts on the next page and mmap placement starts right at mmap_base. Handy for tests
 * that want round addresses.
 */
export const BARE_IMAGE: ProcessImage = {
  description: "one-page static executable, no libraries (synthetic)",
  mappings: [{ start: 0x555555554000, end: 0x555555555000, perms: "r-xp", offset: 0, device: "fe:00", inode: 1, name: "/bin/bare", executable: true }],
  startBrk: 0x555555555000,
  mmapBase: STACK_TOP - 128 * 1024 * 1024,
  stackTop: STACK_TOP,
  stackSize: 132 * 1024,
};

/** A small seeded pseudo-random generator (mulberry32) for reproducible ASLR. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Applies Linux's randomisation to `image` with a seeded generator, as `randomize_va_space=2`
 * does: the PIE load bias moves by a random page count below 2^28 pages, the stack top down by
 * fewer than 2^22 pages, mmap_base (and everything mapped below it at exec) down by fewer than
 * 2^28 pages plus the stack randomisation room (16 GiB) in its gap, and the heap starts one
 * page plus a random page count below 1 GiB after .bss.
 */
export function randomizeImage(image: ProcessImage, seed: number): ProcessImage {
  const random = seededRandom(seed);
  const pages = (bits: number): number => Math.floor(random() * 2 ** bits) * PAGE_SIZE;
  const exeShift = pages(28);
  const stackShift = pages(22);
  // gap grows by stack_maxrandom_size (16 GiB) when randomising, then a 28-bit random offset.
  const mmapShift = 16 * 1024 * 1024 * 1024 + pages(28);
  const brkOffset = PAGE_SIZE + Math.floor(random() * (2 ** 30 / PAGE_SIZE)) * PAGE_SIZE;
  const isExe = (start: number): boolean => start < image.startBrk;
  return {
    description: `${image.description}, randomised (seed ${seed})`,
    mappings: image.mappings.map((m) => {
      const shift = isExe(m.start) ? exeShift : -mmapShift;
      return { ...m, start: m.start + shift, end: m.end + shift };
    }),
    startBrk: image.startBrk + exeShift + brkOffset,
    mmapBase: image.mmapBase - mmapShift,
    stackTop: image.stackTop - stackShift,
    stackSize: image.stackSize,
  };
}

/**
 * Builds a process image from a /proc/PID/maps text recorded at the start of a real program:
 * every line but `[stack]`, `[heap]` and `[vsyscall]` becomes an image mapping; the stack line
 * gives the stack top and size; the heap starts at the `[heap]` line, or else right after the
 * last mapping of the executable's area (the page after .bss, as without randomisation).
 * mmap_base is the non-randomised one below `stackTop`: 128 MiB below it.
 */
export function imageFromMaps(maps: string, description = "recorded /proc/PID/maps"): ProcessImage {
  const mappings: ImageMapping[] = [];
  let stackTop = STACK_TOP;
  let stackSize = 132 * 1024;
  let heapStart: number | undefined;
  let exeName: string | undefined;
  for (const line of maps.split("\n")) {
    const match = /^([0-9a-f]+)-([0-9a-f]+) ([-rwxsp]{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+) *(.*)$/.exec(line);
    if (match === null) continue;
    const [, startHex, endHex, perms, offsetHex, device, inode, rawName] = match;
    const start = parseInt(startHex!, 16);
    const end = parseInt(endHex!, 16);
    const name = rawName === "" ? undefined : rawName;
    if (name === "[vsyscall]") continue;
    if (name === "[stack]") {
      stackTop = end;
      stackSize = end - start;
      continue;
    }
    if (name === "[heap]") {
      heapStart = start;
      continue;
    }
    exeName ??= name;
    const mapping: ImageMapping = { start, end, perms: perms! };
    if (name !== undefined) mapping.name = name;
    if (name !== undefined && !name.startsWith("[")) {
      mapping.offset = parseInt(offsetHex!, 16);
      mapping.device = device!;
      mapping.inode = Number(inode);
      if (name === exeName) mapping.executable = true;
    }
    mappings.push(mapping);
  }
  if (heapStart === undefined) {
    // the end of the run of mappings that starts with the executable
    let end = mappings[0]?.end ?? 0x555555554000;
    for (const m of mappings) if (m.start === end || m.executable === true) end = Math.max(end, m.end);
    heapStart = end;
  }
  return { description, mappings, startBrk: heapStart, mmapBase: stackTop - 128 * 1024 * 1024, stackTop, stackSize };
}
