/* Fills memory 1 MiB at a time until the OOM killer ends it. Run in a memory cgroup (v1) limited to 32 MiB:
 *   mkdir $CG/oomt; echo 33554432 > $CG/oomt/memory.limit_in_bytes
 *   sh -c "echo \$\$ > $CG/oomt/cgroup.procs; exec ./oom"; echo $?   # 137
 *   dmesg | grep -e "invoked oom-killer" -e "Killed process"; rmdir $CG/oomt
 * Recorded in fixtures/oom-memcg.txt (Linux 6.18, as root). */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
int main(void){ for(;;){ char*p=malloc(1<<20); if(!p){puts("NULL");return 1;} memset(p,1,1<<20);} }
