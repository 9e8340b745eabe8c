/*
 * start_brk.h: the initial program break of this process (start_brk, field 47 of
 * /proc/self/stat), where glibc's main heap begins: the recorders' "# heap-start" and the
 * placement checker's own heap start. Shared by memtrace_libc.c, memtrace_python.c and
 * memtrace_libc_check.c. No malloc (open/read on a stack buffer): safe inside the shim.
 *
 *   /proc/self/stat:  <pid> (<comm>) <state> <field 4> ... <field 47: start_brk> ...
 *                                  ^ the last ')': comm may hold spaces and parentheses
 */
#ifndef MEMTRACE_START_BRK_H
#define MEMTRACE_START_BRK_H

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* start_brk of /proc/self/stat, or 0 when it cannot be read. */
static uint64_t read_start_brk(void) {
    char buf[4096];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p += 2; /* field 3 starts here */
    for (int field = 3; field < 47 && *p; field++) {
        p = strchr(p, ' ');
        if (!p) return 0;
        p++;
    }
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

#endif
