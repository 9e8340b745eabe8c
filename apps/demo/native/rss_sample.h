/*
 * rss_sample.h: the real process's resident memory of the ranges the allocators own,
 * sampled every K call events into the trace as a comment:
 *
 *   # rss <event> <brk-heap> <pymalloc-arenas> <mmapped-chunks> <RssAnon>
 *
 * <event> is the number of call events written so far; the next three are resident bytes
 * measured with mincore(2): the main heap [heap-start, sbrk(0)), the pymalloc arenas the
 * recorder saw (A lines not yet freed by a D line) and the chunks glibc mmapped for
 * allocations the recorder saw (a result whose chunk header has IS_MMAPPED, 0x2, set); the
 * last is RssAnon from /proc/self/status (every anonymous page: also stacks, libraries'
 * data, the recorder's own buffers). The recorder's buffers (static, or mmapped by
 * itself) lie in none of the three ranges, so they are excluded.
 *
 * Just before each such line, the heaps of glibc's thread (non-main) arenas:
 *
 *   # rss-thread-heaps <event> <heaps> <resident bytes>
 *
 * (malloc/arena.c new_heap: each a HEAP_MAX_SIZE = 64 MiB mapping aligned to its size,
 * reserved PROT_NONE and made read-write from its start as it grows). They are found in
 * /proc/self/maps at each sample, so heaps made and deleted by any call are seen:
 *
 *   7f2c24000000-7f2c24021000 rw-p 00000000 00:00 0     <- start % 64 MiB == 0, anonymous,
 *   7f2c24021000-7f2c28000000 ---p 00000000 00:00 0        read-write: heap_info at its start
 *
 *   heap +0x00 ar_ptr  +0x08 prev  +0x10 size  +0x18 mprotect_size  +0x20 pagesize (2.35+)
 *   (checked: ar_ptr is the arena just after its first heap's heap_info, prev another heap or
 *   NULL in that first heap, size and mprotect_size page multiples, 0 < size <= mprotect_size
 *   <= 64 MiB)
 *
 * A heap is looked for at every 64 MiB boundary inside a read-write anonymous mapping, not
 * only where a line of maps starts: glibc puts an arena's next heap just above the last one
 * when that space is free (aligned_heap_area), and once the heap below is read-write to its
 * end the kernel merges the two read-write ranges into one line:
 *
 *   7f9cd4000000-7f9cd8539000 rw-p 00000000 00:00 0     <- a full heap and the next one's start
 *   7f9cd8539000-7f9cdc000000 ---p 00000000 00:00 0
 *
 * (thread-grow.c: in 5 of 200 runs, with address randomisation, only the first heap was seen.)
 *
 * and their resident bytes are measured with mincore over the whole 64 MiB. A trace from
 * the recorders before has no such lines: the thread heaps were not measured.
 *
 * Large blocks (RSS_LARGE bytes or more, "# touched-min" in the header) are written only in part by many programs (a buffer
 * sized for the worst case): for each live one, before every sample and just before the block
 * is freed or reallocated, when the number of its resident pages has changed since its last
 * line (a block resident whole is not looked at again), the pages of it that are resident are
 * written as
 *
 *   # touched <block> <first>-<last> ...
 *
 * page ranges (inclusive) counted from the page holding <block>'s first byte, so that a replay
 * can touch the same pages of its own block (--program-writes measured).
 *
 * Shared by memtrace_libc.c and memtrace_python.c; never allocates (tables are static).
 * All functions are called with the recorder's lock held.
 */
#ifndef MEMTRACE_RSS_SAMPLE_H
#define MEMTRACE_RSS_SAMPLE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace_writer.h"
#include "ptr_map.h"
#include "proc_self.h"

#define RSS_MAX_RANGES 65536

