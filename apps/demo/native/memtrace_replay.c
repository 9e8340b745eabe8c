/*
 * memtrace_replay: replays a memtrace v1 trace natively through the real
 * PyMem_Raw* / PyMem_* / PyObject_* functions of the linked libpython (and libc's
 * malloc family for the libc domain), and reports the replay speed.
 *
 * usage: memtrace_replay [--stats <file>] [--repeat N] <trace | ->
 *
 *   1. the whole trace is read and parsed into an array first (not timed);
 *   2. the events are replayed (timed), each recorded pointer mapped to the
 *      pointer the real allocator returned now;
 *   3. it prints "events <n> seconds <s> events/s <rate>" and, with --stats,
 *      writes _PyObject_DebugMallocStats (the pymalloc section of
 *      sys._debugmallocstats()) of the replayed state.
 *
 * A trace recorded under PYTHONMALLOC (its "# env PYTHONMALLOC=" line) replays
 * under the same allocators (_PyMem_SetupAllocators). The interpreter is never initialised: pymalloc's state is static in 3.11, so
 * the replay runs on a fresh pymalloc with no other user. An arena allocator
 * installed with PyObject_SetArenaAllocator places the n-th arena at the same
 * offset modulo the pool size (16 KiB) as the n-th recorded `A` line, so that
 * 63/64-pool arenas and "bytes lost to arena alignment" match the recording.
 * With --repeat N the replay runs N times (freeing what is left after each
 * round, untimed) and the best round is reported.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "ptr_map.h"
PyAPI_FUNC(int) _PyObject_DebugMallocStats(FILE *out);

#include "trace_parse.h"

/* exported by libpython, declared in the internal header pycore_pymem.h */
PyAPI_FUNC(int) _PyMem_GetAllocatorName(const char *name, PyMemAllocatorName *allocator);
PyAPI_FUNC(int) _PyMem_SetupAllocators(PyMemAllocatorName allocator);

static trace T;
static size_t next_arena;

/* ---- arena placement ---- */

#define ARENA_SIZE ((size_t)1 << 20)
#define POOL_SIZE ((size_t)1 << 14)

static void *placed_arena_alloc(void *ctx, size_t size) {
    (void)ctx;
    if (size != ARENA_SIZE || next_arena >= T.n_arenas) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    size_t excess = (size_t)(T.arenas[next_arena++] % POOL_SIZE);
    size_t span = size + POOL_SIZE;
    char *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    uintptr_t b = (uintptr_t)base;
    uintptr_t a = (b & ~(uintptr_t)(POOL_SIZE - 1)) + excess;
    if (a < b) a += POOL_SIZE;
    if (a > b) munmap(base, a - b);
    uintptr_t tail = a + size, endp = b + span;
    if (endp > tail) munmap((void *)tail, endp - tail);
    return (void *)a;
}

static void placed_arena_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    munmap(ptr, size);
}

/* ---- replay ---- */

static ptr_map map;
static size_t failures;

static inline void *do_malloc(uint8_t dom, size_t n) {
    switch (dom) {
    case D_RAW: return PyMem_RawMalloc(n);
    case D_MEM: return PyMem_Malloc(n);
    case D_OBJ: return PyObject_Malloc(n);
    default: return malloc(n);
    }
}
static inline void *do_calloc(uint8_t dom, size_t n, size_t el) {
    switch (dom) {
    case D_RAW: return PyMem_RawCalloc(n, el);
    case D_MEM: return PyMem_Calloc(n, el);
    case D_OBJ: return PyObject_Calloc(n, el);
    default: return calloc(n, el);
    }
}
static inline void *do_realloc(uint8_t dom, void *p, size_t n) {
    switch (dom) {
    case D_RAW: return PyMem_RawRealloc(p, n);
    case D_MEM: return PyMem_Realloc(p, n);
    case D_OBJ: return PyObject_Realloc(p, n);
    default: return realloc(p, n);
    }
}
static inline void do_free(uint8_t dom, void *p) {
    switch (dom) {
    case D_RAW: PyMem_RawFree(p); break;
    case D_MEM: PyMem_Free(p); break;
    case D_OBJ: PyObject_Free(p); break;
    default: free(p);
    }
}

/* The pointer now standing for recorded pointer rec (NULL for 0x0). */
static inline void *lookup(uint64_t rec) {
    if (!rec) return NULL;
    uint64_t v;
    if (!pm_get(&map, rec, &v)) { failures++; return NULL; }
    return (void *)(uintptr_t)v;
}

