/*
 * heap_workout: a small C program whose malloc calls exercise the paths of
 * glibc's allocator that a simulator has to reproduce, deterministically:
 *
 *   phase 1  many small blocks (tcache and fastbin sizes), freed in a stride
 *            pattern so that tcache bins fill up and fastbins take the rest;
 *   phase 2  small-bin and large-bin sizes, freed so that neighbours coalesce
 *            and the unsorted bin is sorted into bins;
 *   phase 3  realloc growing and shrinking a buffer, in place and moving;
 *   phase 4  calloc, memalign, posix_memalign, aligned_alloc, valloc;
 *   phase 5  blocks above the mmap threshold (128 KiB), freed, which raises the
 *            dynamic threshold, then the same size again (now from the heap);
 *   phase 6  everything freed, so that the top chunk grows back.
 *
 * usage: heap_workout [rounds]   (default 3)
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t seed = 12345;

/* A fixed linear congruential generator: the same calls on every run. */
static uint32_t next_random(void) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) & 0xffffff;
}

#define SMALL 600
#define MEDIUM 120

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    size_t checksum = 0;
    for (int round = 0; round < rounds; round++) {
        /* phase 1 */
        char *small[SMALL];
        for (int i = 0; i < SMALL; i++) {
            size_t n = 8 + next_random() % 120;
            small[i] = malloc(n);
            memset(small[i], i & 0xff, n);
        }
        for (int stride = 3; stride >= 1; stride--)
            for (int i = 0; i < SMALL; i += stride)
                if (small[i]) { free(small[i]); small[i] = NULL; }

        /* phase 2 */
        char *medium[MEDIUM];
        for (int i = 0; i < MEDIUM; i++) {
            size_t n = 1024 + next_random() % 6000;
            medium[i] = malloc(n);
            medium[i][0] = (char)i;
        }
        for (int i = 0; i < MEDIUM; i += 2) { free(medium[i]); medium[i] = NULL; }
        char *probe = malloc(3000); /* served from the unsorted/small bins */
        for (int i = 1; i < MEDIUM; i += 2) { free(medium[i]); medium[i] = NULL; }

        /* phase 3 */
        char *buf = NULL;
        size_t len = 0;
        for (int i = 0; i < 40; i++) {
            size_t want = i < 30 ? (size_t)(i + 1) * 700 : (size_t)(40 - i) * 300;
            char *nbuf = realloc(buf, want);
            if (!nbuf) break;
            if (want > len) memset(nbuf + len, 'x', want - len);
            buf = nbuf;
            len = want;
        }
        checksum += (size_t)buf[0];

        /* phase 4 */
        int *zeros = calloc(250, sizeof(int));
        void *a64 = memalign(64, 200);
        void *a4k = NULL;
        if (posix_memalign(&a4k, 4096, 5000) != 0) a4k = NULL;
        void *a256 = aligned_alloc(256, 1024);
        void *page = valloc(100);
        checksum += (size_t)zeros[7];

        /* phase 5 */
        char *big = malloc(200 * 1024);
        big[0] = 1;
        free(big);
        big = malloc(200 * 1024);
        big[1] = 2;

        /* phase 6 */
        free(big);
        free(page);
        free(a256);
        free(a4k);
        free(a64);
        free(zeros);
        free(buf);
        free(probe);
    }
    printf("heap_workout: %d rounds, checksum %zu\n", rounds, checksum);
    return 0;
}
