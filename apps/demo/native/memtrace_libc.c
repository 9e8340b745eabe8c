/*
 * memtrace_libc: an LD_PRELOAD shim that records a C program's calls to the
 * malloc family as memtrace v1 `libc` lines, with the addresses glibc returned.
 *
 *   MEMTRACE_OUT=trace.memtrace LD_PRELOAD=./memtrace_libc.so <command>
 *
 * Every call is forwarded to glibc's own entry points (__libc_malloc and friends,
 * exported by glibc), so no dlsym is needed (dlsym itself allocates). The lock is
 * held across the call and the write, so the trace order is the order in which
 * glibc served the calls, whatever the threads.
 *
 *   program --malloc(n)--> [shim] --__libc_malloc(n)--> glibc
 *                            writes "m libc <n> <result>"
 *
 * What is recorded and what is not:
 * - the process that was started, and the program it becomes if it execs (a
 *   wrapper script): see claim(); programs it starts are not recorded, and a
 *   forked child drops its copy of the buffer (the writer checks the pid);
 * - the first line is "# memtrace v1", then "# heap-start 0x..": the initial
 *   program break (start_brk of /proc/self/stat), where glibc's main heap begins;
 *   before it, "# env NAME=value" lines for GLIBC_TUNABLES and the MALLOC_*_
 *   variables, the settings glibc's malloc read;
 * - calls made by the shim itself: none (it never allocates);
 * - calls from every thread are recorded (glibc serves other threads from other
 *   arenas). Threads are numbered in the order of their first call (1 = the first,
 *   usually main); a new thread's first call is preceded by "n <n>" (thread start)
 *   and a "# thread <n> ..." comment, and whenever the calling thread differs from
 *   the previous line's, by "t <n>". When a numbered thread exits (pthread_exit or
 *   return from its start routine), a thread-specific-data destructor writes "x <n>":
 *   glibc's own exit work (tcache_thread_shutdown, the arena to the free list) runs
 *   just after it, unrecorded, as the replay reproduces it. "# cpus N" in the header
 *   is get_nprocs(), from which glibc 2.36 (Debian) sizes its arena limit.
 * - the buffer is flushed at exit (destructor, which writes "# exit: N events") and
 *   written line by line after that. The other ways out flush too and end the trace
 *   with an end marker: _exit/_Exit (interposed: "# end _exit(3): N events"), a fatal
 *   or terminating signal whose action was the default (SIGABRT from abort(), SIGSEGV,
 *   SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
 *   SIGXCPU, SIGXFSZ: "# end SIGABRT: N events", then the signal is raised again with
 *   its default action, so the exit status is the same; sigaction() and signal() are
 *   interposed so that the program sees SIG_DFL there, as without the shim), and the exec family
 *   (interposed: "# exec <path>: N events" before the new image replaces this one; if
 *   the exec fails, "# exec failed" and the recording goes on). Only SIGKILL (and a
 *   crash of the shim itself) loses the unflushed tail: a trace without an end marker
 *   is incomplete, and `mem-demo record` says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sched.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace_writer.h"
#include "libc_stacks.h"
#include "rss_sample.h"
#include "proc_self.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#define TLS __attribute__((tls_model("initial-exec")))

static trace_writer W = { .fd = -1 };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t state = 0; /* 0: not started, 1: recording, 2: off */
static uint64_t n_events;
static int n_threads;
static TLS __thread int busy;      /* inside the shim on this thread */
static TLS __thread int thread_no; /* 1 = the first thread that allocated */
static int last_thread = 1;        /* the thread of the latest line (lock held) */

#define MT_PASS_THROUGH busy
#define MT_RECORDING (state == 1)
#include "exit_paths.h"   /* _exit, fatal signals, exec: the shim's part is below */
#include "thread_exits.h" /* "x <n>", and calls wait for glibc's exit work of an exited thread */