typedef struct {
    uintptr_t key[RSS_MAX_RANGES];   /* what the range is removed by (the block, the arena) */
    uintptr_t start[RSS_MAX_RANGES];
    size_t len[RSS_MAX_RANGES];
    size_t seen[RSS_MAX_RANGES];     /* rss_large: pages resident at the block's last # touched line */
    int n;
    int full;                        /* a comment said that the table is full */
    ptr_map index;                   /* key -> slot + 1 (mmap'd on first use): a free looks up in O(1) */
} rss_ranges;

static rss_ranges rss_mapped;   /* glibc's mmapped chunks: the mapping (chunk - prev_size) */
static rss_ranges rss_arenas;   /* pymalloc arenas */
static rss_ranges rss_large;    /* live blocks of RSS_LARGE bytes or more: key = start = the block */
static trace_writer *rss_w;     /* the trace (set at the first event) */
/* Blocks of RSS_LARGE bytes or more get # touched lines; the header says so ("# touched-min").
   A block of r bytes lies in a chunk of r + 8 rounded up to 16. Up to r = 4088 (a 4096-byte
   chunk) every page the block reaches also holds its own size field or the next chunk's, which
   glibc writes, so modelling it as written whole adds no page; from r = 4089 (a 4112-byte
   chunk) a page can lie between the two, untouched until the program writes it. Recorders
   before used 65536 (opendir's 32 KiB buffers, mostly unwritten, were modelled as written
   whole), then 8192: CPython's 4 KiB standard-stream buffers on a pipe (BufferedReader and
   BufferedWriter size them by st_blksize), never written by a program that reads and prints
   nothing, added a page to the replay whenever one's bytes began at a page boundary. */
#define RSS_LARGE 4089
static uint64_t rss_every = 10000;
static uintptr_t rss_heap_start;
static int rss_pages;           /* MEMTRACE_RSS_PAGES=1: every sample also lists the resident pages */
static unsigned char rss_vec[16384];

/* MEMTRACE_RSS_EVERY (default 10000; 0 turns the samples off) and the heap's first byte;
   writes the header line "# touched-min <RSS_LARGE>" when sampling. */
static void rss_init(trace_writer *w, uintptr_t heap_start) {
    const char *s = getenv("MEMTRACE_RSS_EVERY");
    if (s && *s) {
        uint64_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
        rss_every = v;
    }
    rss_heap_start = heap_start;
    const char *pages = getenv("MEMTRACE_RSS_PAGES");
    rss_pages = pages && *pages == '1';
    if (rss_every != 0) {
        char *p = tw_reserve(w, 40);
        p = tw_str(p, "# touched-min ");
        p = tw_dec(p, RSS_LARGE);
        *p++ = '\n';
        tw_commit(w, p);
    }
}

static void rss_add(rss_ranges *r, uintptr_t key, uintptr_t start, size_t len) {
    if (r->index.slots == NULL && !pm_init(&r->index, 1024)) return;
    uint64_t old;
    if (pm_get(&r->index, key, &old)) { /* a key seen again (a block not freed through us): replaced */
        int i = (int)old - 1;
        r->start[i] = start;
        r->len[i] = len;
        r->seen[i] = 0;
        return;
    }
    if (r->n >= RSS_MAX_RANGES) {
        if (!r->full && rss_w) tw_line(rss_w, "# rss: range table full: later ranges are not measured (and get no # touched lines)");
        r->full = 1;
        return;
    }
    r->key[r->n] = key;
    r->start[r->n] = start;
    r->len[r->n] = len;
    r->seen[r->n] = 0;
    pm_put(&r->index, key, (uint64_t)r->n + 1);
    r->n++;
}

/* The slot of key, or -1. */
static inline int rss_find(const rss_ranges *r, uintptr_t key) {
    uint64_t v;
    return r->index.slots != NULL && pm_get(&r->index, key, &v) ? (int)v - 1 : -1;
}

