/* Committed_AS changes for PROT_NONE reservations made writable, with and without MAP_NORESERVE.
 * Recorded on Linux 6.18 (overcommit_memory=0): "noreserve map +0 mprotect +0 | plain PROT_NONE map +0 mprotect +524288"
 * (test/overcommit.test.ts). Build: gcc -o commit commit.c */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
static long committed(void){FILE*f=fopen("/proc/meminfo","r");char l[256];long v=-1;while(fgets(l,256,f))if(!strncmp(l,"Committed_AS:",13))sscanf(l+13,"%ld",&v);fclose(f);return v;}
int main(){long a=committed();char*p=mmap(0,1L<<30,PROT_NONE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE,-1,0);long b=committed();
mprotect(p,512L<<20,PROT_READ|PROT_WRITE);long c=committed();
char*q=mmap(0,1L<<30,PROT_NONE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);long d=committed();mprotect(q,512L<<20,PROT_READ|PROT_WRITE);long e=committed();
printf("noreserve map %+ld mprotect %+ld | plain PROT_NONE map %+ld mprotect %+ld\n",b-a,c-b,d-c,e-d);}
