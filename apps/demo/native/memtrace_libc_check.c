/*
 * memtrace_libc_check: replays a `libc` memtrace v1 trace through this process's
 * own glibc malloc and compares every placement with the recorded one.
 *
 * usage: memtrace_libc_check <trace | ->
 *
 * glibc's main heap starts at the initial program break, which ASLR moves from
 * run to run; a placement is therefore compared as an offset from the heap start
 * (the trace's "# heap-start" line, and this process's start_brk):
 *
 *   recorded  0x55d0c3a2e2a0 - heap-start 0x55d0c3a2e000 = +0x2a0
 *   replayed  0x5601aa1b32a0 - start_brk  0x5601aa1b3000 = +0x2a0   -> same placement
 *
 * Blocks outside the heap (mmap'd chunks) only have to be outside it again.
 * The trace is read and parsed into mmap'd memory and nothing is printed before
 * the replay ends, so that the heap is untouched when the first event replays,
 * as it was when the recorded program made its first call.
 *
 * Prints: "events <n> heap <h> same <s> moved <m> mmapped <k> unmatched <u>" and,
 * if some placement differs, the first such event. Exit status 0 when all match.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include "trace_parse.h"
#include "ptr_map.h"
#include "proc_self.h"

#define HEAP_SPAN ((uint64_t)1 << 32) /* a result this close above the heap start is a heap chunk */

static trace T;
static ptr_map map;
static size_t n_heap, n_same, n_moved, n_mmapped, n_unmatched;
static size_t first_bad = (size_t)-1;
static uint64_t first_rec, first_real;

static uint64_t my_start;

static void compare(size_t i, uint64_t rec, void *real) {
    uint64_t r = (uint64_t)(uintptr_t)real;
    int rec_heap = rec >= T.heap_start && rec - T.heap_start < HEAP_SPAN;
    int real_heap = r >= my_start && r - my_start < HEAP_SPAN;
    if (rec_heap) {
        n_heap++;
        if (real_heap && rec - T.heap_start == r - my_start) { n_same++; return; }
    } else if (!real_heap) {
        n_mmapped++;
        return;
    }
    n_moved++;
    if (first_bad == (size_t)-1) { first_bad = i; first_rec = rec; first_real = r; }
}

static void *lookup_remove(uint64_t rec) {
    uint64_t v;
    if (!rec) return NULL;
    if (!pm_remove(&map, rec, &v)) { n_unmatched++; return NULL; }
    return (void *)(uintptr_t)v;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <trace | ->\n", argv[0]);
        return 2;
    }
    tp_load(&T, argv[1]);
    pm_init(&map, 1 << 16);
    my_start = read_start_brk();
    if (!T.heap_start) {
        fprintf(stderr, "memtrace_libc_check: the trace has no # heap-start line\n");
        return 2;
    }
    size_t next_control = 0;
    for (size_t i = 0; i <= T.n_events; i++) {
        /* the program's malloc_trim and mallopt calls, where it made them */
        for (; next_control < T.n_controls && T.controls[next_control].before == i; next_control++) {
            const control *c = &T.controls[next_control];
            if (c->mallopt) mallopt((int)c->a, (int)c->b);
            else malloc_trim((size_t)c->a);
        }
        if (i == T.n_events) break;
        const event *e = &T.events[i];
        void *r;
        if (e->dom != D_LIBC) continue;
        switch (e->op) {
        case OP_MALLOC: r = malloc(e->a); break;
        case OP_CALLOC: r = calloc(e->a, e->b); break;
        case OP_MEMALIGN: r = memalign(e->b, e->a); break;
        case OP_REALLOC: {
            void *old = NULL;
            if (e->c) {
                uint64_t v;
                if (!pm_get(&map, e->c, &v)) { n_unmatched++; continue; }
                old = (void *)(uintptr_t)v;
            }
            r = realloc(old, e->a);
            if (e->c && (r || e->a == 0)) pm_remove(&map, e->c, NULL); /* moved, or freed by realloc(p, 0) */
            break;
        }
        case OP_FREE:
            free(lookup_remove(e->c));
            continue;
        default: continue;
        }
        if (e->d) {
            compare(i, e->d, r);
            if (r) pm_put(&map, e->d, (uint64_t)(uintptr_t)r);
        } else if (r) {
            n_moved++; /* the recorded call failed, this one did not */
        }
    }
    printf("events %zu heap %zu same %zu moved %zu mmapped %zu unmatched %zu\n", T.n_events, n_heap, n_same, n_moved, n_mmapped, n_unmatched);
    if (first_bad != (size_t)-1)
        printf("first difference: event %zu recorded +0x%llx replayed 0x%llx (+0x%llx)\n", first_bad + 1,
               (unsigned long long)(first_rec - T.heap_start), (unsigned long long)first_real,
               (unsigned long long)(first_real - my_start));
    return n_moved || n_unmatched ? 1 : 0;
}
