/*
 * libc_stacks.h: the C call sites of a recorded program's allocations, for the
 * memtrace_libc shim (`mem-demo record --libc --frames N`, MEMTRACE_LIBC_FRAMES=N).
 *
 * The shim writes raw return addresses only; symbols are looked up after the run
 * (apps/demo/src/record/symbolize.ts), never inside an allocator hook:
 *
 *   program --malloc--> shim: ls_capture()   lock NOT held: return addresses
 *                             enter()        lock held:
 *                               ls_write()     "# map ..." lines (first unknown address),
 *                                              "#F id 0 0x<addr>", "#T ...", "#S id"
 *
 * - One frame: __builtin_return_address(0) in the interposed function, no unwinding.
 * - N frames: backtrace(), whose first call dlopens libgcc_s (it allocates and takes the
 *   loader's lock): ls_init() makes that first call before anything is recorded, and each
 *   capture runs before the shim's lock is taken, with `busy` set (what the unwinder
 *   allocates passes straight to glibc, unrecorded). So the shim never holds its lock
 *   while waiting for the loader's, and the loader never waits for the shim while the
 *   shim waits for it.
 * - Frames and tracebacks are interned in static tables (no malloc); when a table is full
 *   a traceback is written again under a new id (still correct, only larger).
 * - "# map <start>-<end> <offset> <path>" (hex) for each executable file mapping, written
 *   before the first #F whose address no written mapping covers: /proc/self/maps is read
 *   then with open/read (no allocation, no user-space lock).
 */
#ifndef MEMTRACE_LIBC_STACKS_H
#define MEMTRACE_LIBC_STACKS_H

#include <execinfo.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_writer.h"

#define LS_MAX_FRAMES 64

/* The call site(s) of one allocation: return addresses, most recent first. */
typedef struct {
    int n;
    void *pc[LS_MAX_FRAMES];
} ls_stack;

static int ls_frames = -1; /* MEMTRACE_LIBC_FRAMES, 0 = no stacks; -1 = not read yet */

/* Reads the limit (getenv allocates nothing) and preloads the unwinder when N > 1. */
static void ls_init(int *busy) {
    if (ls_frames >= 0) return;
    const char *v = getenv("MEMTRACE_LIBC_FRAMES");
    int n = 0;
    if (v) {
        while (*v >= '0' && *v <= '9') n = n * 10 + (*v++ - '0');
        if (n > LS_MAX_FRAMES - 2) n = LS_MAX_FRAMES - 2;
    }
    if (n > 1) {
        void *tmp[4];
        int was = *busy;
        *busy = 1;
        backtrace(tmp, 4); /* dlopens libgcc_s now, unrecorded */
        *busy = was;
    }
    ls_frames = n;
}

/*
 * The unwinding for N > 1: noinline, called directly from an interposed function, so that
 * frame 0 is here and frame 1 is in the interposed function: the caller's frames start at 2.
 */
static __attribute__((noinline)) void ls_unwind(ls_stack *s) {
    void *tmp[LS_MAX_FRAMES];
    int got = backtrace(tmp, ls_frames + 2);
    s->n = 0;
    for (int i = 2; i < got; i++) s->pc[s->n++] = tmp[i];
}

/*
 * Fills s (in an interposed function, before enter(); `busy` set by the caller).
 * `ra` is __builtin_return_address(0) of that function.
 */
#define LS_CAPTURE(s, ra)                                   \
    do {                                                    \
        (s)->n = 0;                                         \
        if (ls_frames == 1) {                               \
            (s)->pc[0] = (ra);                              \
            (s)->n = 1;                                     \
        } else if (ls_frames > 1) {                         \
            ls_unwind(s);                                   \
        }                                                   \
    } while (0)

/* ---- interning (lock held) ------------------------------------------------------------ */

#define LS_FSLOTS (1u << 16)
#define LS_TSLOTS (1u << 15)
#define LS_POOL (1u << 20)

static uintptr_t ls_faddr[LS_FSLOTS];
static uint32_t ls_fid[LS_FSLOTS];
static uint32_t ls_nframes, ls_ntb, ls_current;
static uint32_t ls_tid[LS_TSLOTS], ls_toff[LS_TSLOTS], ls_tlen[LS_TSLOTS];
static uint64_t ls_thash[LS_TSLOTS];
static uint32_t ls_pool[LS_POOL];
static uint32_t ls_pool_used;

/* Executable mappings written so far. */
#define LS_MAPS 1024
static uintptr_t ls_map_lo[LS_MAPS], ls_map_hi[LS_MAPS];
static int ls_nmaps;

static int ls_mapped(uintptr_t a) {
    for (int i = 0; i < ls_nmaps; i++)
        if (a >= ls_map_lo[i] && a < ls_map_hi[i]) return 1;
    return 0;
}

static uintptr_t ls_parse_hex(const char **p, const char *end) {
    uintptr_t v = 0;
    for (; *p < end; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) break;
        v = v * 16 + (uintptr_t)d;
    }
    return v;
}

