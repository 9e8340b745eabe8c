/*
 * trace_parse.h: reads a whole memtrace v1 trace into an array of events.
 *
 * All memory comes from mmap/mremap (never malloc), so that a replayer of libc
 * traces starts its replay on an untouched heap. Errors name the line:
 *   memtrace: line 12: expected a 0x pointer
 */
#ifndef MEMTRACE_TRACE_PARSE_H
#define MEMTRACE_TRACE_PARSE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>

enum { OP_MALLOC, OP_CALLOC, OP_REALLOC, OP_FREE, OP_MEMALIGN };
enum { D_RAW, D_MEM, D_OBJ, D_LIBC };

/* One call. m: a=size; c: a=nelem b=elsize; r: c=ptr a=size; f: c=ptr; a: b=alignment a=size. d=result. */
typedef struct {
    uint8_t op, dom;
    uint64_t a, b, c, d;
} event;

/*
 * "# malloc_trim <pad> <result>" (mallopt 0: a = pad) or "# mallopt <param> <value> <result>"
 * (mallopt 1: a = param, b = value): the program's call, made before events[before].
 */
typedef struct {
    uint8_t mallopt;
    long long a, b;
    size_t before;
} control;

typedef struct {
    control *controls;
    size_t n_controls, cap_controls;
    event *events;
    size_t n_events, cap_events;
    uint64_t *arenas; /* addresses of the A lines, in order */
    size_t n_arenas, cap_arenas;
    uint64_t heap_start; /* from "# heap-start 0x..", 0 if absent */
    char pythonmalloc[32]; /* from "# env PYTHONMALLOC=..", "" if absent */
} trace;

static void tp_die(size_t line, const char *what) {
    fprintf(stderr, "memtrace: line %zu: %s\n", line, what);
    exit(1);
}

/* Grows an mmap'd array to hold at least need elements of size el. */
static void *tp_grow(void *p, size_t *cap, size_t need, size_t el) {
    if (need <= *cap) return p;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need) ncap *= 2;
    void *q = p ? mremap(p, *cap * el, ncap * el, MREMAP_MAYMOVE)
                : mmap(NULL, ncap * el, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) { fprintf(stderr, "memtrace: out of memory\n"); exit(1); }
    *cap = ncap;
    return q;
}

/* Reads a file (or "-" for stdin) into mmap'd memory, NUL-terminated. */
static char *tp_read_all(const char *path, size_t *len, size_t *mapped) {
    int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY);
    if (fd < 0) { fprintf(stderr, "memtrace: cannot open %s\n", path); exit(1); }
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        buf = tp_grow(buf, &cap, n + (1 << 20) + 1, 1);
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0) { fprintf(stderr, "memtrace: cannot read %s\n", path); exit(1); }
        if (got == 0) break;
        n += (size_t)got;
    }
    if (fd) close(fd);
    buf[n] = 0;
    *len = n;
    *mapped = cap;
    return buf;
}

static const char *tp_sp(const char *p, size_t line) {
    if (*p != ' ') tp_die(line, "expected a space");
    return p + 1;
}

static const char *tp_dec(const char *p, uint64_t *out, size_t line) {
    if (*p < '0' || *p > '9') tp_die(line, "expected a decimal number");
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    *out = v;
    return p;
}

static const char *tp_hex(const char *p, uint64_t *out, size_t line) {
    if (p[0] != '0' || p[1] != 'x') tp_die(line, "expected a 0x pointer");
    p += 2;
    uint64_t v = 0;
    int digits = 0;
    for (;; p++, digits++) {
        char c = *p;
        if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
        else break;
    }
    if (!digits) tp_die(line, "expected hex digits after 0x");
    *out = v;
    return p;
}

static const char *tp_dom(const char *p, uint8_t *dom, size_t line) {
    if (!strncmp(p, "raw", 3)) *dom = D_RAW;
    else if (!strncmp(p, "mem", 3)) *dom = D_MEM;
    else if (!strncmp(p, "obj", 3)) *dom = D_OBJ;
    else if (!strncmp(p, "libc", 4)) { *dom = D_LIBC; return p + 4; }
    else tp_die(line, "unknown domain");
    return p + 3;
}