static void write_argv(void) {
    char buf[4096];
    char line[4200];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    if (n < 0) n = 0;
    size_t len = 0;
    memcpy(line, "# argv", 6);
    len = 6;
    for (ssize_t i = 0; i < n; i++) {
        if (i == 0 || buf[i - 1] == 0) line[len++] = ' ';
        char c = buf[i];
        if (c == 0) continue;
        line[len++] = (c == '\n' || c == '\r') ? ' ' : c;
    }
    line[len] = 0;
    tw_line(&W, line);
}

/*
 * "# env NAME=value" for each variable glibc 2.36's malloc reads (GLIBC_TUNABLES and the
 * MALLOC_*_ aliases of its glibc.malloc tunables), so that a replay can use the same settings.
 * Written in the order of the environment; a value with a newline or longer than 4000
 * bytes is left out.
 */
static void write_env(void) {
    static const char *const names[] = {
        "GLIBC_TUNABLES", "MALLOC_CHECK_", "MALLOC_TOP_PAD_", "MALLOC_PERTURB_", "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST",
    };
    extern char **environ;
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        size_t name_len = (size_t)(eq - *e);
        int wanted = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strlen(names[i]) == name_len && memcmp(names[i], *e, name_len) == 0) wanted = 1;
        }
        size_t len = strlen(*e);
        if (!wanted || len > 4000 || strchr(*e, '\n') || strchr(*e, '\r')) continue;
        char *p = tw_reserve(&W, len + 8);
        p = tw_str(p, "# env ");
        memcpy(p, *e, len);
        p += len;
        *p++ = '\n';
        tw_commit(&W, p);
    }
}

/* "# pid <n>\n" for this process. */
static size_t pid_line(char *out) {
    char *p = tw_str(out, "# pid ");
    p = tw_dec(p, (uint64_t)getpid());
    *p++ = '\n';
    return (size_t)(p - out);
}

/*
 * Whether this process may own the trace file. The owner holds an exclusive flock on
 * it for its whole life. The lock goes with the file descriptor, which is close-on-exec:
 *  - the recorded process execs another program (a wrapper script running the real
 *    binary): same pid, lock released; the new image finds its own "# pid" line (or an
 *    empty file) and takes over, truncating what the replaced image left;
 *  - a child it forks and execs: the parent still holds the lock, nothing is recorded;
 *  - any later process: the file holds another pid's trace, nothing is recorded.
 */
static int claim(int fd) {
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) return 0;
    char head[256], mine[64];
    ssize_t n = pread(fd, head, sizeof head - 1, 0);
    if (n < 0) return 0;
    head[n] = 0;
    if (n == 0) return 1;
    size_t len = pid_line(mine);
    mine[len] = 0;
    return strstr(head, mine) != NULL;
}