static void replay(void) {
    for (size_t i = 0; i < T.n_events; i++) {
        const event *e = &T.events[i];
        void *r;
        switch (e->op) {
        case OP_MALLOC:
            r = do_malloc(e->dom, e->a);
            if (e->d) pm_put(&map, e->d, (uint64_t)(uintptr_t)r);
            else if (r) do_free(e->dom, r); /* the recorded call failed */
            break;
        case OP_CALLOC:
            r = do_calloc(e->dom, e->a, e->b);
            if (e->d) pm_put(&map, e->d, (uint64_t)(uintptr_t)r);
            else if (r) do_free(e->dom, r);
            break;
        case OP_REALLOC: {
            if (!e->d && e->c) break; /* a failed realloc changed nothing */
            void *old = NULL;
            if (e->c) {
                uint64_t v;
                if (!pm_remove(&map, e->c, &v)) { failures++; break; }
                old = (void *)(uintptr_t)v;
            }
            r = do_realloc(e->dom, old, e->a);
            if (e->d) pm_put(&map, e->d, (uint64_t)(uintptr_t)r);
            break;
        }
        case OP_FREE:
            if (!e->c) { do_free(e->dom, NULL); break; }
            {
                uint64_t v;
                if (!pm_remove(&map, e->c, &v)) { failures++; break; }
                do_free(e->dom, (void *)(uintptr_t)v);
            }
            break;
        case OP_MEMALIGN:
            r = aligned_alloc(e->b, e->a ? e->a : 1);
            if (e->d) pm_put(&map, e->d, (uint64_t)(uintptr_t)r);
            break;
        }
    }
}

/* Frees every block still mapped (between rounds of --repeat). */
static void release_all(void) {
    for (size_t i = 0; i < map.capacity; i++) {
        if (map.slots[i].key) {
            /* the domain is not kept in the map: all of raw/mem/obj free correctly through PyObject_Free
               (it hands pointers it does not own to the raw domain); libc blocks through free */
            PyObject_Free((void *)(uintptr_t)map.slots[i].value);
            map.slots[i].key = 0;
        }
    }
    map.count = 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *stats_path = NULL, *path = NULL;
    int repeat = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stats") && i + 1 < argc) stats_path = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else path = argv[i];
    }
    if (!path || repeat < 1) {
        fprintf(stderr, "usage: %s [--stats <file>] [--repeat N] <trace | ->\n", argv[0]);
        return 2;
    }
    tp_load(&T, path);
    pm_init(&map, 1 << 20);

    /* a trace recorded under PYTHONMALLOC replays under the same allocators */
    if (T.pythonmalloc[0]) {
        PyMemAllocatorName name;
        if (_PyMem_GetAllocatorName(T.pythonmalloc, &name) < 0 || _PyMem_SetupAllocators(name) < 0) {
            fprintf(stderr, "memtrace_replay: unknown PYTHONMALLOC=%s in the trace\n", T.pythonmalloc);
            return 2;
        }
    }
    PyObjectArenaAllocator placed = { NULL, placed_arena_alloc, placed_arena_free };
    PyObject_SetArenaAllocator(&placed);

    int has_libc = 0;
    for (size_t i = 0; i < T.n_events; i++) if (T.events[i].dom == D_LIBC) { has_libc = 1; break; }
    if (has_libc && repeat > 1) repeat = 1; /* libc blocks cannot be released through PyObject_Free */
    /* under the debug hooks, PyObject_Free of a PyMem_Malloc block is an API violation: one round only */
    if (strstr(T.pythonmalloc, "debug") && repeat > 1) repeat = 1;

    double best = 1e300;
    for (int round = 0; round < repeat; round++) {
        if (round > 0) release_all();
        next_arena = 0;
        double t0 = now();
        replay();
        double t = now() - t0;
        if (t < best) best = t;
        if (round == 0 && stats_path) {
            FILE *f = fopen(stats_path, "w");
            if (!f) { fprintf(stderr, "memtrace_replay: cannot write %s\n", stats_path); return 1; }
            _PyObject_DebugMallocStats(f);
            fclose(f);
        }
    }
    printf("events %zu seconds %.6f events/s %.0f unmatched %zu\n", T.n_events, best, (double)T.n_events / best, failures);
    return failures ? 3 : 0;
}
