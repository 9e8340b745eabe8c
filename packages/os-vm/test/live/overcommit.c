/* 40 GiB requests on a 24 GiB machine without swap (Linux 6.18, glibc 2.36), under vm.overcommit_memory 0 and 2.
 * Recorded in fixtures/overcommit-enomem.txt. Mode 2 was set for the run and restored at once. */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
int main(void){
  size_t big = (size_t)40 << 30;
  errno = 0; void *m = mmap(0, big, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  printf("mmap %s errno=%d %s\n", m == MAP_FAILED ? "MAP_FAILED" : "ok", errno, strerror(errno));
  errno = 0; void *n = mmap(0, big, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0);
  printf("mmap NORESERVE %s errno=%d\n", n == MAP_FAILED ? "MAP_FAILED" : "ok", errno);
  errno = 0; void *b = sbrk((intptr_t)big);
  printf("sbrk %s errno=%d\n", b == (void*)-1 ? "-1" : "ok", errno);
  errno = 0; void *p = malloc(big);
  printf("malloc %p errno=%d\n", p, errno);
  errno = 0; void *q = malloc(200000); /* below the mmap threshold: brk path */
  printf("small malloc %s\n", q ? "ok" : "NULL");
  return 0;
}