/* Called once, lock held. */
static void start(void) {
    const char *out = getenv("MEMTRACE_OUT");
    state = 2;
    if (!out || !*out) return;
    int fd = open(out, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (!claim(fd) || ftruncate(fd, 0) != 0) {
        close(fd);
        return;
    }
    W.fd = fd;
    W.owner = getpid();
    tw_line(&W, "# memtrace v1");
    char *p = tw_reserve(&W, 200);
    p = tw_str(p, "# recorder memtrace_libc (LD_PRELOAD): glibc ");
    p = tw_str(p, gnu_get_libc_version());
    *p++ = '\n';
    tw_commit(&W, p);
    p = tw_reserve(&W, 64);
    p += pid_line(p);
    tw_commit(&W, p);
    write_argv();
    write_env();
    uint64_t heap_start = read_start_brk();
    rss_init(&W, (uintptr_t)heap_start); /* writes "# touched-min" */
    p = tw_reserve(&W, 60);
    p = tw_str(p, "# heap-start ");
    p = tw_hex(p, heap_start);
    *p++ = '\n';
    tw_commit(&W, p);
    p = tw_reserve(&W, 40);
    p = tw_str(p, "# cpus ");
    p = tw_dec(p, (uint64_t)get_nprocs());
    *p++ = '\n';
    tw_commit(&W, p);
    ls_init((int *)&busy);
    if (ls_frames > 0) {
        p = tw_reserve(&W, 40);
        p = tw_str(p, "# frames ");
        p = tw_dec(p, (uint64_t)ls_frames);
        *p++ = '\n';
        tw_commit(&W, p);
    }
    tw_flush(&W); /* the header (with the pid) is in the file from the start */
    mt_exits_init();
    state = 1;
}

/* "t <n>" before a line of another thread than the previous line's (lock held). */
static inline void switch_thread(void) {
    if (thread_no == last_thread) return;
    last_thread = thread_no;
    char *p = tw_reserve(&W, 30);
    p = tw_str(p, "t ");
    p = tw_dec(p, (uint64_t)thread_no);
    *p++ = '\n';
    tw_commit(&W, p);
}

static inline void enter(void) {
    busy = 1;
    pthread_mutex_lock(&lock);
    mt_exits_settle();
    if (state == 0) start();
    if (state == 1 && thread_no == 0) {
        thread_no = ++n_threads;
        if (thread_no > 1) {
            char *p = tw_reserve(&W, 100);
            p = tw_str(p, "# thread ");
            p = tw_dec(p, (uint64_t)thread_no);
            p = tw_str(p, " starts allocating after event ");
            p = tw_dec(p, n_events);
            *p++ = '\n';
            p = tw_str(p, "n ");
            p = tw_dec(p, (uint64_t)thread_no);
            *p++ = '\n';
            tw_commit(&W, p);
            mt_exits_watch(thread_no);
        }
    }
    if (state == 1) switch_thread();
}

/* The call site(s) of the allocation, before the lock is taken (libc_stacks.h). */
#define CALL_SITE(st)                                         \
    ls_stack st;                                              \
    busy = 1;                                                 \
    if (ls_frames < 0 && state != 2) ls_init((int *)&busy);   \
    if (state != 2) LS_CAPTURE(&st, __builtin_return_address(0)); \
    else st.n = 0 /* not recording (a child of the recorded process) */

static inline void leave(void) {
    pthread_mutex_unlock(&lock);
    busy = 0;
}

void *malloc(size_t n) {
    if (busy) return __libc_malloc(n);
    CALL_SITE(st);
    enter();
    void *r = __libc_malloc(n);
    if (state == 1) { ls_write(&W, &st); tw_malloc(&W, "libc", n, (uint64_t)(uintptr_t)r); n_events++; rss_note_block(r, n); rss_tick(&W, n_events); }
    leave();
    return r;
}

void *calloc(size_t n, size_t el) {
    if (busy) return __libc_calloc(n, el);
    CALL_SITE(st);
    enter();
    void *r = __libc_calloc(n, el);
    if (state == 1) { ls_write(&W, &st); tw_calloc(&W, "libc", n, el, (uint64_t)(uintptr_t)r); n_events++; rss_note_block(r, n * el); rss_tick(&W, n_events); }
    leave();
    return r;
}

void *realloc(void *p, size_t n) {
    if (busy) return __libc_realloc(p, n);
    CALL_SITE(st);
    enter();
    if (state == 1) rss_forget_block(p);
    void *r = __libc_realloc(p, n);
    if (state == 1) { ls_write(&W, &st); tw_realloc(&W, "libc", (uint64_t)(uintptr_t)p, n, (uint64_t)(uintptr_t)r); n_events++; rss_note_block(r ? r : (n ? p : NULL), n); rss_tick(&W, n_events); }
    leave();
    return r;
}

void free(void *p) {
    if (busy) { __libc_free(p); return; }
    enter();
    if (state == 1) rss_forget_block(p);
    __libc_free(p);
    if (state == 1) { tw_free(&W, "libc", (uint64_t)(uintptr_t)p); n_events++; rss_tick(&W, n_events); }
    leave();
}

static void *aligned(size_t align, size_t n, size_t recorded_n, void *(*fn)(size_t, size_t), void *(*fn1)(size_t), const ls_stack *st) {
    enter();
    void *r = fn ? fn(align, n) : fn1(n);
    if (state == 1) { ls_write(&W, st); tw_memalign(&W, "libc", align, recorded_n, (uint64_t)(uintptr_t)r); n_events++; rss_note_block(r, n); rss_tick(&W, n_events); }
    leave();
    return r;
}

void *memalign(size_t align, size_t n) {
    if (busy) return __libc_memalign(align, n);
    CALL_SITE(st);
    return aligned(align, n, n, __libc_memalign, NULL, &st);
}

/* glibc 2.36: aligned_alloc is the same function as memalign. */
void *aligned_alloc(size_t align, size_t n) {
    if (busy) return __libc_memalign(align, n);
    CALL_SITE(st);
    return aligned(align, n, n, __libc_memalign, NULL, &st);
}

int posix_memalign(void **out, size_t align, size_t n) {
    /* glibc's own argument check, made before any allocation */
    if (align % sizeof(void *) != 0 || ((align / sizeof(void *)) & (align / sizeof(void *) - 1)) != 0 || align == 0)
        return EINVAL;
    void *r;
    if (busy) {
        r = __libc_memalign(align, n);
    } else {
        CALL_SITE(st);
        r = aligned(align, n, n, __libc_memalign, NULL, &st);
    }
    if (!r) return ENOMEM;
    *out = r;
    return 0;
}

/* valloc(n) is memalign(page size, n) in glibc. */
void *valloc(size_t n) {
    if (busy) return __libc_valloc(n);
    CALL_SITE(st);
    return aligned((size_t)sysconf(_SC_PAGESIZE), n, n, NULL, __libc_valloc, &st);
}

/* pvalloc(n) is memalign(page size, rounded) with glibc 2.36's own rounding. */
void *pvalloc(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded;
    if (__builtin_add_overflow(n, page - 1, &rounded)) rounded = 0;
    else rounded &= -(page - 1);
    if (busy) return __libc_pvalloc(n);
    CALL_SITE(st);
    return aligned(page, n, rounded, NULL, __libc_pvalloc, &st);
}

/*
 * malloc_trim and mallopt change glibc's state without allocating: each is written as a
 * comment (older readers skip it), "# malloc_trim <pad> <result>" and
 * "# mallopt <param> <value> <result>" (decimal, param negative: M_TRIM_THRESHOLD is -1),
 * and a replay makes the same call (apps/demo/src/libc-control.ts). Not call events.
 */
typedef int (*malloc_trim_fn)(size_t);
extern int __libc_mallopt(int, int);

static char *signed_dec(char *p, long long v) {
    if (v < 0) { *p++ = '-'; return tw_dec(p, (uint64_t)0 - (uint64_t)v); }
    return tw_dec(p, (uint64_t)v);
}

int malloc_trim(size_t pad) {
    static malloc_trim_fn next_trim;
    if (!next_trim) next_trim = (malloc_trim_fn)mt_next("malloc_trim");
    if (busy) return next_trim(pad);
    enter();
    int r = next_trim(pad);
    if (state == 1) {
        char *p = tw_reserve(&W, 60);
        p = tw_str(p, "# malloc_trim ");
        p = tw_dec(p, (uint64_t)pad);
        *p++ = ' ';
        p = signed_dec(p, r);
        *p++ = '\n';
        tw_commit(&W, p);
    }
    leave();
    return r;
}

int mallopt(int param, int value) {
    if (busy) return __libc_mallopt(param, value);
    enter();
    int r = __libc_mallopt(param, value);
    if (state == 1) {
        char *p = tw_reserve(&W, 60);
        p = tw_str(p, "# mallopt ");
        p = signed_dec(p, param);
        *p++ = ' ';
        p = signed_dec(p, value);
        *p++ = ' ';
        p = signed_dec(p, r);
        *p++ = '\n';
        tw_commit(&W, p);
    }
    leave();
    return r;
}

/*
 * fork(): the lock is taken around it, so that no other thread holds it in the child
 * (which would deadlock there); the child records nothing (its copy of the buffer is
 * dropped; if it execs, the new image's shim finds the parent's lock on the trace).
 */
static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_parent(void) { pthread_mutex_unlock(&lock); }
static void fork_child(void) {
    pthread_mutex_init(&lock, NULL);
    if (state == 1) state = 2;
    W.fd = -1;
    W.len = 0;
}

/* ---- leaving without exit(): _exit, fatal signals, exec (exit_paths.h) ------------- */

/* Writes "<prefix><what>: N events" and flushes; only in the recording process. */
static void emergency_line(const char *prefix, const char *what) {
    if (state != 1 || W.fd < 0 || getpid() != W.owner) return;
    int locked = mt_emergency_lock(&lock, busy);
    if (state == 1) {
        char *p = tw_reserve(&W, 600);
        p = tw_str(p, prefix);
        size_t n = 0;
        while (what[n] && n < 400) {
            *p++ = (what[n] == '\n' || what[n] == '\r') ? ' ' : what[n];
            n++;
        }
        p = tw_str(p, ": ");
        p = tw_dec(p, n_events);
        p = tw_str(p, " events\n");
        tw_commit(&W, p);
        tw_flush(&W);
    }
    if (locked) pthread_mutex_unlock(&lock);
}

/* _exit, _Exit or a fatal signal: "# end _exit(3): N events", "# end SIGABRT: N events". */
static int mt_end(const char *what, int how) {
    (void)how;
    emergency_line("# end ", what);
    return state == 1 && getpid() == W.owner;
}

/* "# exec <path>: N events" before the new image replaces this one (which, if the shim is
   preloaded into it, takes the trace over: see claim()). */
static void mt_exec_begin(const char *path) { emergency_line("# exec ", path); }

/* The exec failed: the recording goes on. */
static void mt_exec_failed(void) {
    if (state != 1 || getpid() != W.owner) return;
    pthread_mutex_lock(&lock);
    tw_line(&W, "# exec failed");
    pthread_mutex_unlock(&lock);
}

/* SIGINT, SIGPIPE and SIGXFSZ too: a C program usually leaves them at the default. */
static const int caught_signals[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGINT,
                                      SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGXCPU, SIGXFSZ };

/* glibc's sigaction and signal: the next definitions (resolved by the constructor, or on first use). */
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef mt_handler_t (*signal_fn)(int, mt_handler_t);
static sigaction_fn next_sigaction;
static signal_fn next_signal;

static int mt_glibc_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!next_sigaction) next_sigaction = (sigaction_fn)mt_next("sigaction");
    if (!next_sigaction) { errno = ENOSYS; return -1; }
    return next_sigaction(sig, act, old);
}

