/*
 * memtrace_python: records a real CPython 3.11 run as a memtrace v1 trace.
 *
 * usage: memtrace_python <trace-out> <stats-out> <python-executable> [python args...]
 *   runs like `<python-executable> [python args...]` (e.g. `python3 script.py a b`),
 *   with the embedded libpython this program is linked against.
 *
 * How it works
 *   Before the interpreter allocates anything, the three PyMem domains (raw, mem,
 *   obj) are wrapped with PyMem_SetAllocator, and the arena allocator with
 *   PyObject_SetArenaAllocator. Every call the program makes is written when it
 *   returns:
 *
 *      program --PyObject_Malloc(600)--> [obj hook] --> pymalloc --PyMem_RawMalloc(600)--> [raw hook] --> malloc
 *                                         writes       (depth 1)                            depth > 0:
 *                                    "m obj 600 0x.."                                       not an event
 *
 *   A thread-local depth counter marks "inside pymalloc": raw calls made beneath
 *   (fallbacks for size 0 / > 512, the arenas vector, radix-tree nodes) are not
 *   events. Arena allocations of exactly ARENA_SIZE made beneath a mem/obj call are
 *   pymalloc's own arenas (A/D lines); the other users of the arena allocator (the
 *   frame data stack) are written as comments only.
 *
 *   A Python atexit callback, registered before the script runs (and therefore run
 *   last), stops the recording and writes the pymalloc statistics
 *   (_PyObject_DebugMallocStats, the pymalloc section of sys._debugmallocstats())
 *   at that same moment, so that replaying the trace must give the same statistics.
 *   os._exit() and fatal signals (os.abort()) skip that callback: they flush and end the
 *   trace too ("# end _exit(3): ...", "# end SIGABRT: ..."; see "leaving without the atexit
 *   callbacks" below), so does an exec ("# end exec: ..."), so only SIGKILL leaves a trace
 *   without its end line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

/* exported by libpython, declared in the internal header pycore_pymem.h */
PyAPI_FUNC(int) _PyObject_DebugMallocStats(FILE *out);

#include "trace_writer.h"
#include "ptr_map.h"
#include "py_frames.h"
#include "rss_sample.h"
#include "proc_self.h"

/* pymalloc's arena size: 256 KiB before CPython 3.10, 1 MiB since (obmalloc.c's ARENA_BITS). */
#if PY_VERSION_HEX < 0x030A0000
#define ARENA_SIZE_PYMALLOC ((size_t)256 << 10)
#else
#define ARENA_SIZE_PYMALLOC ((size_t)1 << 20)
#endif

static trace_writer W = { .fd = -1 };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int recording = 0;
static __thread int depth = 0; /* > 0 while inside a mem/obj allocator call */

static ptr_map live;        /* pointer -> domain index + 1, for every block handed out to the program */
static ptr_map arenas_live; /* pymalloc arenas currently allocated */

static const char *stats_path;
static pid_t owner_pid; /* the recorded process; a forked child records nothing */
static int stats_written = 0;

/* counters reported in the trailer */
static uint64_t n_events, n_untracked_free, n_untracked_realloc, n_data_stack, n_arenas, n_arenas_freed;

typedef struct {
    const char *name;       /* "raw", "mem", "obj" */
    int index;              /* 0, 1, 2 */
    PyMemAllocatorEx orig;  /* the allocator wrapped */
} domain_hook;

static domain_hook hooks[3] = {
    { "raw", 0, { 0 } },
    { "mem", 1, { 0 } },
    { "obj", 2, { 0 } },
};
static PyObjectArenaAllocator orig_arena;

/* ---- which obmalloc state serves a call (CPython 3.12+) ----
   From 3.12 pymalloc's state belongs to an interpreter (PEP 684): an interpreter created
   with its own obmalloc (use_main_obmalloc = 0, e.g. by _interpreters.create()) has its own
   pools, arenas and radix tree; the main interpreter and legacy sub-interpreters share the
   main one. When the state serving mem/obj calls changes, a comment line says whose it is:
   "# obmalloc-state <interpreter id>" (0: the main interpreter's), so that a replayer can
   give each state its own pymalloc. Traces of single-state runs carry no such line. */
#if PY_VERSION_HEX >= 0x030C0000
#if PY_VERSION_HEX >= 0x030D0000
#define Py_BUILD_CORE 1 /* 3.13 no longer exports _PyInterpreterState_HasFeature: read the flag */
#include "internal/pycore_interp.h"
#undef Py_BUILD_CORE
static int uses_main_obmalloc(PyInterpreterState *interp) {
    return (interp->feature_flags & Py_RTFLAGS_USE_MAIN_OBMALLOC) != 0;
}
#else
static int uses_main_obmalloc(PyInterpreterState *interp) {
    return _PyInterpreterState_HasFeature(interp, Py_RTFLAGS_USE_MAIN_OBMALLOC);
}
#endif
static int64_t obmalloc_state = 0; /* lock held */
static uint64_t n_other_state;      /* calls served by a sub-interpreter's own state */

