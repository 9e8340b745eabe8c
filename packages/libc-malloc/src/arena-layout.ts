/**
 * Where glibc keeps its state, byte for byte: the main arena (`struct malloc_state`, a static
 * in libc's data segment) and the per-thread tcache (`tcache_perthread_struct`, the first
 * chunk of the heap).
 *
 * ```
 * struct malloc_state (0x898 bytes)            bin i as a fake chunk: bin_at(i) = av + 0x60 + 16*(i-1)
 * +0x000 mutex (u32)  +0x004 flags (u32)       ┌──────────────────────────────┐
 * +0x008 have_fastchunks (u32)                 │ +0  (prev_size: not its own) │
 * +0x010 fastbinsY[10]   chunk pointers        │ +8  (size: not its own)      │
 * +0x060 top                                   │ +16 fd = bins[2(i-1)]        │
 * +0x068 last_remainder                        │ +24 bk = bins[2(i-1)+1]      │
 * +0x070 bins[254]       fd/bk per bin 1..127  └──────────────────────────────┘
 * +0x860 binmap[4] (u32) one bit per bin       bin 1 (unsorted) = av+0x60 overlays top and
 * +0x870 next  +0x878 next_free                last_remainder: the "initial top" reads as a
 * +0x880 attached_threads                      chunk whose size is last_remainder (0 at start)
 * +0x888 system_mem  +0x890 max_system_mem
 *
 * tcache_perthread_struct (640 bytes, user data of the first heap chunk)
 * +0x000 counts[64] (u16)    +0x080 entries[64] (pointers to the *user* address of entries)
 * ```
 */

/** `malloc_state.flags`. */
export const AV_FLAGS = 0x004;
/** `malloc_state.have_fastchunks`. */
export const AV_HAVE_FASTCHUNKS = 0x008;
/** `malloc_state.fastbinsY[0]`. */
export const AV_FASTBINS = 0x010;
/** `malloc_state.top`. */
export const AV_TOP = 0x060;
/** `malloc_state.last_remainder`. */
export const AV_LAST_REMAINDER = 0x068;
/** `malloc_state.binmap[0]`. */
export const AV_BINMAP = 0x860;
/** `malloc_state.next`. */
export const AV_NEXT = 0x870;
/** `malloc_state.attached_threads`. */
export const AV_ATTACHED_THREADS = 0x880;
/** `malloc_state.system_mem`. */
export const AV_SYSTEM_MEM = 0x888;
/** `malloc_state.max_system_mem`. */
export const AV_MAX_SYSTEM_MEM = 0x890;
/** `sizeof(struct malloc_state)`. */
export const MALLOC_STATE_SIZE = 0x898;
/**
 * The shape of `struct malloc_state` in one release. Until 2.42 it is {@link MALLOC_STATE_WITH_FASTBINS};
 * 2.43 dropped `have_fastchunks` and `fastbinsY` ({@link MALLOC_STATE_WITHOUT_FASTBINS}), so every
 * field from `top` on sits `fieldShift` bytes lower than the `AV_*` offsets above say.
 */
export interface MallocStateLayout {
  /** `sizeof(struct malloc_state)`: a thread arena's first chunk follows it in its first heap. */
  readonly size: number;
  /** Bytes to subtract from the `AV_*` offsets of `top` and later fields (0 while fastbins exist). */
  readonly fieldShift: number;
}
/** `struct malloc_state` of 2.36 to 2.42 (0x898 bytes, with `have_fastchunks` and `fastbinsY[10]`). */
export const MALLOC_STATE_WITH_FASTBINS: MallocStateLayout = { size: MALLOC_STATE_SIZE, fieldShift: 0 };
/** `struct malloc_state` of 2.43 (0x840 bytes: `top` at +0x08 right after `mutex` and `flags`). */
export const MALLOC_STATE_WITHOUT_FASTBINS: MallocStateLayout = { size: 0x840, fieldShift: AV_TOP - 0x08 };
/** `NONCONTIGUOUS_BIT` of `malloc_state.flags`. */
export const NONCONTIGUOUS_BIT = 2;

/** `tcache_perthread_struct.entries[0]`. */
export const TCACHE_ENTRIES = 0x80;

/** Offsets inside a chunk (see the chunk diagram in glibc-malloc.ts). */
export const PREV_SIZE = 0;
/** The size field. */
export const SIZE = 8;
/** Forward link of a free chunk (user data + 0). */
export const FD = 16;
/** Back link of a free chunk. */
export const BK = 24;
/** Next larger-size leader (large bins). */
export const FD_NEXTSIZE = 32;
/** Previous size leader (large bins). */
export const BK_NEXTSIZE = 40;
