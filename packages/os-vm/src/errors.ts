/**
 * The typed errors of the kernel tier: a failing system call, a segmentation fault and an
 * exhausted page allocator.
 */

/** The errno values this tier returns, with their Linux numbers and `strerror` texts. */
export const ERRNO = {
  EPERM: { errno: 1, text: "Operation not permitted" },
  ENOENT: { errno: 2, text: "No such file or directory" },
  EBADF: { errno: 9, text: "Bad file descriptor" },
  EAGAIN: { errno: 11, text: "Resource temporarily unavailable" },
  ENOMEM: { errno: 12, text: "Cannot allocate memory" },
  EACCES: { errno: 13, text: "Permission denied" },
  EFAULT: { errno: 14, text: "Bad address" },
  EEXIST: { errno: 17, text: "File exists" },
  ENODEV: { errno: 19, text: "No such device" },
  EINVAL: { errno: 22, text: "Invalid argument" },
  EOVERFLOW: { errno: 75, text: "Value too large for defined data type" },
  EOPNOTSUPP: { errno: 95, text: "Operation not supported" },
} as const;

/** The symbolic name of an errno, e.g. `"EINVAL"`. */
export type ErrnoCode = keyof typeof ERRNO;

/** Formats an address the way the whole stack prints them: lowercase hex with `0x`. */
export function hex(value: number): string {
  return value < 0 ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/**
 * A system call failed: the errno Linux returns. The address space is unchanged, except where
 * Linux itself reports an error after partial work (documented on the call).
 *
 * Message: `os-vm: mmap(0x0, 0, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) failed: EINVAL (Invalid argument): length is 0`.
 */
export class SyscallError extends Error {
  override readonly name = "SyscallError";
  /** The errno number (e.g. 22). */
  readonly errno: number;
  /** The errno name (e.g. `"EINVAL"`). */
  readonly code: ErrnoCode;
  /** The system call that failed (e.g. `"mmap"`). */
  readonly syscall: string;

  /**
   * Creates the error for `syscall` called as `call` (its arguments as the caller wrote them),
   * failing with `code` because of `reason`.
   */
  constructor(syscall: string, call: string, code: ErrnoCode, reason: string) {
    super(`os-vm: ${syscall}(${call}) failed: ${code} (${ERRNO[code].text}): ${reason}`);
    this.errno = ERRNO[code].errno;
    this.code = code;
    this.syscall = syscall;
  }
}

/** `si_code` of a SIGSEGV: no mapping, no permission, or a non-canonical/kernel address. */
export type SegvCode = "SEGV_MAPERR" | "SEGV_ACCERR" | "SI_KERNEL";

/**
 * SIGSEGV: an access to an address with no mapping (SEGV_MAPERR), without permission
 * (SEGV_ACCERR), or outside the canonical user range (SI_KERNEL, whose `si_addr` Linux
 * reports as 0). The faulting access changed nothing.
 */
export class SegmentationFault extends Error {
  override readonly name = "SegmentationFault";
  /** The faulting address (`si_addr`; for SI_KERNEL Linux reports 0, this keeps the real address). */
  readonly address: number;
  /** `si_code`. */
  readonly code: SegvCode;
  /** Whether the access was a read or a write. */
  readonly access: "read" | "write";
  /** The pid of the faulting process. */
  readonly pid: number;

  /** Creates the fault of process `pid` for an `access` at `address`, with `reason` explaining it. */
  constructor(pid: number, address: number, code: SegvCode, access: "read" | "write", reason: string) {
    super(`os-vm: segmentation fault (SIGSEGV, ${code}) in pid ${pid}: ${access} at ${hex(address)}: ${reason}`);
    this.pid = pid;
    this.address = address;
    this.code = code;
    this.access = access;
  }
}

/**
 * The page allocator could not satisfy an allocation: no free block of the requested order in
 * any zone (with no reclaimable memory left). In Linux the OOM killer would act now.
 */
export class OutOfMemoryError extends Error {
  override readonly name = "OutOfMemoryError";
  /** The order asked for (2^order pages). */
  readonly order: number;
  /** Free pages left in all zones. */
  readonly freePages: number;

  /** Creates the error for an allocation of `order` with `freePages` free and `largestFreeOrder` the largest free block (-1: none). */
  constructor(order: number, freePages: number, largestFreeOrder: number, purpose: string) {
    super(
      `os-vm: out of memory: page allocation of order ${order} (${4 << order} kB) for ${purpose} failed: ` +
        `${freePages} page${freePages === 1 ? "" : "s"} free, largest free block ` +
        (largestFreeOrder < 0 ? "none" : `order ${largestFreeOrder}`),
    );
    this.order = order;
    this.freePages = freePages;
  }
}

/**
 * The process was killed by a signal it cannot catch (SIGKILL from the OOM killer): it
 * accepts no further system calls or memory accesses, and its memory has been given back
 * to the page allocator. Deliberately carries no `errno`: it is not a failed system call
 * that an allocator could turn into NULL, it ends the program.
 *
 * Message: `os-vm: pid 1 (python3) was killed by SIGKILL: Out of memory: Killed process 1 (python3) total-vm:…`.
 */
export class ProcessKilledError extends Error {
  override readonly name = "ProcessKilledError";
  /** The pid of the killed process. */
  readonly pid: number;
  /** The signal number (9, SIGKILL). */
  readonly signal: number;
  /** The signal's name (`"SIGKILL"`). */
  readonly signalName: string;
  /** The kernel's log line that reported the kill (as `dmesg` prints it, without the timestamp). */
  readonly kernelMessage: string;

  /** Creates the error of process `pid` (`comm`) killed by `signal` as `kernelMessage` reports. */
  constructor(pid: number, comm: string, signal: number, signalName: string, kernelMessage: string) {
    super(`os-vm: pid ${pid} (${comm}) was killed by ${signalName}: ${kernelMessage}`);
    this.pid = pid;
    this.signal = signal;
    this.signalName = signalName;
    this.kernelMessage = kernelMessage;
  }

  /** The exit status a shell reports for the killed process: 128 + the signal number (137). */
  get exitStatus(): number {
    return 128 + this.signal;
  }
}