/* Before a mem/obj call is passed on (lock held): names the state when it changes. */
static void note_obmalloc_state(const domain_hook *h) {
    if (h->index == 0) return; /* raw: malloc, whichever interpreter calls */
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    PyInterpreterState *interp = ts ? PyThreadState_GetInterpreter(ts) : NULL;
    int64_t state = 0;
    if (interp != NULL && interp != PyInterpreterState_Main() && !uses_main_obmalloc(interp)) state = PyInterpreterState_GetID(interp);
    if (state != 0) n_other_state++;
    if (state == obmalloc_state) return;
    obmalloc_state = state;
    char line[64];
    snprintf(line, sizeof line, "# obmalloc-state %lld", (long long)state);
    tw_line(&W, line);
}
#else
#define note_obmalloc_state(h) ((void)(h))
#endif

/* Set (lock held) when "# tracemalloc-init-begin" was written: the _tracemalloc module was just
   created and its initialisation (tracemalloc_init) follows, which a run under
   python -X tracemalloc has done at start-up, before tracing. Ended at the next mem or obj call:
   tracemalloc_init makes raw calls only (its lock, 32 bytes) and direct mallocs. */
static int tm_init_open;

static void note_tm_init(const domain_hook *h) {
    if (tm_init_open && h->index != 0) {
        tm_init_open = 0;
        tw_line(&W, "# tracemalloc-init-end");
    }
}

/* ---- threads (lock held) ----
   Threads are numbered in the order of their first recorded call (1 = the first, the main
   thread): "n <n>" before a new thread's first call, "t <n>" before a call of another
   thread than the previous line's, "x <n>" from a thread-specific-data destructor when a
   numbered thread exits (glibc's exit work for its tcache and arena follows). Calls of
   other threads wait until an exited thread is gone (thread_exits.h, shared with
   memtrace_libc.c), so that the trace's order is glibc's. Raw-domain calls come from
   threads with or without the GIL; the lock serialises them all. */
static __thread int thread_no;
static int n_threads, last_thread = 1;
#define MT_PASS_THROUGH depth
#define MT_RECORDING recording
#include "thread_exits.h"

/* Before a call is passed on (lock held): waits for exiting threads, names a new thread or a switch. */
static void note_thread(void) {
    mt_exits_settle();
    char line[32];
    if (thread_no == 0) {
        thread_no = ++n_threads;
        if (thread_no > 1) {
            snprintf(line, sizeof line, "n %d", thread_no);
            tw_line(&W, line);
            mt_exits_watch(thread_no);
        }
    }
    if (thread_no == last_thread) return;
    last_thread = thread_no;
    snprintf(line, sizeof line, "t %d", thread_no);
    tw_line(&W, line);
}

/* ---- bookkeeping of live blocks (lock held) ---- */

static inline void track_new(void *p, int dom) {
    if (p) pm_put(&live, (uint64_t)(uintptr_t)p, (uint64_t)dom + 1);
}

/* Returns 1 when ptr was handed out through the hooks (and forgets it). */
static inline int track_forget(void *p) {
    return pm_remove(&live, (uint64_t)(uintptr_t)p, NULL);
}

/* ---- the domain hooks ---- */

