/**
 * The cheapest `Memory` JavaScript offers, for measuring pymalloc's own cost: two windows of
 * plain `DataView`s at the addresses the test host uses (the raw allocator's heap at
 * 0x555555550000 and the arenas below 0x7f0000000000), no RAM tier, no page tables, no
 * counters. Anything outside the windows is a RangeError.
 */
import type { Memory } from "@mem/hardware";
import type { SmallObjectHost } from "@mem/pymem";
import { BumpRaw, FakeMmap } from "../test/helpers/host.js";

const WINDOW = 256 * 1024 * 1024;
const HEAP = 0x555555550000;
const TOP = 0x7f0000000000;

/** Two DataView windows; offsets into them are int32, which keeps V8's DataView access inline. */
export class BareMemory implements Memory {
  readonly size = 2 ** 47;
  private readonly heap = new DataView(new ArrayBuffer(WINDOW));
  private readonly arenas = new DataView(new ArrayBuffer(WINDOW));

  private view(address: number, length: number): DataView {
    if (address >= HEAP && address + length <= HEAP + WINDOW) return this.heap;
    if (address >= TOP - WINDOW && address + length <= TOP) return this.arenas;
    throw new RangeError(`bare memory: ${length} bytes at 0x${address.toString(16)} are outside both windows`);
  }

  private offset(address: number): number {
    return (address >= TOP - WINDOW ? address - (TOP - WINDOW) : address - HEAP) | 0;
  }

  load8(a: number): number {
    return this.view(a, 1).getUint8(this.offset(a));
  }
  load16(a: number): number {
    return this.view(a, 2).getUint16(this.offset(a), true);
  }
  load32(a: number): number {
    return this.view(a, 4).getUint32(this.offset(a), true);
  }
  load64(a: number): number {
    const v = this.view(a, 8);
    const o = this.offset(a);
    return v.getUint32(o + 4, true) * 2 ** 32 + v.getUint32(o, true);
  }
  load64Big(a: number): bigint {
    return this.view(a, 8).getBigUint64(this.offset(a), true);
  }
  store8(a: number, value: number): void {
    this.view(a, 1).setUint8(this.offset(a), value);
  }
  store16(a: number, value: number): void {
    this.view(a, 2).setUint16(this.offset(a), value, true);
  }
  store32(a: number, value: number): void {
    this.view(a, 4).setUint32(this.offset(a), value, true);
  }
  store64(a: number, value: number): void {
    const v = this.view(a, 8);
    const o = this.offset(a);
    const low = value >>> 0;
    v.setUint32(o, low, true);
    v.setUint32(o + 4, (value - low) / 2 ** 32, true);
  }
  store64Big(a: number, value: bigint): void {
    this.view(a, 8).setBigUint64(this.offset(a), value, true);
  }
  read(a: number, length: number): Uint8Array {
    return new Uint8Array(this.view(a, length).buffer, this.offset(a), length).slice();
  }
  readInto(a: number, target: Uint8Array): void {
    target.set(new Uint8Array(this.view(a, target.length).buffer, this.offset(a), target.length));
  }
  write(a: number, bytes: Uint8Array): void {
    new Uint8Array(this.view(a, bytes.length).buffer).set(bytes, this.offset(a));
  }
  fill(a: number, length: number, byte: number): void {
    new Uint8Array(this.view(a, length).buffer, this.offset(a), length).fill(byte);
  }
  copy(destination: number, source: number, length: number): void {
    const from = new Uint8Array(this.view(source, length).buffer, this.offset(source), length);
    new Uint8Array(this.view(destination, length).buffer).set(from, this.offset(destination));
  }
}

/** A host over {@link BareMemory}: the test host's bump raw allocator and top-down arena mappings. */
export function bareHost(): SmallObjectHost {
  const memory = new BareMemory();
  const mmap = new FakeMmap(TOP);
  return { memory, raw: new BumpRaw(memory), arenaAllocator: () => mmap };
}