/* One /proc/self/maps line: "lo-hi perms offset dev inode   path". */
static void ls_map_line(trace_writer *w, const char *s, const char *end) {
    const char *p = s;
    uintptr_t lo = ls_parse_hex(&p, end);
    if (p >= end || *p != '-') return;
    p++;
    uintptr_t hi = ls_parse_hex(&p, end);
    if (end - p < 5 || p[3] != 'x') return; /* " r-xp" */
    p += 6;
    uintptr_t off = ls_parse_hex(&p, end);
    const char *path = memchr(p, '/', (size_t)(end - p));
    if (!path) return; /* anonymous, [vdso] ...: nothing to look up */
    for (int i = 0; i < ls_nmaps; i++)
        if (ls_map_lo[i] == lo && ls_map_hi[i] == hi) return;
    if (ls_nmaps < LS_MAPS) {
        ls_map_lo[ls_nmaps] = lo;
        ls_map_hi[ls_nmaps++] = hi;
    }
    size_t len = (size_t)(end - path);
    if (len > 3000) return;
    char *q = tw_reserve(w, len + 80);
    q = tw_str(q, "# map ");
    q = tw_hex(q, lo);
    *q++ = '-';
    q = tw_hex(q, hi);
    *q++ = ' ';
    q = tw_hex(q, off);
    *q++ = ' ';
    memcpy(q, path, len);
    q += len;
    *q++ = '\n';
    tw_commit(w, q);
}

static char ls_maps_buf[1 << 16];

/* Writes the executable mappings not written yet. */
static void ls_write_maps(trace_writer *w) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, ls_maps_buf + have, sizeof ls_maps_buf - have);
        if (n <= 0) break;
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (ls_maps_buf[i] != '\n') continue;
            ls_map_line(w, ls_maps_buf + start, ls_maps_buf + i);
            start = i + 1;
        }
        memmove(ls_maps_buf, ls_maps_buf + start, have - start);
        have -= start;
        if (have == sizeof ls_maps_buf) have = 0; /* a line longer than the buffer */
    }
    close(fd);
}

/* The frame id of a return address, writing "#F id 0 0x..." (and maps) the first time. */
static uint32_t ls_frame(trace_writer *w, uintptr_t a) {
    uint32_t h = (uint32_t)((a * 0x9E3779B97F4A7C15ull) >> 48) & (LS_FSLOTS - 1);
    for (uint32_t probe = 0; probe < LS_FSLOTS / 2; probe++, h = (h + 1) & (LS_FSLOTS - 1)) {
        if (ls_faddr[h] == a && ls_fid[h]) return ls_fid[h];
        if (ls_fid[h] == 0) break;
    }
    if (!ls_mapped(a)) ls_write_maps(w);
    uint32_t id = ++ls_nframes;
    if (ls_fid[h] == 0) {
        ls_faddr[h] = a;
        ls_fid[h] = id;
    }
    char *p = tw_reserve(w, 64);
    p = tw_str(p, "#F ");
    p = tw_dec(p, id);
    p = tw_str(p, " 0 ");
    p = tw_hex(p, a);
    *p++ = '\n';
    tw_commit(w, p);
    return id;
}

/* Writes what the allocation event about to be written needs: frames, traceback, "#S". */
static void ls_write(trace_writer *w, const ls_stack *s) {
    if (s->n == 0) return;
    uint32_t ids[LS_MAX_FRAMES];
    uint64_t hash = 1469598103934665603ull;
    for (int i = 0; i < s->n; i++) {
        ids[i] = ls_frame(w, (uintptr_t)s->pc[i]);
        hash = (hash ^ ids[i]) * 1099511628211ull;
    }
    hash ^= (uint64_t)s->n;
    uint32_t h = (uint32_t)(hash >> 40) & (LS_TSLOTS - 1), tb = 0;
    for (uint32_t probe = 0; probe < LS_TSLOTS / 2; probe++, h = (h + 1) & (LS_TSLOTS - 1)) {
        if (ls_tid[h] == 0) break;
        if (ls_thash[h] == hash && ls_tlen[h] == (uint32_t)s->n &&
            memcmp(ls_pool + ls_toff[h], ids, sizeof ids[0] * (size_t)s->n) == 0) {
            tb = ls_tid[h];
            break;
        }
    }
    if (tb == 0) {
        tb = ++ls_ntb;
        if (ls_tid[h] == 0 && ls_pool_used + (uint32_t)s->n <= LS_POOL) {
            ls_tid[h] = tb;
            ls_thash[h] = hash;
            ls_tlen[h] = (uint32_t)s->n;
            ls_toff[h] = ls_pool_used;
            memcpy(ls_pool + ls_pool_used, ids, sizeof ids[0] * (size_t)s->n);
            ls_pool_used += (uint32_t)s->n;
        }
        char *p = tw_reserve(w, 40 + 12 * (size_t)s->n);
        p = tw_str(p, "#T ");
        p = tw_dec(p, tb);
        *p++ = ' ';
        p = tw_dec(p, (uint64_t)s->n);
        for (int i = 0; i < s->n; i++) {
            *p++ = ' ';
            p = tw_dec(p, ids[i]);
        }
        *p++ = '\n';
        tw_commit(w, p);
    }
    if (tb != ls_current) {
        ls_current = tb;
        char *p = tw_reserve(w, 30);
        p = tw_str(p, "#S ");
        p = tw_dec(p, tb);
        *p++ = '\n';
        tw_commit(w, p);
    }
}

#endif
