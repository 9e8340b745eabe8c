/*
 * proc_self.h: small reads of this process's /proc/self files, with open/read on the caller's
 * buffer (no malloc: safe inside the shim). Shared by memtrace_libc.c, memtrace_python.c,
 * memtrace_libc_check.c and rss_sample.h.
 *
 *   proc_self_read("status", buf, n)   the file's first n-1 bytes, NUL-terminated
 *   proc_decimal(p)                    the decimal digits at p (RssAnon's kB, a field of stat)
 *   read_start_brk()                   the initial program break: start_brk, field 47 of
 *                                      /proc/self/stat, where glibc's main heap begins (the
 *                                      recorders' "# heap-start", the checker's own heap start)
 *
 *   /proc/self/stat:  <pid> (<comm>) <state> <field 4> ... <field 47: start_brk> ...
 *                                  ^ the last ')': comm may hold spaces and parentheses
 */
#ifndef MEMTRACE_PROC_SELF_H
#define MEMTRACE_PROC_SELF_H

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Reads /proc/self/<name> (one read) into buf, NUL-terminated; the bytes read, 0 when none. */
static size_t proc_self_read(const char *name, char *buf, size_t size) {
    char path[64] = "/proc/self/"; /* no snprintf: also called from the recorders' signal handlers */
    size_t len = strlen(name);
    if (len > sizeof path - 12) return 0;
    memcpy(path + 11, name, len + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    return (size_t)n;
}

/* The decimal number whose digits start at p (0 when none). */
static uint64_t proc_decimal(const char *p) {
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

/* start_brk of /proc/self/stat, or 0 when it cannot be read. */
static uint64_t read_start_brk(void) {
    char buf[4096];
    if (proc_self_read("stat", buf, sizeof buf) == 0) return 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p += 2; /* field 3 starts here */
    for (int field = 3; field < 47 && *p; field++) {
        p = strchr(p, ' ');
        if (!p) return 0;
        p++;
    }
    return proc_decimal(p);
}

#endif
