import { PhysicalMemory } from "@mem/hardware";
import { Kernel, type KernelOptions, type ProcessOptions } from "../src/index.js";

/** A kernel on 256 MiB of RAM and one process. */
export function boot(options: Partial<KernelOptions> = {}, processOptions: ProcessOptions = {}, ramSize = 256 * 1024 * 1024) {
  const ram = new PhysicalMemory({ size: ramSize });
  const kernel = new Kernel({ ...options, ram: options.ram ?? ram });
  const proc = kernel.createProcess(processOptions);
  return { ram, kernel, proc };
}

/** The value of one /proc/PID/status line in kB. */
export function statusKb(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\t *(\\d+) kB$`, "m").exec(status);
  if (match === null) throw new Error(`no ${name} line`);
  return Number(match[1]);
}

export const RW = 0x3;
export const ANON = 0x22;
