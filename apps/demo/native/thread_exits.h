/*
 * thread_exits.h: the "x <n>" line of an exiting thread, and the wait that keeps glibc's exit
 * work for that thread before any later call of another thread. Shared by memtrace_libc.c
 * (the LD_PRELOAD shim) and memtrace_python.c (the CPython recorder).
 *
 *   thread 2: last call ... returns --TSD destructor--> mt_thread_exit: "x 2", its tid noted
 *                                  then, unrecorded: glibc's exit work (tcache_thread_shutdown,
 *                                  the arena to the free list), then the kernel's exit
 *   thread 1: malloc --mt_exits_settle--> waits, lock released, until thread 2 is gone
 *                                  (tgkill(tid, 0) fails with ESRCH), then its call is served
 *
 * A numbered thread (not the first) gets the key's value with mt_exits_watch(n) when it is
 * numbered; its destructor (run before glibc's __libc_thread_freeres) writes "x <n>" after the
 * thread's last recorded call. A thread never waits for itself (other TSD destructors may still
 * call free after "x"). Threads exit in the order of their "x" lines: a destructor waits too.
 *
 * The wait ends at the latest MT_EXIT_WAIT_NS after it began: the caller may hold a lock the
 * exiting thread needs after its malloc work (a pthread_create holds the stack cache lock while
 * it callocs the new thread's DTV), and by then that work is most probably done; the trace says
 * so ("# exit of thread N unconfirmed: ..."; the replay warns there). The bound is 2 s. A wait
 * ends as soon as the thread is gone: on a quiet machine a median of 10 to 540 us after it
 * began, at most 12 ms; on this 2-core machine under load (four busy loops, two of them pinned, and
 * a vitest file running beside), a program starting 1,000 detached threads in fours waited
 * 1,751 times over 8 runs: median 8 ms, 99th percentile 89 ms, 15 waits over 100 ms (the former
 * bound: each would have been "unconfirmed" had the thread not gone by the next check), the
 * longest 530 ms. 2 s is four times that; none of the 10,400 waits measured (quiet and loaded,
 * 100 ms and 2 s builds) ended at its bound. The whole 2 s is spent only where the exiting
 * thread cannot go on without the waiter.
 *
 * The including file has, before #include: `W` (its trace_writer), `lock` (its mutex, held by
 * every caller below) and defines MT_PASS_THROUGH (its thread-local pass-through counter:
 * while non-zero, its allocator wrappers pass calls through unrecorded) and MT_RECORDING (an
 * expression: whether lines are written now). It calls mt_exits_init() once, when the
 * recording starts, mt_exits_watch(n) when it numbers a thread n > 1 (that thread calling),
 * and mt_exits_settle() before it serves a call (lock held).
 */
#ifndef MEMTRACE_THREAD_EXITS_H
#define MEMTRACE_THREAD_EXITS_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "trace_writer.h"

#if !defined(MT_PASS_THROUGH) || !defined(MT_RECORDING)
#error "define MT_PASS_THROUGH and MT_RECORDING before including thread_exits.h"
#endif

/* How long a call waits at most for an exited thread to be gone (see above). */
#define MT_EXIT_WAIT_NS 2000000000LL

static pthread_key_t mt_exit_key;  /* its destructor writes "x <n>" */
static pid_t mt_exiting[256];      /* kernel tids of threads past their "x" line (lock held) */
static int mt_exiting_no[256];     /* and their thread numbers */
static int mt_n_exiting;

static long long mt_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Waits (lock released while it yields) until every other thread past its "x" line is gone. */
static void mt_wait_for_exits(void) {
    pid_t self = (pid_t)syscall(SYS_gettid);
    pid_t pid = getpid();
    long long deadline = 0;
    for (int i = 0; i < mt_n_exiting;) {
        if (mt_exiting[i] == self) {
            i++;
        } else if (syscall(SYS_tgkill, pid, mt_exiting[i], 0) == 0 && (deadline == 0 || mt_now_ns() < deadline)) {
            if (deadline == 0) deadline = mt_now_ns() + MT_EXIT_WAIT_NS;
            pthread_mutex_unlock(&lock);
            sched_yield();
            pthread_mutex_lock(&lock);
            i = 0;
        } else {
            if ((MT_RECORDING) && syscall(SYS_tgkill, pid, mt_exiting[i], 0) == 0) {
                char *p = tw_reserve(&W, 120);
                p = tw_str(p, "# exit of thread ");
                p = tw_dec(p, (uint64_t)mt_exiting_no[i]);
                p = tw_str(p, " unconfirmed: glibc's exit work for it may come after this line\n");
                tw_commit(&W, p);
            }
            mt_n_exiting--;
            mt_exiting[i] = mt_exiting[mt_n_exiting];
            mt_exiting_no[i] = mt_exiting_no[mt_n_exiting];
        }
    }
}

/* Before a call is served (lock held): no exited thread's exit work is still to come. */
static inline void mt_exits_settle(void) {
    if (mt_n_exiting != 0) mt_wait_for_exits();
}

/* Destructor of mt_exit_key, run when a numbered thread exits: "x <n>". */
static void mt_thread_exit(void *value) {
    int no = (int)(uintptr_t)value;
    MT_PASS_THROUGH++;
    pthread_mutex_lock(&lock);
    mt_exits_settle(); /* threads exit in the order of their "x" lines */
    if (MT_RECORDING) {
        if (mt_n_exiting < (int)(sizeof mt_exiting / sizeof mt_exiting[0])) {
            mt_exiting_no[mt_n_exiting] = no;
            mt_exiting[mt_n_exiting++] = (pid_t)syscall(SYS_gettid);
        }
        char *p = tw_reserve(&W, 30);
        p = tw_str(p, "x ");
        p = tw_dec(p, (uint64_t)no);
        *p++ = '\n';
        tw_commit(&W, p);
    }
    pthread_mutex_unlock(&lock);
    MT_PASS_THROUGH--;
}

/* Once, when the recording starts. */
static void mt_exits_init(void) {
    pthread_key_create(&mt_exit_key, mt_thread_exit);
}

/* The calling thread was just numbered n (> 1): its exit writes "x <n>". */
static void mt_exits_watch(int n) {
    pthread_setspecific(mt_exit_key, (void *)(uintptr_t)n);
}

#endif
