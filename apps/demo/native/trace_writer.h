/*
 * trace_writer.h: a small, fast, buffered writer of memtrace v1 lines.
 *
 * Shared by the CPython recorder and the libc LD_PRELOAD shim. It never calls
 * malloc (the buffer is static) and writes with write(2), so it is safe to use
 * from inside an allocator hook.
 */
#ifndef MEMTRACE_TRACE_WRITER_H
#define MEMTRACE_TRACE_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#define TW_BUFSIZE (1u << 20)

typedef struct {
    int fd;            /* -1 = closed */
    size_t len;        /* bytes pending in buf */
    int unbuffered;    /* flush after every line (after the destructor ran) */
    pid_t owner;       /* when non-zero, only this process writes (a forked child drops its copy) */
    char buf[TW_BUFSIZE];
} trace_writer;

static void tw_flush(trace_writer *w) {
    size_t off = 0;
    if (w->owner && getpid() != w->owner) {
        w->fd = -1;
        w->len = 0;
        return;
    }
    while (off < w->len && w->fd >= 0) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        off += (size_t)n;
    }
    w->len = 0;
}

/* Make room for at least n bytes. */
static inline char *tw_reserve(trace_writer *w, size_t n) {
    if (w->len + n > TW_BUFSIZE) tw_flush(w);
    return w->buf + w->len;
}

static inline char *tw_dec(char *p, uint64_t v) {
    char tmp[24];
    int i = 0;
    do { tmp[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) *p++ = tmp[--i];
    return p;
}

static inline char *tw_hex(char *p, uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    char tmp[20];
    int i = 0;
    *p++ = '0';
    *p++ = 'x';
    do { tmp[i++] = digits[v & 15]; v >>= 4; } while (v);
    while (i) *p++ = tmp[--i];
    return p;
}

static inline char *tw_str(char *p, const char *s) {
    while (*s) *p++ = *s++;
    return p;
}

static inline void tw_commit(trace_writer *w, char *end) {
    w->len = (size_t)(end - w->buf);
    if (w->unbuffered) tw_flush(w);
}

/* A line of free text (a comment when it starts with "# "); s must not contain newlines. */
static void tw_line(trace_writer *w, const char *s) {
    size_t n = strlen(s);
    if (n + 1 > TW_BUFSIZE) return;
    char *p = tw_reserve(w, n + 1);
    memcpy(p, s, n);
    p[n] = '\n';
    tw_commit(w, p + n + 1);
}

/* Event writers. op is one of m c r f a; dom is "raw", "mem", "obj" or "libc". */
static inline void tw_malloc(trace_writer *w, const char *dom, uint64_t size, uint64_t res) {
    char *p = tw_reserve(w, 80);
    *p++ = 'm'; *p++ = ' ';
    p = tw_str(p, dom); *p++ = ' ';
    p = tw_dec(p, size); *p++ = ' ';
    p = tw_hex(p, res); *p++ = '\n';
    tw_commit(w, p);
}

static inline void tw_calloc(trace_writer *w, const char *dom, uint64_t n, uint64_t el, uint64_t res) {
    char *p = tw_reserve(w, 100);
    *p++ = 'c'; *p++ = ' ';
    p = tw_str(p, dom); *p++ = ' ';
    p = tw_dec(p, n); *p++ = ' ';
    p = tw_dec(p, el); *p++ = ' ';
    p = tw_hex(p, res); *p++ = '\n';
    tw_commit(w, p);
}

static inline void tw_realloc(trace_writer *w, const char *dom, uint64_t ptr, uint64_t size, uint64_t res) {
    char *p = tw_reserve(w, 100);
    *p++ = 'r'; *p++ = ' ';
    p = tw_str(p, dom); *p++ = ' ';
    p = tw_hex(p, ptr); *p++ = ' ';
    p = tw_dec(p, size); *p++ = ' ';
    p = tw_hex(p, res); *p++ = '\n';
    tw_commit(w, p);
}

static inline void tw_free(trace_writer *w, const char *dom, uint64_t ptr) {
    char *p = tw_reserve(w, 60);
    *p++ = 'f'; *p++ = ' ';
    p = tw_str(p, dom); *p++ = ' ';
    p = tw_hex(p, ptr); *p++ = '\n';
    tw_commit(w, p);
}

static inline void tw_memalign(trace_writer *w, const char *dom, uint64_t align, uint64_t size, uint64_t res) {
    char *p = tw_reserve(w, 100);
    *p++ = 'a'; *p++ = ' ';
    p = tw_str(p, dom); *p++ = ' ';
    p = tw_dec(p, align); *p++ = ' ';
    p = tw_dec(p, size); *p++ = ' ';
    p = tw_hex(p, res); *p++ = '\n';
    tw_commit(w, p);
}

static inline void tw_arena_alloc(trace_writer *w, uint64_t size, uint64_t res) {
    char *p = tw_reserve(w, 60);
    *p++ = 'A'; *p++ = ' ';
    p = tw_dec(p, size); *p++ = ' ';
    p = tw_hex(p, res); *p++ = '\n';
    tw_commit(w, p);
}

static inline void tw_arena_free(trace_writer *w, uint64_t ptr, uint64_t size) {
    char *p = tw_reserve(w, 60);
    *p++ = 'D'; *p++ = ' ';
    p = tw_hex(p, ptr); *p++ = ' ';
    p = tw_dec(p, size); *p++ = '\n';
    tw_commit(w, p);
}

/* "# <word> <hex> <dec>" style comment built without stdio. */
static inline void tw_comment_ptr(trace_writer *w, const char *what, uint64_t ptr, uint64_t size) {
    char *p = tw_reserve(w, 160);
    *p++ = '#'; *p++ = ' ';
    p = tw_str(p, what); *p++ = ' ';
    p = tw_hex(p, ptr); *p++ = ' ';
    p = tw_dec(p, size); *p++ = '\n';
    tw_commit(w, p);
}

#endif