static void rss_remove(rss_ranges *r, uintptr_t key) {
    uint64_t v;
    if (r->index.slots == NULL || !pm_remove(&r->index, key, &v)) return;
    int i = (int)v - 1;
    r->n--;
    if (i != r->n) { /* the last slot moves into the hole */
        r->key[i] = r->key[r->n];
        r->start[i] = r->start[r->n];
        r->len[i] = r->len[r->n];
        r->seen[i] = r->seen[r->n];
        pm_put(&r->index, r->key[i], (uint64_t)i + 1);
    }
}

/* glibc's chunk of a block it returned: mmapped if the size field has 0x2. */
static inline int rss_is_mmapped(const void *p) {
    return p && (((const size_t *)p)[-1] & 2) != 0;
}

/* A block glibc returned (size > 512: smaller ones may be pymalloc's, whose p[-1] is data). */
static inline void rss_note_block(const void *p, size_t size) {
    if (rss_every == 0 || !p || size <= 512) return;
    if (size >= RSS_LARGE) rss_add(&rss_large, (uintptr_t)p, (uintptr_t)p, size);
    if (!rss_is_mmapped(p)) return;
    const size_t *h = (const size_t *)p;
    size_t chunk = h[-1] & ~(size_t)7, before = h[-2];
    rss_add(&rss_mapped, (uintptr_t)p, (uintptr_t)p - 2 * sizeof(size_t) - before, chunk + before);
}


/* Resident bytes of [start, start + len). */
static uint64_t rss_resident(uintptr_t start, size_t len) {
    uintptr_t a = start & ~(uintptr_t)4095, end = start + len;
    uint64_t n = 0;
    while (a < end) {
        size_t pages = (end - a + 4095) / 4096;
        if (pages > sizeof rss_vec) pages = sizeof rss_vec;
        if (mincore((void *)a, pages * 4096, rss_vec) != 0) return n;
        for (size_t i = 0; i < pages; i++) n += rss_vec[i] & 1;
        a += pages * 4096;
    }
    return n * 4096;
}

/* "# <label> <block> <ranges>": the resident pages of [p, p + size), when any is resident. */
static void rss_page_line(trace_writer *w, const char *label, uintptr_t p, size_t size) {
    uintptr_t base = p & ~(uintptr_t)4095;
    size_t pages = (p + size - base + 4095) / 4096, have = 0, from = 0;
    char *line = NULL;
    long run = -1;
    for (size_t k = 0; k <= pages; k++) {
        int in = 0;
        if (k < pages) {
            if (k >= from + have) { /* the next window of pages */
                from = k;
                have = pages - k < sizeof rss_vec ? pages - k : sizeof rss_vec;
                if (mincore((void *)(base + k * 4096), have * 4096, rss_vec) != 0) return;
            }
            in = rss_vec[k - from] & 1;
        }
        if (in && run < 0) run = (long)k;
        if (!in && run >= 0) {
            if (!line) {
                line = tw_reserve(w, 64);
                line = tw_str(line, "# ");
                line = tw_str(line, label);
                *line++ = ' ';
                line = tw_hex(line, p);
            }
            if ((size_t)(line - w->buf) + 48 > TW_BUFSIZE) break; /* no room: the rest is left out */
            *line++ = ' ';
            line = tw_dec(line, (uint64_t)run);
            *line++ = '-';
            line = tw_dec(line, (uint64_t)k - 1);
            run = -1;
        }
    }
    if (line) {
        *line++ = '\n';
        tw_commit(w, line);
    }
}

/* "# touched <block> <ranges>" for a live large block, when any page of it is resident. */
/* Written only when the number of resident pages has changed since the block's last line (pages
   of a live block only become resident, so the set has not changed either): the replay keeps
   the pages of earlier lines. A block resident whole is not looked at again. */
static void rss_touched(trace_writer *w, int i) {
    uintptr_t p = rss_large.start[i], base = p & ~(uintptr_t)4095;
    size_t size = rss_large.len[i], pages = (p + size - base + 4095) / 4096;
    if (rss_large.seen[i] == pages) return;
    size_t now = (size_t)(rss_resident(p, size) / 4096);
    if (now == rss_large.seen[i]) return;
    rss_large.seen[i] = now;
    rss_page_line(w, "touched", p, size);
}

