/*
 * Runs a memory-syscall script (test/scripts/*.vm) on the real kernel and prints what happened,
 * so the simulator can be checked against it. No stdio or malloc: the process's own heap and
 * mappings stay as the loader left them. Build: gcc -O1 -o vmscript vmscript.c; run under
 * `setarch -R` (no randomisation).
 *
 * Script lines (one per step, '#' comments):
 *   mmap ADDR LEN PROT FLAGS | munmap ADDR LEN | mprotect ADDR LEN PROT | madvise ADDR LEN ADVICE
 *   mremap OLD OLDLEN NEWLEN FLAGS [NEWADDR]
 *   brk ADDR | sbrk INCREMENT | write ADDR LEN | read ADDR LEN | maps | smaps | status | statm | faults
 * ADDR is a number (decimal or 0x hex) or $N[+-OFFSET]: the result of step N (0-based).
 * Output: "= RESULT" (hex) or "= -1 ERRNAME" per syscall, "= ok" for accesses, and the
 * /proc/self/maps or status lines (between "maps {" / "}" and "status {" / "}").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static char input[1 << 16];
static long results[4096];
static char out[1 << 16];
static int outlen;

static void flush(void) { write(1, out, outlen); outlen = 0; }
static void puts_(const char *s) { while (*s) { if (outlen == sizeof out) flush(); out[outlen++] = *s++; } }
/* (the maps and status dumps go through `out` too; flushed after every step) */
static void hexnum(unsigned long v) { char b[32]; int n = 0; do { b[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v); puts_("0x"); while (n) { char c[2] = { b[--n], 0 }; puts_(c); } }
static void decnum(long v) { char b[32]; int n = 0; if (v < 0) { puts_("-"); v = -v; } do { b[n++] = '0' + v % 10; v /= 10; } while (v); while (n) { char c[2] = { b[--n], 0 }; puts_(c); } }
static const char *errname(int e) {
  switch (e) { case EPERM: return "EPERM"; case ENOMEM: return "ENOMEM"; case EINVAL: return "EINVAL"; case EEXIST: return "EEXIST";
  case EACCES: return "EACCES"; case EBADF: return "EBADF"; case EOPNOTSUPP: return "EOPNOTSUPP"; case EFAULT: return "EFAULT"; default: return "E?"; }
}
static char *skip(char *p) { while (*p == ' ' || *p == '\t') p++; return p; }
static long number(char **pp) {
  char *p = skip(*pp); long sign = 1, v = 0;
  if (*p == '$') { p++; long n = 0; while (*p >= '0' && *p <= '9') n = n * 10 + (*p++ - '0'); v = results[n];
    if (*p == '+' || *p == '-') { long s = *p == '-' ? -1 : 1; p++; char *q = p; v += s * number(&q); p = q; } *pp = p; return v; }
  if (*p == '-') { sign = -1; p++; }
  if (p[0] == '0' && p[1] == 'x') { p += 2; for (;;) { char c = *p; if (c >= '0' && c <= '9') v = v * 16 + c - '0'; else if (c >= 'a' && c <= 'f') v = v * 16 + c - 'a' + 10; else break; p++; } }
  else while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  *pp = p; return sign * v;
}
static char buf[1 << 16];
static void dump(const char *path, int statusOnly) {
  int fd = open(path, O_RDONLY); long n, total = 0;
  while ((n = read(fd, buf + total, sizeof buf - 1 - total)) > 0) total += n; close(fd); buf[total] = 0;
  char *line = buf;
  while (*line) { char *end = strchr(line, '\n'); if (!end) break; *end = 0;
    if (!statusOnly || (line[0] == 'V' && line[1] == 'm') || (line[0] == 'R' && line[1] == 's') || !strncmp(line, "HugetlbPages", 12)) { puts_(line); puts_("\n"); }
    line = end + 1; }
}
int main(void) {
  long n, total = 0;
  /* Touch the recorder's own buffers first, so that its RSS does not change while a script runs. */
  memset(buf, 1, sizeof buf); memset(out, 1, sizeof out); memset(results, 1, sizeof results);
  while ((n = read(0, input + total, sizeof input - 1 - total)) > 0) total += n;
  input[total] = 0;
  char *line = input; int step = 0;
  struct rusage ru; getrusage(RUSAGE_SELF, &ru); long lastflt = ru.ru_minflt;
  while (*line) {
    char *end = strchr(line, '\n'); if (end) *end = 0;
    char *p = skip(line);
    if (*p && *p != '#') {
      char op[16]; int k = 0; while (*p && *p != ' ' && k < 15) op[k++] = *p++; op[k] = 0;
      long r = 0; int e = 0, sys = 1;
      if (!strcmp(op, "mmap")) { long a = number(&p), l = number(&p), pr = number(&p), f = number(&p); void *v = mmap((void *)a, l, pr, f, -1, 0); r = (long)v; if (v == MAP_FAILED) e = errno; }
      else if (!strcmp(op, "munmap")) { long a = number(&p), l = number(&p); r = munmap((void *)a, l); if (r) e = errno; }
      else if (!strcmp(op, "mprotect")) { long a = number(&p), l = number(&p), pr = number(&p); r = mprotect((void *)a, l, pr); if (r) e = errno; }
      else if (!strcmp(op, "madvise")) { long a = number(&p), l = number(&p), ad = number(&p); r = madvise((void *)a, l, ad); if (r) e = errno; }
      else if (!strcmp(op, "mremap")) { long a = number(&p), ol = number(&p), nl = number(&p), f = number(&p), na = number(&p); void *v = mremap((void *)a, ol, nl, f, (void *)na); r = (long)v; if (v == MAP_FAILED) e = errno; }
      else if (!strcmp(op, "brk")) { long a = number(&p); r = syscall(SYS_brk, a); }
      else if (!strcmp(op, "sbrk")) { long i = number(&p); void *v = sbrk(i); r = (long)v; if (v == (void *)-1) e = errno; }
      else if (!strcmp(op, "write")) { char *a = (char *)number(&p); long l = number(&p); memset(a, 1, l); sys = 0; }
      else if (!strcmp(op, "read")) { volatile char *a = (char *)number(&p); long l = number(&p); long s = 0; for (long i = 0; i < l; i += 4096) s += a[i]; (void)s; sys = 0; }
      else if (!strcmp(op, "maps")) { puts_("maps {\n"); dump("/proc/self/maps", 0); puts_("}\n"); sys = 2; }
      else if (!strcmp(op, "status")) { puts_("status {\n"); dump("/proc/self/status", 1); puts_("}\n"); sys = 2; }
      else if (!strcmp(op, "smaps")) { puts_("smaps {\n"); dump("/proc/self/smaps", 0); puts_("}\n"); sys = 2; }
      else if (!strcmp(op, "statm")) { puts_("statm "); dump("/proc/self/statm", 0); sys = 2; }
      else if (!strcmp(op, "faults")) { getrusage(RUSAGE_SELF, &ru); puts_("faults "); decnum(ru.ru_minflt - lastflt); puts_("\n"); lastflt = ru.ru_minflt; sys = 2; }
      else { puts_("? "); puts_(op); puts_("\n"); sys = 2; }
      results[step] = r;
      if (sys == 1) { puts_("= "); if (e) { puts_("-1 "); puts_(errname(e)); } else hexnum(r); puts_("\n"); }
      else if (sys == 0) { puts_("= ok\n"); }
      step++;
      flush(); /* output goes out step by step: the buffer's pages stay the same few */
    }
    if (!end) break; line = end + 1;
  }
  flush();
  return 0;
}