static mt_handler_t mt_glibc_signal(int sig, mt_handler_t handler) {
    if (!next_signal) next_signal = (signal_fn)mt_next("signal");
    if (!next_signal) { errno = ENOSYS; return SIG_ERR; }
    return next_signal(sig, handler);
}

/* Start when the shim is loaded, so that a program making no call still leaves a trace. */
__attribute__((constructor)) static void begin(void) {
    if (busy) return;
    /* glibc keeps the first fork handlers in static storage: this allocates nothing */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    ls_init((int *)&busy); /* before the lock: backtrace's first call takes the loader's */
    enter();
    leave();
    if (state == 1) {
        /* resolve glibc's sigaction and signal now, not first inside a signal handler */
        if (!next_sigaction) next_sigaction = (sigaction_fn)mt_next("sigaction");
        if (!next_signal) next_signal = (signal_fn)mt_next("signal");
        mt_install_handlers(caught_signals, sizeof caught_signals / sizeof caught_signals[0]);
    }
}

__attribute__((destructor)) static void finish(void) {
    pthread_mutex_lock(&lock);
    if (state == 1) {
        if (rss_every != 0) rss_write(&W, n_events);
        char *p = tw_reserve(&W, 100);
        p = tw_str(p, "# exit: ");
        p = tw_dec(p, n_events);
        p = tw_str(p, " events; later lines come from exit handlers\n");
        tw_commit(&W, p);
        tw_flush(&W);
        W.unbuffered = 1;
        mt_ended = 1;
    }
    pthread_mutex_unlock(&lock);
}
