import { PAGE_SIZE, type ImageMapping } from "./api.js";
import { VM_ACCOUNT, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_SHARED, VM_WRITE, type FileRef, type Vma } from "./vma.js";

/** Flags every anonymous or private mapping may gain (`VM_MAY*`). */
const VM_MAY = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

/** The VMA of one image mapping. */
export function imageVma(mapping: ImageMapping, files: Map<string, FileRef>): Vma {
  const perms = mapping.perms;
  let flags = (perms[0] === "r" ? 0x1 : 0) | (perms[1] === "w" ? 0x2 : 0) | (perms[2] === "x" ? 0x4 : 0);
  const shared = perms[3] === "s";
  const special = mapping.name !== undefined && mapping.name.startsWith("[") ? mapping.name : undefined;
  let file: FileRef | undefined;
  if (mapping.name !== undefined && special === undefined) {
    const key = `${mapping.device ?? "00:00"}/${mapping.inode ?? 0}/${mapping.name}`;
    file = files.get(key);
    if (file === undefined) {
      file = { device: mapping.device ?? "00:00", inode: mapping.inode ?? 0, name: mapping.name, executable: mapping.executable ?? false };
      files.set(key, file);
    }
  }
  if (special !== undefined) flags |= VM_MAYREAD | (flags & 0x4 ? VM_MAYEXEC : 0);
  else flags |= VM_MAY;
  if (shared) flags |= VM_SHARED | VM_MAYSHARE;
  if (!shared && (flags & VM_WRITE) !== 0 && special === undefined) flags |= VM_ACCOUNT;
  return {
    start: mapping.start,
    end: mapping.end,
    flags,
    pgoff: file === undefined ? mapping.start / PAGE_SIZE : (mapping.offset ?? 0) / PAGE_SIZE,
    file,
    special,
    anonVma: 0,
  };
}

