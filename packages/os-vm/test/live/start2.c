/* Prints /proc/self/maps at the start of main with no stdio or malloc: test/fixtures/start-maps.txt was
 * recorded with it (gcc -O0 -o start2 start2.c; setarch -R ./start2). */
#include <fcntl.h>
#include <unistd.h>
static void dump(const char*p){char buf[8192]; int fd=open(p,O_RDONLY); long n; while((n=read(fd,buf,sizeof buf))>0) write(1,buf,n); close(fd);}
int main(){ dump("/proc/self/maps"); return 0;}