/* A block about to be freed or reallocated (looked up, not read: it may be pymalloc's). */
static inline void rss_forget_block(const void *p) {
    if (!p) return;
    if (rss_mapped.n != 0) rss_remove(&rss_mapped, (uintptr_t)p);
    if (rss_large.n != 0) {
        int i = rss_find(&rss_large, (uintptr_t)p);
        if (i < 0) return;
        if (rss_w) rss_touched(rss_w, i);
        rss_remove(&rss_large, (uintptr_t)p);
    }
}

static uint64_t rss_sum(const rss_ranges *r) {
    uint64_t n = 0;
    for (int i = 0; i < r->n; i++) n += rss_resident(r->start[i], r->len[i]);
    return n;
}

/* RssAnon of /proc/self/status, in bytes. */
static uint64_t rss_anon(void) {
    char buf[8192];
    if (proc_self_read("status", buf, sizeof buf) == 0) return 0;
    char *p = strstr(buf, "RssAnon:");
    if (!p) return 0;
    p += 8;
    while (*p == ' ' || *p == '\t') p++;
    return proc_decimal(p) * 1024;
}

#define RSS_HEAP_MAX ((uintptr_t)64 << 20) /* glibc's HEAP_MAX_SIZE on 64-bit */
static char rss_maps[16384];

/* A line of /proc/self/maps: 1 with its range in *start, *end when it is a read-write
   anonymous mapping (no path), else 0. */
static int rss_anon_rw_line(const char *p, const char *end, uintptr_t *start, uintptr_t *stop) {
    uintptr_t v[2] = { 0, 0 };
    for (int k = 0; k < 2; k++, p++) {
        for (; p < end && *p != (k == 0 ? '-' : ' '); p++) {
            int c = *p, d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return 0;
            v[k] = v[k] * 16 + (uintptr_t)d;
        }
    }
    p--; /* at the space before the permissions */
    if (end - p < 6 || memcmp(p, " rw-p ", 6) != 0) return 0;
    /* offset, device, inode; anonymous: inode 0 and no path */
    int field = 0;
    for (p += 6; p < end && field < 3; field++) {
        const char *f = p;
        while (p < end && *p != ' ') p++;
        if (field == 2 && !(p - f == 1 && *f == '0')) return 0;
        while (p < end && *p == ' ') p++;
    }
    if (p != end) return 0; /* a path, [stack], [heap] ... */
    *start = v[0];
    *stop = v[1];
    return 1;
}

/* Whether the 64 MiB-aligned address a, inside a read-write mapping, holds a heap_info:
   ar_ptr is its arena, which lives in the arena's first heap just after that heap's
   heap_info (0x30 bytes since glibc 2.35, with pagesize; 0x20 before), so ar_ptr is 0x30 (or
   0x20) past a 64 MiB boundary, a itself when prev is NULL (the first heap), else prev is
   another heap; size and mprotect_size are page multiples, 0 < size <= mprotect_size <= 64 MiB. */
static int rss_is_heap(uintptr_t a) {
    const size_t *info = (const size_t *)a;
    uintptr_t ar = info[0], prev = info[1], off = ar % RSS_HEAP_MAX;
    size_t size = info[2], mprotect_size = info[3];
    if (off != 0x30 && off != 0x20) return 0;
    if (prev == 0 ? ar != a + off : prev % RSS_HEAP_MAX != 0 || prev == a) return 0;
    return size != 0 && size % 4096 == 0 && mprotect_size % 4096 == 0 && size <= mprotect_size && mprotect_size <= RSS_HEAP_MAX;
}

