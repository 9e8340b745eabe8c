/*
 * glibc malloc script driver: runs a script of allocator calls against the real glibc and
 * prints each result as an offset from the heap start (sbrk(0) before the first malloc),
 * followed by mallinfo2() and the program break. The simulator's tests replay the same
 * scripts and must print the same lines.
 *
 * Nothing here allocates behind malloc's back: the script is read with read(2), output is
 * written with write(2) (stdout's stdio buffer would itself be a heap chunk), and stderr is
 * made the same file as stdout so that malloc_stats() and abort messages appear in order.
 *
 * Script lines (numbers are decimal or 0x-hex; IDs are slots 0..4095):
 *   m ID SIZE            malloc              c ID N SIZE          calloc
 *   r ID OLD SIZE        realloc(slot OLD)   f ID                 free
 *   a ID ALIGN SIZE      memalign            p ID ALIGN SIZE      posix_memalign
 *   u ID                 malloc_usable_size  o PARAM VALUE        mallopt
 *   t PAD                malloc_trim         s                    malloc_stats
 *   I                    malloc_info(0, stderr) (stderr is unbuffered: no heap allocation)
 *   w ID OFFSET VALUE    store the 64-bit VALUE at slot+OFFSET (OFFSET may be negative)
 *   F OFFSET             free(heap start + OFFSET)  (bad-pointer experiments)
 *   B INCREMENT          sbrk(INCREMENT) behind malloc's back
 *   W ID OFFSET SRC SOFF store the pointer slot[SRC]+SOFF at slot[ID]+OFFSET
 *   X ID OFFSET VALUE    store VALUE safe-linked at slot+OFFSET: ((slot+OFFSET) >> 12) ^ VALUE
 *   d ID OFFSET N        dump N bytes (hex) at slot+OFFSET, also of freed blocks
 *   q                    toggle the state suffix (mallinfo2 walks fastbins: a cycle hangs it)
 *   # ...                comment (echoed)
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char script[1 << 20];
static void *slot[4096];
static uintptr_t heap;
static char out[256];
static int outn;
static int quiet;

static void put(const char *s) { while (*s) out[outn++] = *s++; }
static void hex(uint64_t v) {
  char t[20]; int n = 0;
  put("0x");
  do { t[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  while (n) out[outn++] = t[--n];
}
static void dec(uint64_t v) {
  char t[24]; int n = 0;
  do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) out[outn++] = t[--n];
}
static void flush(void) { out[outn++] = '\n'; write(1, out, outn); outn = 0; }

static void pointer(void *p, int err) {
  if (p == NULL) { put("null errno="); dec((uint64_t)err); return; }
  uint64_t field = ((uint64_t *)p)[-1];
  /* an mmapped chunk's address is the kernel's choice (and memalign's lead depends on it):
     print the length of its mapping, prev_size + size, with the flag bits */
  if (field & 2) { put("mmap mapped="); hex(((uint64_t *)p)[-2] + field); return; }
  put("+"); hex((uintptr_t)p - heap);
  put(" size="); hex(field);
}

static void state(void) {
  struct mallinfo2 mi = mallinfo2();
  put("  | brk=+"); hex((uintptr_t)sbrk(0) - heap);
  put(" arena="); dec(mi.arena); put(" ordblks="); dec(mi.ordblks);
  put(" smblks="); dec(mi.smblks); put(" hblks="); dec(mi.hblks);
  put(" hblkhd="); dec(mi.hblkhd); put(" fsmblks="); dec(mi.fsmblks);
  put(" uordblks="); dec(mi.uordblks); put(" fordblks="); dec(mi.fordblks);
  put(" keepcost="); dec(mi.keepcost);
}

int main(void) {
  dup2(1, 2);
  heap = (uintptr_t)sbrk(0);
  size_t len = 0;
  ssize_t n;
  while ((n = read(0, script + len, sizeof script - 1 - len)) > 0) len += (size_t)n;
  script[len] = 0;
  char *line = script;
  while (*line) {
    char *end = strchr(line, '\n');
    if (end) *end = 0;
    char op = line[0];
    char *cur = line + 1;
    uint64_t a = strtoull(cur, &cur, 0);
    uint64_t b = strtoull(cur, &cur, 0);
    uint64_t c = strtoull(cur, &cur, 0);
    int64_t sb = strtoll(line + 1, NULL, 0);
    if (op == '#' || op == 0) { if (op) { put(line); flush(); } goto next; }
    put(line); put(" -> ");
    errno = 0;
    switch (op) {
    case 'm': slot[a] = malloc(b); pointer(slot[a], errno); break;
    case 'c': slot[a] = calloc(b, c); pointer(slot[a], errno); break;
    case 'r': slot[a] = realloc(slot[b], c); pointer(slot[a], errno); break;
    case 'f': free(slot[a]); put("ok"); break;
    case 'a': slot[a] = memalign(b, c); pointer(slot[a], errno); break;
    case 'p': {
      void *p = NULL;
      int r = posix_memalign(&p, b, c);
      put("ret="); dec((uint64_t)r); put(" ");
      if (r == 0) slot[a] = p;
      pointer(r == 0 ? p : NULL, r);
      break;
    }
    case 'u': put("usable="); dec(malloc_usable_size(slot[a])); break;
    case 'o': { /* mallopt params are negative ints: re-parse signed */
      char *q = line + 1;
      long param = strtol(q, &q, 0);
      long value = strtol(q, &q, 0);
      put("ret="); dec((uint64_t)mallopt((int)param, (int)value));
      break;
    }
    case 't': put("ret="); dec((uint64_t)malloc_trim(a)); break;
    case 's': flush(); malloc_stats(); put("stats done"); break;
    case 'I': flush(); malloc_info(0, stderr); put("info done"); break;
    case 'w': {
      char *q = line + 1;
      long id = strtol(q, &q, 0);
      long off = strtol(q, &q, 0);
      uint64_t v = strtoull(q, &q, 0);
      *(uint64_t *)((char *)slot[id] + off) = v;
      put("ok");
      break;
    }
    case 'B': sbrk((intptr_t)sb); put("ok"); break;
    case 'F': free((void *)(heap + (uintptr_t)sb)); put("ok"); break;
    case 'W': {
      char *q = line + 1;
      long id = strtol(q, &q, 0);
      long off = strtol(q, &q, 0);
      long src = strtol(q, &q, 0);
      long soff = strtol(q, &q, 0);
      *(uint64_t *)((char *)slot[id] + off) = (uint64_t)((char *)slot[src] + soff);
      put("ok");
      break;
    }
    case 'X': {
      char *q = line + 1;
      long id = strtol(q, &q, 0);
      long off = strtol(q, &q, 0);
      uint64_t v = strtoull(q, &q, 0);
      uint64_t *at = (uint64_t *)((char *)slot[id] + off);
      *at = ((uint64_t)at >> 12) ^ v;
      put("ok");
      break;
    }
    case 'd': {
      char *q = line + 1;
      long id = strtol(q, &q, 0);
      long off = strtol(q, &q, 0);
      long cnt = strtol(q, &q, 0);
      const unsigned char *bytes = (const unsigned char *)slot[id] + off;
      for (long i = 0; i < cnt && i < 32; i++) {
        out[outn++] = "0123456789abcdef"[bytes[i] >> 4];
        out[outn++] = "0123456789abcdef"[bytes[i] & 15];
      }
      break;
    }
    case 'q': quiet = !quiet; put("ok"); break;
    default: put("?"); break;
    }
    if (!quiet) state();
    flush();
  next:
    if (!end) break;
    line = end + 1;
  }
  return 0;
}
