/*
 * fork and copy-on-write on the real kernel: prints RssAnon and minor faults of parent and child
 * around writes to 64 private pages (test/fork.test.ts compares the simulator with the output,
 * recorded in test/fixtures/forkcow.txt). Build: gcc -O1 -o forkcow forkcow.c
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
static char line[256];
static long rssAnon(void) { FILE *f = fopen("/proc/self/status", "r"); long v = -1; while (fgets(line, sizeof line, f)) if (!strncmp(line, "RssAnon:", 8)) sscanf(line + 8, "%ld", &v); fclose(f); return v; }
static long minflt(void) { struct rusage ru; getrusage(RUSAGE_SELF, &ru); return ru.ru_minflt; }
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  rssAnon(); minflt(); /* warm up the code paths */
  char *p = mmap(0, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long f0 = minflt(), r0 = rssAnon();
  for (int i = 0; i < 64; i++) p[i * 4096] = 1;
  printf("parent write 64: minflt %+ld RssAnon %+ld\n", minflt() - f0, rssAnon() - r0);
  long before = rssAnon();
  pid_t pid = fork();
  if (pid == 0) {
    long cr = rssAnon(), cf = minflt();
    printf("child after fork: RssAnon minus the parent's %+ld\n", cr - before);
    for (int i = 0; i < 32; i++) p[i * 4096] = 2;
    printf("child write 32: minflt %+ld RssAnon %+ld\n", minflt() - cf, rssAnon() - cr);
    long cf2 = minflt();
    for (int i = 32; i < 64; i++) (void)*(volatile char *)&p[i * 4096];
    printf("child read 32: minflt %+ld\n", minflt() - cf2);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  long pf = minflt(), pr = rssAnon();
  for (int i = 0; i < 64; i++) p[i * 4096] = 3;
  printf("parent write 64 after child exit: minflt %+ld RssAnon %+ld\n", minflt() - pf, rssAnon() - pr);
  return 0;
}