/* "# rss-thread-heaps <event> <heaps> <resident>" (and with MEMTRACE_RSS_PAGES=1 the pages). */
static void rss_thread_heaps(trace_writer *w, uint64_t events) {
    uint64_t heaps = 0, resident = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, rss_maps + have, sizeof rss_maps - have);
        if (r <= 0) break;
        have += (size_t)r;
        char *line = rss_maps, *end = rss_maps + have;
        for (char *nl; (nl = memchr(line, '\n', (size_t)(end - line))) != NULL; line = nl + 1) {
            uintptr_t start, stop;
            if (!rss_anon_rw_line(line, nl, &start, &stop)) continue;
            /* every 64 MiB boundary inside: the read-write start of the next heap merges with
               a full heap just below it into one line */
            for (uintptr_t heap = (start + RSS_HEAP_MAX - 1) / RSS_HEAP_MAX * RSS_HEAP_MAX; heap != 0 && heap < stop; heap += RSS_HEAP_MAX) {
                /* read only a resident page: reading an untouched one (a pymalloc arena or a
                   block glibc mmapped, that spans the boundary) maps the zero page, which the
                   samples would then count (an arena 4 KiB higher than its replay) */
                unsigned char first;
                if (mincore((void *)heap, 4096, &first) != 0 || !(first & 1) || !rss_is_heap(heap)) continue;
                /* the whole 64 MiB must be mapped (ENOMEM otherwise): one mincore of 16384 pages */
                if (mincore((void *)heap, RSS_HEAP_MAX, rss_vec) != 0) continue;
                uint64_t n = 0;
                for (size_t i = 0; i < RSS_HEAP_MAX / 4096; i++) n += rss_vec[i] & 1;
                heaps++;
                resident += n * 4096;
                if (rss_pages) rss_page_line(w, "rss-pages thread-heap", heap, RSS_HEAP_MAX);
            }
        }
        have = (size_t)(end - line);
        if (have == sizeof rss_maps) have = 0; /* a line longer than the buffer: skipped */
        memmove(rss_maps, line, have);
    }
    close(fd);
    char *p = tw_reserve(w, 100);
    p = tw_str(p, "# rss-thread-heaps ");
    p = tw_dec(p, events); *p++ = ' ';
    p = tw_dec(p, heaps); *p++ = ' ';
    p = tw_dec(p, resident); *p++ = '\n';
    tw_commit(w, p);
}

/* Writes "# rss-thread-heaps ..." and "# rss ..." now. */
static void rss_write(trace_writer *w, uint64_t events) {
    for (int i = 0; i < rss_large.n; i++) rss_touched(w, i);
    uintptr_t brk_now = (uintptr_t)sbrk(0);
    uint64_t heap = rss_heap_start && brk_now > rss_heap_start ? rss_resident(rss_heap_start, brk_now - rss_heap_start) : 0;
    uint64_t arenas = rss_sum(&rss_arenas), mapped = rss_sum(&rss_mapped), anon = rss_anon();
    if (rss_pages) { /* a debugging aid: which pages, not only how many */
        if (rss_heap_start && brk_now > rss_heap_start) rss_page_line(w, "rss-pages heap", rss_heap_start, brk_now - rss_heap_start);
        for (int i = 0; i < rss_arenas.n; i++) rss_page_line(w, "rss-pages arena", rss_arenas.start[i], rss_arenas.len[i]);
        for (int i = 0; i < rss_mapped.n; i++) rss_page_line(w, "rss-pages mmapped", rss_mapped.start[i], rss_mapped.len[i]);
    }
    rss_thread_heaps(w, events);
    char *p = tw_reserve(w, 140);
    p = tw_str(p, "# rss ");
    p = tw_dec(p, events); *p++ = ' ';
    p = tw_dec(p, heap); *p++ = ' ';
    p = tw_dec(p, arenas); *p++ = ' ';
    p = tw_dec(p, mapped); *p++ = ' ';
    p = tw_dec(p, anon); *p++ = '\n';
    tw_commit(w, p);
}

/* After a call event: a sample every rss_every events. */
static inline void rss_tick(trace_writer *w, uint64_t events) {
    rss_w = w;
    if (rss_every != 0 && events % rss_every == 0) rss_write(w, events);
}

#endif