static void *hook_malloc(void *ctx, size_t size) {
    domain_hook *h = ctx;
    if (depth > 0 || !recording) return h->orig.malloc(h->orig.ctx, size);
    pthread_mutex_lock(&lock);
    if (recording) {
        note_thread();
        note_obmalloc_state(h);
        note_tm_init(h);
    }
    depth++;
    void *r = h->orig.malloc(h->orig.ctx, size);
    depth--;
    if (recording) {
        if (pf_max_frames) { pf_stack(&W); pf_fresh = (uint64_t)(uintptr_t)r; }
        tw_malloc(&W, h->name, size, (uint64_t)(uintptr_t)r);
        track_new(r, h->index);
        n_events++;
        rss_note_block(r, size);
        rss_tick(&W, n_events);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize) {
    domain_hook *h = ctx;
    if (depth > 0 || !recording) return h->orig.calloc(h->orig.ctx, nelem, elsize);
    pthread_mutex_lock(&lock);
    if (recording) {
        note_thread();
        note_obmalloc_state(h);
        note_tm_init(h);
    }
    depth++;
    void *r = h->orig.calloc(h->orig.ctx, nelem, elsize);
    depth--;
    if (recording) {
        if (pf_max_frames) { pf_stack(&W); pf_fresh = (uint64_t)(uintptr_t)r; }
        tw_calloc(&W, h->name, nelem, elsize, (uint64_t)(uintptr_t)r);
        track_new(r, h->index);
        n_events++;
        rss_note_block(r, nelem * elsize);
        rss_tick(&W, n_events);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

static void *hook_realloc(void *ctx, void *ptr, size_t size) {
    domain_hook *h = ctx;
    if (depth > 0 || !recording) return h->orig.realloc(h->orig.ctx, ptr, size);
    pthread_mutex_lock(&lock);
    if (recording) {
        note_thread();
        note_obmalloc_state(h);
        note_tm_init(h);
    }
    if (recording) rss_forget_block(ptr);
    depth++;
    void *r = h->orig.realloc(h->orig.ctx, ptr, size);
    depth--;
    if (recording) {
        int known = ptr == NULL || r == NULL || track_forget(ptr);
        if (ptr != NULL && r == NULL) {
            /* failed: the old block stays valid and stays tracked */
        }
        if (pf_max_frames) { pf_stack(&W); pf_fresh = (uint64_t)(uintptr_t)r; }
        if (known) {
            tw_realloc(&W, h->name, (uint64_t)(uintptr_t)ptr, size, (uint64_t)(uintptr_t)r);
        } else {
            /* ptr came from an allocator installed around the hooks (CPython switches
               the raw domain to the default allocator for some start-up data): for a
               replayer this is a fresh allocation of the new size. */
            tw_comment_ptr(&W, h->index == 0 ? "untracked-realloc raw" : h->index == 1 ? "untracked-realloc mem" : "untracked-realloc obj", (uint64_t)(uintptr_t)ptr, size);
            tw_malloc(&W, h->name, size, (uint64_t)(uintptr_t)r);
            n_untracked_realloc++;
        }
        track_new(r, h->index);
        n_events++;
        rss_note_block(r ? r : (size ? ptr : NULL), size);
        rss_tick(&W, n_events);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

static void hook_free(void *ctx, void *ptr) {
    domain_hook *h = ctx;
    if (depth > 0 || !recording) {
        h->orig.free(h->orig.ctx, ptr);
        return;
    }
    pthread_mutex_lock(&lock);
    if (recording) {
        note_thread();
        note_obmalloc_state(h);
        note_tm_init(h);
    }
    if (recording) rss_forget_block(ptr);
    depth++;
    h->orig.free(h->orig.ctx, ptr);
    depth--;
    if (recording) {
        if (ptr == NULL || track_forget(ptr)) {
            tw_free(&W, h->name, (uint64_t)(uintptr_t)ptr);
            n_events++;
            rss_tick(&W, n_events);
        } else {
            tw_comment_ptr(&W, h->index == 0 ? "untracked-free raw" : h->index == 1 ? "untracked-free mem" : "untracked-free obj", (uint64_t)(uintptr_t)ptr, 0);
            n_untracked_free++;
        }
    }
    pthread_mutex_unlock(&lock);
}

/* ---- the program's direct C library calls (MEMTRACE_LIBC_CALLS=0 turns them off) ----
 *
 * CPython, the C library and extension modules also call malloc directly (setlocale, stdio,
 * dlopen of extension modules, expat, OpenSSL ...). Those blocks share glibc's heap with the
 * raw domain's, so without them a replay lays the heap out differently: in CPython 3.11's
 * start-up the real heap holds ~9 KiB more when pymalloc callocs its first 128 KiB radix-tree
 * leaf, so the real one is mmapped where the replayed one is carved from the top and
 * cleared (32 pages resident that the real process does not have).
 *
 * These definitions interpose the malloc family for the whole process (libpython and the C
 * library call malloc through the PLT). A call made outside every hook (depth 0) while
 * recording is written as a "libc" line; calls beneath a hook (the raw domain's own malloc,
 * pymalloc's fallbacks) pass through. A free or realloc of a block allocated before the
 * recording started is a comment ("# untracked-free libc", the realloc as a comment and an
 * m line). On by default; MEMTRACE_LIBC_CALLS=0 records the PyMem domains only, as the
 * recorder did before.
 */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
static int libc_calls;          /* unless MEMTRACE_LIBC_CALLS=0, read in main */
static uint64_t n_libc_calls, n_libc_untracked;
#define LIBC_DOMAIN 3           /* the live map's index for blocks of libc lines */

static inline int libc_recorded(void) { return libc_calls && depth == 0 && recording; }

/* The lock taken for a libc line (depth raised: what the recorder does under it passes through). */
static inline void libc_enter(void) {
    depth++;
    pthread_mutex_lock(&lock);
    if (recording) note_thread();
}

static inline void libc_leave(void) {
    pthread_mutex_unlock(&lock);
    depth--;
}

static inline void libc_written(void *r, size_t size) {
    track_new(r, LIBC_DOMAIN);
    n_events++;
    n_libc_calls++;
    rss_note_block(r, size);
    rss_tick(&W, n_events);
}

void *malloc(size_t n) {
    if (!libc_recorded()) return __libc_malloc(n);
    libc_enter();
    void *r = __libc_malloc(n);
    if (recording) {
        tw_malloc(&W, "libc", n, (uint64_t)(uintptr_t)r);
        libc_written(r, n);
    }
    libc_leave();
    return r;
}

void *calloc(size_t n, size_t el) {
    if (!libc_recorded()) return __libc_calloc(n, el);
    libc_enter();
    void *r = __libc_calloc(n, el);
    if (recording) {
        tw_calloc(&W, "libc", n, el, (uint64_t)(uintptr_t)r);
        libc_written(r, n * el);
    }
    libc_leave();
    return r;
}

void *realloc(void *p, size_t n) {
    if (!libc_recorded()) return __libc_realloc(p, n);
    libc_enter();
    if (recording) rss_forget_block(p);
    void *r = __libc_realloc(p, n);
    if (recording) {
        int known = p == NULL || r == NULL || track_forget(p);
        if (known) {
            tw_realloc(&W, "libc", (uint64_t)(uintptr_t)p, n, (uint64_t)(uintptr_t)r);
        } else {
            tw_comment_ptr(&W, "untracked-realloc libc", (uint64_t)(uintptr_t)p, n);
            tw_malloc(&W, "libc", n, (uint64_t)(uintptr_t)r);
            n_libc_untracked++;
        }
        libc_written(r ? r : (n ? p : NULL), n);
    }
    libc_leave();
    return r;
}

void free(void *p) {
    if (!libc_recorded()) {
        __libc_free(p);
        return;
    }
    libc_enter();
    if (recording) rss_forget_block(p);
    __libc_free(p);
    if (recording && p != NULL) {
        if (track_forget(p)) {
            tw_free(&W, "libc", (uint64_t)(uintptr_t)p);
            n_events++;
            n_libc_calls++;
            rss_tick(&W, n_events);
        } else {
            n_libc_untracked++; /* allocated before the recording started */
        }
    }
    libc_leave();
}

static void *libc_aligned(size_t align, size_t n) {
    if (!libc_recorded()) return __libc_memalign(align, n);
    libc_enter();
    void *r = __libc_memalign(align, n);
    if (recording) {
        tw_memalign(&W, "libc", align, n, (uint64_t)(uintptr_t)r);
        libc_written(r, n);
    }
    libc_leave();
    return r;
}

void *memalign(size_t align, size_t n) { return libc_aligned(align, n); }
/* glibc 2.36: aligned_alloc is memalign */
void *aligned_alloc(size_t align, size_t n) { return libc_aligned(align, n); }

int posix_memalign(void **out, size_t align, size_t n) {
    if (align % sizeof(void *) != 0 || ((align / sizeof(void *)) & (align / sizeof(void *) - 1)) != 0 || align == 0) return EINVAL;
    void *r = libc_aligned(align, n);
    if (!r) return ENOMEM;
    *out = r;
    return 0;
}

/* ---- objects reused from a free list (source locations, CPython 3.11) ----
 *
 * tracemalloc gives an object taken from a free list (lists, tuples, floats, dicts ...) the
 * traceback of its reuse: _Py_NewReference() calls _PyTraceMalloc_NewReference(), which
 * replaces the traceback of the object's block (the object itself, or its GC header) when
 * the block is traced. libpython calls _Py_NewReference through its PLT, so this definition
 * (exported with -rdynamic) is the one it reaches: it writes "#R <block>" under the traceback
 * in force when the block is one the program holds and not the block this thread has just
 * allocated (a new object: same traceback), then runs libpython's own.
 */
#if PF_SUPPORTED
#include <dlfcn.h>
static void (*orig_new_reference)(PyObject *);
static uint64_t n_retraced, n_new_references;

void _Py_NewReference(PyObject *op) {
    if (pf_max_frames && recording) {
        n_new_references++;
        uint64_t block = (uint64_t)(uintptr_t)(PyType_IS_GC(Py_TYPE(op)) ? (char *)op - sizeof(PyGC_Head) : (char *)op);
        if (block == pf_fresh) {
            pf_fresh = 0;
        } else {
            uint64_t dom;
            pthread_mutex_lock(&lock);
            if (recording && pm_get(&live, block, &dom)) {
                pf_stack(&W);
                char *p = tw_reserve(&W, 32);
                p = tw_str(p, "#R ");
                p = tw_hex(p, block);
                *p++ = '\n';
                tw_commit(&W, p);
                n_retraced++;
            }
            pthread_mutex_unlock(&lock);
        }
    }
    if (!orig_new_reference) orig_new_reference = (void (*)(PyObject *))dlsym(RTLD_NEXT, "_Py_NewReference");
    orig_new_reference(op);
}

/*
 * Where `python -X tracemalloc` would start tracing: in 3.11's init_interp_main, right after
 * _PySignal_Init, whose last call imports "_signal" (through the PLT, so this definition is
 * the one reached), comes _PyTraceMalloc_Init, which starts tracing. The trace gets the line
 * "# x-tracemalloc-start" there: mem-demo explain --by leaves out what was allocated before,
 * as tracemalloc never saw it.
 */
static PyObject *(*orig_import_module)(const char *);
static int in_init, x_tracemalloc_marked;

PyObject *PyImport_ImportModule(const char *name) {
    if (!orig_import_module) orig_import_module = (PyObject * (*)(const char *))dlsym(RTLD_NEXT, "PyImport_ImportModule");
    PyObject *m = orig_import_module(name);
    if (in_init && pf_max_frames && !x_tracemalloc_marked && name != NULL && strcmp(name, "_signal") == 0) {
        x_tracemalloc_marked = 1;
        pthread_mutex_lock(&lock);
        if (recording) {
            tw_line(&W, "# x-tracemalloc-start");
            pf_keep_names = 1;
        }
        pthread_mutex_unlock(&lock);
    }
    return m;
}
/*
 * The _tracemalloc module's initialisation: PyInit__tracemalloc creates the module
 * (PyModule_Create2, through the PLT) and then runs tracemalloc_init, whose lock is a raw
 * block of the program in a run without tracemalloc but was allocated before tracing started
 * in a run under python -X tracemalloc (tracemalloc_start initialises first). The trace gets
 * "# tracemalloc-init-begin" when that module is created while tracemalloc is not initialised,
 * and "# tracemalloc-init-end" before the next mem or obj call; explain --by leaves the blocks
 * between untraced.
 */
static PyObject *(*orig_module_create2)(PyModuleDef *, int);
/* the first field of CPython 3.11's _PyTraceMalloc_Config (pycore_pymem.h): initialised? */
extern int _Py_tracemalloc_config;

PyObject *PyModule_Create2(PyModuleDef *def, int apiver) {
    if (!orig_module_create2) orig_module_create2 = (PyObject * (*)(PyModuleDef *, int))dlsym(RTLD_NEXT, "PyModule_Create2");
    PyObject *m = orig_module_create2(def, apiver);
    if (m != NULL && pf_max_frames && def != NULL && def->m_name != NULL && strcmp(def->m_name, "_tracemalloc") == 0 && _Py_tracemalloc_config == 0) {
        pthread_mutex_lock(&lock);
        if (recording && !tm_init_open) {
            tw_line(&W, "# tracemalloc-init-begin");
            tm_init_open = 1;
        }
        pthread_mutex_unlock(&lock);
    }
    return m;
}
#endif

/* ---- the arena allocator hook ---- */

static void *hook_arena_alloc(void *ctx, size_t size) {
    (void)ctx;
    void *r = orig_arena.alloc(orig_arena.ctx, size);
    if (!recording) return r;
    if (depth > 0 && size == ARENA_SIZE_PYMALLOC) {
        /* new_arena(), beneath a mem/obj call: this thread holds the lock */
        if (r) {
            tw_arena_alloc(&W, size, (uint64_t)(uintptr_t)r);
            pm_put(&arenas_live, (uint64_t)(uintptr_t)r, size);
            rss_add(&rss_arenas, (uintptr_t)r, (uintptr_t)r, size);
            n_arenas++;
        } else {
            tw_comment_ptr(&W, "arena-alloc-failed", 0, size);
        }
    } else {
        /* the interpreter's frame data stack (_PyObject_VirtualAlloc) */
        if (depth == 0) pthread_mutex_lock(&lock);
        tw_comment_ptr(&W, "data-stack-alloc", (uint64_t)(uintptr_t)r, size);
        n_data_stack++;
        if (depth == 0) pthread_mutex_unlock(&lock);
    }
    return r;
}

static void hook_arena_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    if (recording) {
        if (depth > 0 && pm_remove(&arenas_live, (uint64_t)(uintptr_t)ptr, NULL)) {
            tw_arena_free(&W, (uint64_t)(uintptr_t)ptr, size);
            rss_remove(&rss_arenas, (uintptr_t)ptr);
            n_arenas_freed++;
        } else {
            if (depth == 0) pthread_mutex_lock(&lock);
            tw_comment_ptr(&W, "data-stack-free", (uint64_t)(uintptr_t)ptr, size);
            if (depth == 0) pthread_mutex_unlock(&lock);
        }
    }
    orig_arena.free(orig_arena.ctx, ptr, size);
}

static void install_hooks(void) {
    for (int d = 0; d < 3; d++) {
        PyMemAllocatorDomain dom = d == 0 ? PYMEM_DOMAIN_RAW : d == 1 ? PYMEM_DOMAIN_MEM : PYMEM_DOMAIN_OBJ;
        PyMemAllocatorEx cur;
        PyMem_GetAllocator(dom, &cur);
        if (cur.malloc == hook_malloc) continue; /* already ours */
        hooks[d].orig = cur;
        PyMemAllocatorEx mine = { &hooks[d], hook_malloc, hook_calloc, hook_realloc, hook_free };
        PyMem_SetAllocator(dom, &mine);
    }
    PyObjectArenaAllocator cur_arena;
    PyObject_GetArenaAllocator(&cur_arena);
    if (cur_arena.alloc != hook_arena_alloc) {
        orig_arena = cur_arena;
        PyObjectArenaAllocator mine = { NULL, hook_arena_alloc, hook_arena_free };
        PyObject_SetArenaAllocator(&mine);
    }
}

/* ---- start and stop ---- */

static void write_header(int argc, char **argv) {
    char line[8192];
    tw_line(&W, "# memtrace v1");
    /* the C library that served the libc lines (a replay takes its malloc model from it) */
#ifdef __GLIBC__
    snprintf(line, sizeof line, "# recorder memtrace_python: CPython %s, glibc %s, pymalloc arena size %zu", PY_VERSION, gnu_get_libc_version(), ARENA_SIZE_PYMALLOC);
#else
    snprintf(line, sizeof line, "# recorder memtrace_python: CPython %s, pymalloc arena size %zu", PY_VERSION, ARENA_SIZE_PYMALLOC);
#endif
    tw_line(&W, line);
#ifdef Py_GIL_DISABLED
    /* a free-threaded build (3.13+): mimalloc, not pymalloc, serves mem and obj */
    tw_line(&W, "# python-build free-threaded");
#endif
    size_t len = (size_t)snprintf(line, sizeof line, "# argv");
    for (int i = 0; i < argc && len < sizeof line - 2; i++) {
        len += (size_t)snprintf(line + len, sizeof line - len, " %s", argv[i]);
    }
    for (char *p = line; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
    tw_line(&W, line);
    /* The settings of the allocators: CPython's, then glibc's (GLIBC_TUNABLES and the
       MALLOC_*_ aliases of its glibc.malloc tunables), so that a replay can use them. */
    static const char *const vars[] = {
        "PYTHONHASHSEED", "PYTHONMALLOC", "GLIBC_TUNABLES", "MALLOC_CHECK_", "MALLOC_TOP_PAD_", "MALLOC_PERTURB_",
        "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST",
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && strlen(v) < 4000 && !strchr(v, '\n') && !strchr(v, '\r')) {
            snprintf(line, sizeof line, "# env %s=%s", vars[i], v);
            tw_line(&W, line);
        }
    }
    rss_init(&W, (uintptr_t)read_start_brk());
    snprintf(line, sizeof line, "# heap-start 0x%llx", (unsigned long long)read_start_brk());
    tw_line(&W, line);
    snprintf(line, sizeof line, "# cpus %d", get_nprocs());
    tw_line(&W, line);
    mt_exits_init();
}

static void write_stats(void) {
    if (stats_written) return;
    stats_written = 1;
    FILE *f = fopen(stats_path, "w");
    if (!f) {
        fprintf(stderr, "memtrace_python: cannot write statistics to %s\n", stats_path);
        return;
    }
    /* _PyObject_DebugMallocStats prints only when the OBJ slot holds pymalloc itself
       (or the debug hooks over it): the recording has stopped, so put the wrapped OBJ
       and MEM allocators back (the hooks were pure pass-through wrappers, so blocks stay
       valid). Both domains require the GIL, which is held here; the RAW slot stays
       hooked (passing through), since other threads may use it without the GIL. */
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &hooks[2].orig);
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &hooks[1].orig);
    if (!_PyObject_DebugMallocStats(f))
        fprintf(stderr, "memtrace_python: pymalloc is not the object allocator: no statistics\n");
    fclose(f);
}

/* In a child made by fork() (os.fork, multiprocessing): nothing of it goes to the trace or the statistics. */
static void forked_child(void) {
    recording = 0;
    W.fd = -1;
    W.len = 0;
    stats_written = 1;
    pthread_mutex_init(&lock, NULL);
}

/* Stops the recording and writes the statistics of that very moment. GIL held. */
static void stop_recording(const char *why) {
    if (getpid() != owner_pid) return;
    pthread_mutex_lock(&lock);
    if (recording) {
        recording = 0;
        char line[512];
#if PY_VERSION_HEX >= 0x030C0000
        if (n_other_state > 0) {
            snprintf(line, sizeof line, "# sub-interpreters: %llu mem/obj calls served by their own obmalloc states", (unsigned long long)n_other_state);
            tw_line(&W, line);
        }
#endif
#if PF_SUPPORTED
        if (pf_max_frames) {
            /* 0 new references means libpython did not reach our _Py_NewReference: reused objects keep their first traceback */
            snprintf(line, sizeof line, "# frames: %llu objects reused from free lists retraced, %llu new references seen",
                     (unsigned long long)n_retraced, (unsigned long long)n_new_references);
            tw_line(&W, line);
        }
#endif
        if (libc_calls) {
            snprintf(line, sizeof line, "# libc-calls: %llu written, %llu frees or reallocs of blocks from before the recording",
                     (unsigned long long)n_libc_calls, (unsigned long long)n_libc_untracked);
            tw_line(&W, line);
        }
        if (rss_every != 0) rss_write(&W, n_events);
        snprintf(line, sizeof line, "# end %s: %llu events, %llu arenas allocated, %llu arenas released, %llu data-stack chunks, %llu untracked frees, %llu untracked reallocs",
                 why, (unsigned long long)n_events, (unsigned long long)n_arenas, (unsigned long long)n_arenas_freed,
                 (unsigned long long)n_data_stack, (unsigned long long)n_untracked_free, (unsigned long long)n_untracked_realloc);
        tw_line(&W, line);
    }
    if (W.fd >= 0) {
        tw_flush(&W);
        close(W.fd);
        W.fd = -1;
    }
    pthread_mutex_unlock(&lock);
    write_stats();
}

static PyObject *atexit_stop(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    stop_recording("atexit");
    Py_RETURN_NONE;
}

static PyMethodDef stop_def = { "_memtrace_stop", atexit_stop, METH_NOARGS, NULL };

/* Fallback when the Python atexit callbacks did not run (atexit._clear()). */
static void ll_exit(void) { stop_recording("Py_AtExit"); }

/* ---- leaving without the atexit callbacks: os._exit, fatal signals, exec (exit_paths.h) ----
 *
 * os._exit() (and a C extension's _exit/_Exit) skip every exit handler, a fatal signal
 * (os.abort()'s SIGABRT, a SIGSEGV) kills the process and an exec replaces it: the buffered
 * tail of the trace would be lost. exit_paths.h, shared with memtrace_libc.c, catches those
 * ways out (libpython and C extensions call _exit, sigaction, signal and the exec functions
 * through their PLT; -rdynamic exports the recorder's); this recorder ends the trace there
 * like stop_recording: "# end _exit(3): N events, ..." then exit_group with the same status;
 * "# end SIGABRT: N events, ..." then the signal raised again with its default action, so the
 * exit status is the same; "# exec <path>" and "# end exec: N events, ..." before the new
 * image. The program (and CPython's signal module) sees SIG_DFL where the recorder's handler
 * is, as without the recorder. The statistics are written too when that is safe: _exit and
 * exec with the GIL held; a signal when the GIL is held, the recorder's lock was free and no
 * allocator call was under way in this thread (depth 0, with the direct libc calls recorded;
 * a SIGABRT from glibc's malloc_printerr happens inside one). Only SIGKILL (and a crash of
 * the recorder itself) still loses the tail.
 */
#include "exit_paths.h" /* MT_PASS_THROUGH is depth (above) */

/* SIGINT (KeyboardInterrupt), SIGPIPE and SIGXFSZ (ignored) are CPython's own. */
static const int py_fatal_signals[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGTERM, SIGHUP, SIGQUIT, SIGXCPU };

/* The end lines, as stop_recording writes them, and a flush: the direct calls' count, a last
   # rss sample (when sample is set: the lock is held, the tables are consistent), "# end <what>: N events, ...". */
static void py_end_lines(const char *what, int sample) {
    char line[512];
    if (libc_calls) {
        snprintf(line, sizeof line, "# libc-calls: %llu written, %llu frees or reallocs of blocks from before the recording",
                 (unsigned long long)n_libc_calls, (unsigned long long)n_libc_untracked);
        tw_line(&W, line);
    }
    if (sample && rss_every != 0) rss_write(&W, n_events);
    snprintf(line, sizeof line, "# end %s: %llu events, %llu arenas allocated, %llu arenas released, %llu data-stack chunks, %llu untracked frees, %llu untracked reallocs",
             what, (unsigned long long)n_events, (unsigned long long)n_arenas, (unsigned long long)n_arenas_freed,
             (unsigned long long)n_data_stack, (unsigned long long)n_untracked_free, (unsigned long long)n_untracked_realloc);
    tw_line(&W, line);
    tw_flush(&W);
}

/* Writes the end lines ("# end <what>: N events, ..."), flushes and closes the trace; then the
   statistics when stats_ok. Only in the recording process. Returns 1 when the trace ended here. */
static int py_emergency_end(const char *what, int stats_ok) {
    if (!recording || W.fd < 0 || getpid() != owner_pid) return 0;
    int locked = mt_emergency_lock(&lock, 0); /* the lock may be this thread's: then 200 ms, and written anyway */
    int ended = 0;
    if (recording) {
        recording = 0;
        ended = 1;
        py_end_lines(what, locked);
        close(W.fd);
        W.fd = -1;
    }
    if (locked) pthread_mutex_unlock(&lock);
    if (locked && stats_ok && PyGILState_Check()) write_stats();
    return ended;
}

/* _exit/_Exit: the statistics too, if this thread holds the GIL. A signal: only if no allocator
   call was under way in this thread either (depth 0, with the direct libc calls recorded). */
static int mt_end(const char *what, int how) {
    return py_emergency_end(what, how == MT_END_EXIT || (depth == 0 && libc_calls));
}

extern int __sigaction(int, const struct sigaction *, struct sigaction *); /* glibc's sigaction */
extern mt_handler_t py_libc_signal(int, mt_handler_t) __asm__("bsd_signal"); /* glibc's signal */

static int mt_glibc_sigaction(int sig, const struct sigaction *act, struct sigaction *old) { return __sigaction(sig, act, old); }
static mt_handler_t mt_glibc_signal(int sig, mt_handler_t handler) { return py_libc_signal(sig, handler); }

/*
 * The exec family (os.execv, os.execve, a C extension's execvp or execl ...): the new image replaces the
 * recorder, so before it the trace is ended as at exit ("# exec <path>", then the end lines with
 * "# end exec: N events, ...") and the statistics are written (GIL held). If the exec fails,
 * "# exec failed: the recording goes on" follows, the hooks the statistics took off are put back,
 * the statistics are written again at the real end, and the last "# end" line is the one that
 * counts (mem-demo record reads the last). A forked child (subprocess) records nothing anyway.
 */
static int py_exec_stats; /* the statistics were written for an exec */

static void mt_exec_begin(const char *path) {
    if (!recording || W.fd < 0 || getpid() != owner_pid) return;
    depth++; /* what the recorder does here is not the program's */
    pthread_mutex_lock(&lock);
    if (recording) {
        char line[600];
        snprintf(line, sizeof line, "# exec %.500s", path);
        for (char *p = line; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
        tw_line(&W, line);
        py_end_lines("exec", 1);
    }
    pthread_mutex_unlock(&lock);
    if (!stats_written && PyGILState_Check()) {
        write_stats();
        py_exec_stats = 1;
    }
    depth--;
}

static void mt_exec_failed(void) {
    if (!recording || getpid() != owner_pid) return;
    if (py_exec_stats) { /* write_stats took the mem/obj hooks off: back on, and the statistics again at the end */
        install_hooks();
        stats_written = 0;
        py_exec_stats = 0;
    }
    pthread_mutex_lock(&lock);
    if (recording) tw_line(&W, "# exec failed: the recording goes on");
    pthread_mutex_unlock(&lock);
}

/*
 * The recorder's own calls into Python (registering the callback above) allocate: the
 * callback object and atexit's entry stay live, the argument tuple comes from and goes back
 * to the tuple free list. They are written between "# recorder-own-begin" and
 * "# recorder-own-end", so that mem-demo explain --by treats those blocks as untraced and
 * ignores the #R lines (a real run has none of them); a replay still replays them, since they
 * take memory from pymalloc.
 */
static void own_marker(const char *line) {
    pthread_mutex_lock(&lock);
    if (recording) tw_line(&W, line);
    pthread_mutex_unlock(&lock);
}

static int register_atexit(void) {
    PyObject *mod = PyImport_ImportModule("atexit");
    if (!mod) return -1;
    PyObject *fn = PyCFunction_New(&stop_def, NULL);
    if (!fn) { Py_DECREF(mod); return -1; }
    PyObject *res = PyObject_CallMethod(mod, "register", "O", fn);
    Py_DECREF(fn);
    Py_DECREF(mod);
    if (!res) return -1;
    Py_DECREF(res);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s <trace-out> <stats-out> <python-executable> [python args...]\n", argv[0]);
        return 2;
    }
    const char *trace_path = argv[1];
    stats_path = argv[2];
    int pargc = argc - 3;
    char **pargv = argv + 3;

    W.fd = open(trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (W.fd < 0) {
        fprintf(stderr, "memtrace_python: cannot write the trace to %s\n", trace_path);
        return 2;
    }
    if (!pm_init(&live, 1 << 16) || !pm_init(&arenas_live, 1 << 8)) {
        fprintf(stderr, "memtrace_python: out of memory\n");
        return 2;
    }
    owner_pid = getpid();
    W.owner = owner_pid;
    pthread_atfork(NULL, NULL, forked_child);
    /* MEMTRACE_FRAMES=N (1..65535): the Python traceback of every allocation, N frames at
       most (tracemalloc.start(N)), as #F/#T/#S lines (py_frames.h). Not passed on to the program. */
    const char *frames_env = getenv("MEMTRACE_FRAMES");
    long max_frames = frames_env ? strtol(frames_env, NULL, 10) : 0;
    if (frames_env) unsetenv("MEMTRACE_FRAMES");
    /* MEMTRACE_FRAMES_DEFAULT=N: N frames where this CPython can be walked, none elsewhere */
    const char *default_env = getenv("MEMTRACE_FRAMES_DEFAULT");
    if (default_env) {
        if (!frames_env && PF_SUPPORTED) max_frames = strtol(default_env, NULL, 10);
        unsetenv("MEMTRACE_FRAMES_DEFAULT");
    }
    if (max_frames < 0 || max_frames > PF_MAX_FRAMES) {
        fprintf(stderr, "memtrace_python: MEMTRACE_FRAMES=%s: the number of frames must be in range [1; %d]\n", frames_env, PF_MAX_FRAMES);
        return 2;
    }
    if (max_frames > 0 && !PF_SUPPORTED) {
        fprintf(stderr, "memtrace_python: Python tracebacks are recorded for CPython 3.11 only (this is %s)\n", PY_VERSION);
        return 2;
    }
    const char *libc_env = getenv("MEMTRACE_LIBC_CALLS");
    libc_calls = libc_env == NULL || strcmp(libc_env, "0") != 0;
    if (libc_env) unsetenv("MEMTRACE_LIBC_CALLS");
    write_header(pargc, pargv);
    if (libc_calls) tw_line(&W, "# libc-calls: the program's direct malloc-family calls are libc lines");
    if (max_frames > 0) {
        char line[64];
        snprintf(line, sizeof line, "# frames %ld", max_frames);
        tw_line(&W, line);
#if PF_SUPPORTED
        orig_new_reference = (void (*)(PyObject *))dlsym(RTLD_NEXT, "_Py_NewReference");
        orig_import_module = (PyObject * (*)(const char *))dlsym(RTLD_NEXT, "PyImport_ImportModule");
        if (!orig_new_reference || !orig_import_module) {
            fprintf(stderr, "memtrace_python: libpython's _Py_NewReference or PyImport_ImportModule was not found: %s\n", dlerror());
            return 2;
        }
#endif
        if (!pf_init((int)max_frames)) {
            fprintf(stderr, "memtrace_python: out of memory\n");
            return 2;
        }
    }

    /* Hooks first: nothing has been allocated through PyMem yet.
       MEMTRACE_NO_HOOKS=1 runs the same program unhooked (to check that the hooks
       change nothing: the statistics must have the same shape). */
    int hooked = getenv("MEMTRACE_NO_HOOKS") == NULL;
    if (hooked) {
        install_hooks();
        recording = 1;
    } else {
        for (int d = 0; d < 3; d++) {
            PyMemAllocatorDomain dom = d == 0 ? PYMEM_DOMAIN_RAW : d == 1 ? PYMEM_DOMAIN_MEM : PYMEM_DOMAIN_OBJ;
            PyMem_GetAllocator(dom, &hooks[d].orig);
        }
        tw_line(&W, "# MEMTRACE_NO_HOOKS: nothing recorded");
    }

    PyStatus status;
    PyPreConfig preconfig;
    PyPreConfig_InitPythonConfig(&preconfig);
    status = Py_PreInitializeFromBytesArgs(&preconfig, pargc, pargv);
    if (PyStatus_Exception(status)) Py_ExitStatusException(status);
    /* PYTHONMALLOC (or -X dev) makes pre-initialization replace the allocators: wrap the new ones. */
    PyMemAllocatorEx check;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &check);
    if (hooked && check.malloc != hook_malloc) {
        tw_line(&W, "# allocators replaced by PYTHONMALLOC during pre-initialization: hooks re-installed");
        install_hooks();
    }

    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    status = PyConfig_SetBytesArgv(&config, pargc, pargv);
    if (PyStatus_Exception(status)) { PyConfig_Clear(&config); Py_ExitStatusException(status); }
#if PF_SUPPORTED
    in_init = 1;
#endif
    status = Py_InitializeFromConfig(&config);
#if PF_SUPPORTED
    in_init = 0;
#endif
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) Py_ExitStatusException(status);

    Py_AtExit(ll_exit);
    own_marker("# recorder-own-begin");
    int registered = register_atexit();
    own_marker("# recorder-own-end");
    if (registered < 0) {
        PyErr_Print();
        fprintf(stderr, "memtrace_python: cannot register the atexit hook\n");
        return 2;
    }
    /* os._exit, os.abort(), a fatal signal: the trace still ends whole */
    mt_install_handlers(py_fatal_signals, sizeof py_fatal_signals / sizeof py_fatal_signals[0]);
    return Py_RunMain();
}