static void tp_parse(trace *t, char *text, size_t len) {
    size_t line = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        *nl = 0;
        const char *q = p;
        event e = { 0 };
        switch (*q) {
        case '#':
            if (!strncmp(q, "# heap-start ", 13)) tp_hex(q + 13, &t->heap_start, line);
            else if (!strncmp(q, "# malloc_trim ", 14) || !strncmp(q, "# mallopt ", 10)) {
                control c = { 0 };
                long long r;
                c.mallopt = q[7] == 'p'; /* "# mallopt", not "# malloc_trim" */
                c.before = t->n_events;
                if (c.mallopt ? sscanf(q + 10, "%lld %lld %lld", &c.a, &c.b, &r) != 3 : sscanf(q + 14, "%lld %lld", &c.a, &r) != 2)
                    tp_die(line, "expected # malloc_trim <pad> <result> or # mallopt <param> <value> <result>");
                t->controls = tp_grow(t->controls, &t->cap_controls, t->n_controls + 1, sizeof(control));
                t->controls[t->n_controls++] = c;
            }
            else if (!strncmp(q, "# env PYTHONMALLOC=", 19)) {
                strncpy(t->pythonmalloc, q + 19, sizeof t->pythonmalloc - 1);
                t->pythonmalloc[sizeof t->pythonmalloc - 1] = 0;
            }
            goto next;
        case 0: case 'w': goto next; /* blank lines; writes (no bytes to write natively) */
        case 't': case 'n': case 'x': goto next; /* thread records: a native replay runs on one thread */
        case 'm':
            e.op = OP_MALLOC;
            q = tp_dom(tp_sp(q + 1, line), &e.dom, line);
            q = tp_dec(tp_sp(q, line), &e.a, line);
            q = tp_hex(tp_sp(q, line), &e.d, line);
            break;
        case 'c':
            e.op = OP_CALLOC;
            q = tp_dom(tp_sp(q + 1, line), &e.dom, line);
            q = tp_dec(tp_sp(q, line), &e.a, line);
            q = tp_dec(tp_sp(q, line), &e.b, line);
            q = tp_hex(tp_sp(q, line), &e.d, line);
            break;
        case 'r':
            e.op = OP_REALLOC;
            q = tp_dom(tp_sp(q + 1, line), &e.dom, line);
            q = tp_hex(tp_sp(q, line), &e.c, line);
            q = tp_dec(tp_sp(q, line), &e.a, line);
            q = tp_hex(tp_sp(q, line), &e.d, line);
            break;
        case 'f':
            e.op = OP_FREE;
            q = tp_dom(tp_sp(q + 1, line), &e.dom, line);
            q = tp_hex(tp_sp(q, line), &e.c, line);
            break;
        case 'a':
            e.op = OP_MEMALIGN;
            q = tp_dom(tp_sp(q + 1, line), &e.dom, line);
            q = tp_dec(tp_sp(q, line), &e.b, line);
            q = tp_dec(tp_sp(q, line), &e.a, line);
            q = tp_hex(tp_sp(q, line), &e.d, line);
            break;
        case 'A': {
            uint64_t size, addr;
            q = tp_dec(tp_sp(q + 1, line), &size, line);
            q = tp_hex(tp_sp(q, line), &addr, line);
            t->arenas = tp_grow(t->arenas, &t->cap_arenas, t->n_arenas + 1, sizeof(uint64_t));
            t->arenas[t->n_arenas++] = addr;
            goto next;
        }
        case 'D': goto next;
        default: tp_die(line, "unknown event");
        }
        if (*q != 0) tp_die(line, "unexpected text after the last field");
        t->events = tp_grow(t->events, &t->cap_events, t->n_events + 1, sizeof(event));
        t->events[t->n_events++] = e;
    next:
        p = nl + 1;
    }
}

/* Reads and parses a trace file; the text is unmapped afterwards. */
static void tp_load(trace *t, const char *path) {
    size_t len, mapped;
    char *text = tp_read_all(path, &len, &mapped);
    memset(t, 0, sizeof *t);
    tp_parse(t, text, len);
    munmap(text, mapped);
}

#endif
