/*
 * pymalloc_probe: drives the real pymalloc of a CPython shared library directly, without
 * starting the interpreter (PyObject_Malloc works before Py_Initialize in 3.8 .. 3.11,
 * whose pymalloc state is static), so that nothing but the scripted calls touches it.
 *
 *   probe trace  < script   runs the script, writes a memtrace v1 trace of the calls
 *                           (with A/D lines from a logging arena allocator) to stdout and
 *                           the real _PyObject_DebugMallocStats text to stderr; the
 *                           trace ends with "# allocated-blocks N" (sys.getallocatedblocks()).
 *   probe sizes N            prints the first N request sizes of the benchmark workload.
 *   probe bench N LIVE CHURN   runs the deterministic benchmark workload (the same
 *                           generator as bench/workload.ts) N times and prints the best
 *                           nanoseconds per operation.
 *
 * Script lines: "m <slot> <size>", "c <slot> <nelem> <elsize>", "r <slot> <size>",
 * "f <slot>" (slots index a table of live pointers).
 *
 * Built by the tests and the benchmark with: gcc -O2 pymalloc_probe.c $(python3-config --embed --cflags --ldflags)
 */
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

extern int _PyObject_DebugMallocStats(FILE *out);
extern Py_ssize_t _Py_GetAllocatedBlocks(void);

#define ARENA_LOG_MAX 4096
static FILE *trace_out = NULL;

static void *arena_alloc(void *ctx, size_t size) {
    (void)ctx;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (trace_out) fprintf(trace_out, "A %zu %p\n", size, p);
    return p;
}

static void arena_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    if (trace_out) fprintf(trace_out, "D %p %zu\n", ptr, size);
    munmap(ptr, size);
}

static void put_ptr(FILE *out, void *p) {
    if (p == NULL) fputs("0x0", out); else fprintf(out, "%p", p);
}

static int run_trace(void) {
    static void *slots[1 << 20];
    char line[256];
    trace_out = stdout;
    fputs("# memtrace v1\n# pymalloc_probe: direct PyObject_* calls, interpreter not started\n", stdout);
    while (fgets(line, sizeof line, stdin)) {
        unsigned long slot = 0, a = 0, b = 0;
        void *p;
        switch (line[0]) {
        case 'm':
            if (sscanf(line + 1, "%lu %lu", &slot, &a) != 2) return 2;
            p = PyObject_Malloc(a);
            slots[slot] = p;
            printf("m obj %lu ", a); put_ptr(stdout, p); putchar('\n');
            break;
        case 'c':
            if (sscanf(line + 1, "%lu %lu %lu", &slot, &a, &b) != 3) return 2;
            p = PyObject_Calloc(a, b);
            slots[slot] = p;
            printf("c obj %lu %lu ", a, b); put_ptr(stdout, p); putchar('\n');
            break;
        case 'r':
            if (sscanf(line + 1, "%lu %lu", &slot, &a) != 2) return 2;
            p = PyObject_Realloc(slots[slot], a);
            printf("r obj "); put_ptr(stdout, slots[slot]); printf(" %lu ", a); put_ptr(stdout, p); putchar('\n');
            if (p != NULL) slots[slot] = p;
            break;
        case 'f':
            if (sscanf(line + 1, "%lu", &slot) != 1) return 2;
            PyObject_Free(slots[slot]);
            printf("f obj "); put_ptr(stdout, slots[slot]); putchar('\n');
            slots[slot] = NULL;
            break;
        default:
            break;
        }
    }
    printf("# allocated-blocks %zd\n", _Py_GetAllocatedBlocks()); /* sys.getallocatedblocks() */
    fflush(stdout);
    _PyObject_DebugMallocStats(stderr);
    return 0;
}

/* ---- the benchmark workload: must match bench/workload.ts exactly ---------------------- */

static uint32_t rng_state;
static uint32_t next_random(void) {
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

/* Size classes weighted by the blocks in use of a freshly started CPython 3.11 (per mille,
 * from the capture in cpython-memory.md section 3.6). */
static const uint32_t CLASS_WEIGHTS[32] = {
    3, 32, 118, 360, 209, 43, 20, 33, 7, 75, 5, 6, 14, 13, 11, 7,
    7, 5, 4, 3, 3, 2, 3, 2, 7, 2, 1, 1, 1, 1, 1, 1,
};

static size_t next_size(void) {
    uint32_t r = next_random();
    if (r % 100 < 2) return 513 + (next_random() % 1536); /* 2 %: above the threshold */
    uint32_t pick = next_random() % 1000, acc = 0, cls = 0;
    for (cls = 0; cls < 31; cls++) { acc += CLASS_WEIGHTS[cls]; if (pick < acc) break; }
    return (cls + 1) * 16 - (next_random() % 16);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: robust on a shared machine */
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int run_bench(int rounds, uint32_t live, uint32_t churn) {
    void **table = calloc(live, sizeof(void *));
    size_t *sizes = calloc((size_t)live + churn, sizeof(size_t));
    uint32_t *victims = calloc(churn ? churn : 1, sizeof(uint32_t));
    double best = 1e300;
    uint64_t ops = (uint64_t)live * 2 + (uint64_t)churn * 2;
    /* the sequence is generated before the clock starts (bench/workload.ts does the same) */
    rng_state = 0x9e3779b9u;
    for (uint32_t i = 0; i < live; i++) sizes[i] = next_size();
    for (uint32_t i = 0; i < churn; i++) {
        victims[i] = next_random() % live;
        sizes[live + i] = next_size();
    }
    for (int round = 0; round < rounds; round++) {
        double t0 = now_ns();
        for (uint32_t i = 0; i < live; i++) table[i] = PyObject_Malloc(sizes[i]);
        for (uint32_t i = 0; i < churn; i++) {
            uint32_t k = victims[i];
            PyObject_Free(table[k]);
            table[k] = PyObject_Malloc(sizes[live + i]);
        }
        for (uint32_t i = 0; i < live; i++) PyObject_Free(table[i]);
        double t = now_ns() - t0;
        if (t < best) best = t;
    }
    printf("%.3f\n", best / (double)ops);
    free(table);
    free(sizes);
    free(victims);
    return 0;
}

int main(int argc, char **argv) {
    PyObjectArenaAllocator arena = {NULL, arena_alloc, arena_free};
    PyObject_SetArenaAllocator(&arena);
    if (argc >= 2 && strcmp(argv[1], "trace") == 0) return run_trace();
    if (argc >= 3 && strcmp(argv[1], "sizes") == 0) {
        rng_state = 0x9e3779b9u;
        for (long i = atol(argv[2]); i > 0; i--) printf("%zu\n", next_size());
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "bench") == 0)
        return run_bench(atoi(argv[2]), (uint32_t)strtoul(argv[3], NULL, 10), (uint32_t)strtoul(argv[4], NULL, 10));
    fprintf(stderr, "usage: %s trace < script | sizes N | bench ROUNDS LIVE CHURN\n", argv[0]);
    return 2;
}
