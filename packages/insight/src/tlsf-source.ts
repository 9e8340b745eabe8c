import type { TlsfMalloc } from "@mem/libc-malloc";
import type { ResidentVma } from "@mem/os-vm";
import type { LibcFindings } from "./glibc-source.js";
import type { ResidentLedger } from "./ledger.js";
import { findMappedChunks } from "./mapped-scan.js";
import { addDecorated, isDecorated, DEBUG_PAD_BYTES, DEBUG_SIZE_BYTES } from "./pymalloc-source.js";

/** The TLSF allocator's MAPPED bit. */
const MAPPED = 4;

/**
 * Gives each resident byte of the TLSF allocator's memory a (coarser) cause:
 *
 * ```
 *  control block (own mapping)              libc.metadata
 *  heap: [prev_phys][size|flags][data ....]  header: libc.metadata, data: libc.in-use
 *        free block (header included)        libc.free
 *        region sentinel (16 bytes)          libc.metadata
 *  mapped block: [0][size|MAPPED][data ...]  header: libc.metadata, data: libc.in-use
 * ```
 */
export function accountTlsf(
  t: TlsfMalloc,
  ledger: ResidentLedger,
  vmas: readonly ResidentVma[],
  structures: ReadonlyMap<number, string>,
  skip: readonly (readonly [number, number])[],
  debug: boolean,
): LibcFindings {
  const view = t.inspect();
  const mem = t.process.memory;
  let liveBlocks = 0;
  let liveUsable = 0;
  ledger.add(view.control, view.control + view.controlSize, "libc.metadata");
  const block = (address: number, end: number): void => {
    ledger.add(address, address + 16, "libc.metadata");
    const user = address + 16;
    const structure = structures.get(user) ?? structures.get(user + 16);
    if (structure !== undefined) {
      ledger.add(user, end, structure);
      return;
    }
    liveBlocks++;
    if (debug && ledger.isResident(user) && ledger.isResident(user + 15) && isDecorated(mem, user, end - user)) {
      addDecorated(ledger, mem, user, end, "libc.in-use");
      liveUsable += end - user - DEBUG_SIZE_BYTES - DEBUG_PAD_BYTES;
    } else {
      ledger.add(user, end, "libc.in-use");
      liveUsable += end - user;
    }
  };
  for (const b of view.blocks) {
    if (b.state === "free") ledger.add(b.address, b.address + b.size, "libc.free");
    else if (b.state === "sentinel") ledger.add(b.address, b.address + 16, "libc.metadata");
    else block(b.address, b.address + b.size);
  }
  const controlEnd = view.control + Math.ceil(view.controlSize / 4096) * 4096;
  const allSkip = [...skip, [view.control, controlEnd] as const].sort((x, y) => x[0] - y[0]);
  const mapped = findMappedChunks(vmas, mem, ledger, MAPPED, allSkip);
  for (const m of mapped) block(m.address, m.address + m.size);
  return { liveBlocks, liveUsable, chunks: [], chunkStates: undefined, threadChunks: [], threadStructures: [], mapped, glibc: undefined };
}
