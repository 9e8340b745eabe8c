/*
 * exit_paths.h: the ways out of a recorded process that skip exit() and its handlers, so
 * that the trace's buffered tail is still written and the trace still ends with an end line.
 * Shared by memtrace_libc.c (the LD_PRELOAD shim) and memtrace_python.c (the CPython
 * recorder); each says how its trace ends (below), this header does the rest the same way:
 *
 *   _exit(3), _Exit(3)   interposed: the end "_exit(3)", then exit_group(3) as glibc does
 *   a fatal or           a handler on an alternate stack (a stack overflow's SIGSEGV too), set
 *   terminating signal   only where the action was the default: the end "SIGABRT", then the
 *                        handler is gone (SA_RESETHAND) and the signal is raised again
 *                        (SA_NODEFER): the process dies of it, with the same exit status
 *   sigaction, signal    interposed: a signal whose handler is the recorder's looks like SIG_DFL
 *                        to the program, as without the recorder (CPython makes SIGINT raise
 *                        KeyboardInterrupt only where it finds SIG_DFL); a handler the
 *                        program sets replaces the recorder's
 *   the exec family      execve, execv, execvp, execvpe, fexecve, execveat, and execl, execlp,
 *                        execle (glibc's call its internal __execve, not the interposed one:
 *                        they gather their arguments on the stack and call the v forms here):
 *                        the shim's "before exec" write; if the exec returns, "exec failed"
 *
 *   program --_exit(3)--> [exit_paths.h] --mt_end("_exit(3)", MT_END_EXIT)--> [shim] writes
 *                              |                                                "# end _exit(3): N events..."
 *                              +--SYS_exit_group(3)--> kernel
 *
 * The including file is compiled with _GNU_SOURCE (RTLD_NEXT, execvpe) and defines, before
 * #include, MT_PASS_THROUGH: an lvalue (a thread-local
 * int) that, while non-zero, makes the shim's own allocator wrappers pass calls through
 * unrecorded (dlsym may allocate). It defines these functions, declared here:
 *
 *   int  mt_end(what, how)     writes "# end <what>: N events..." and flushes; how is
 *                              MT_END_SIGNAL (in a signal handler, which may have interrupted
 *                              this very shim: the lock may be held by this or another
 *                              thread; no malloc) or MT_END_EXIT. Returns 1 when the trace has ended here (the end
 *                              line is written; no later one may be).
 *   void mt_exec_begin(path)   before the new image replaces this one
 *   void mt_exec_failed(void)  the exec returned (errno is kept around it)
 *   int  mt_glibc_sigaction(), mt_handler_t mt_glibc_signal()   glibc's own two
 *
 * mt_end, mt_exec_begin and mt_exec_failed are not called once mt_ended is set (by a
 * previous end, or by the shim itself when its trace ended normally). The shim calls
 * mt_install_handlers(its signals, their number) once, when its recording has started.
 */
#ifndef MEMTRACE_EXIT_PATHS_H
#define MEMTRACE_EXIT_PATHS_H

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MT_PASS_THROUGH
#error "define MT_PASS_THROUGH (the shim's thread-local pass-through counter) before including exit_paths.h"
#endif

enum { MT_END_SIGNAL = 1, MT_END_EXIT = 2 };
typedef void (*mt_handler_t)(int);

static int mt_end(const char *what, int how);
static void mt_exec_begin(const char *path);
static void mt_exec_failed(void);
static int mt_glibc_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
static mt_handler_t mt_glibc_signal(int sig, mt_handler_t handler);

static volatile sig_atomic_t mt_ended;       /* the trace has its end line: nothing more is written */
static volatile sig_atomic_t mt_handles[65]; /* signals whose handler is the recorder's */

static const char *mt_signal_name(int sig) {
    switch (sig) {
    case SIGABRT: return "SIGABRT";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    case SIGPIPE: return "SIGPIPE";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    default: return "a signal"; /* not reached: every signal a shim catches is named above */
    }
}

/*
 * Takes `lock` for an emergency write (in a signal handler: never blocks for good): tried for
 * at most 200 ms. Returns 1 if taken. When `own` (this thread is inside the shim, so the lock
 * is probably its own) it is not tried at all. Without it, the caller writes anyway: a line
 * is committed to the buffer only once whole, so writing after the last committed one is safe.
 */
static int mt_emergency_lock(pthread_mutex_t *lock, int own) {
    if (own) return 0;
    for (int i = 0; i < 200; i++) {
        if (pthread_mutex_trylock(lock) == 0) return 1;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    return 0; /* another thread is stuck holding it */
}

/* The next definition of `name` (glibc's). dlsym may allocate: passed through, unrecorded. */
static void *mt_next(const char *name) {
    MT_PASS_THROUGH++;
    void *f = dlsym(RTLD_NEXT, name);
    MT_PASS_THROUGH--;
    return f;
}

/* ---- signals ---------------------------------------------------------------------- */

/* A signal that ends the process: the end line, then death by it as the default action would. */
static void mt_on_fatal_signal(int sig) {
    int saved = errno;
    if (!mt_ended && mt_end(mt_signal_name(sig), MT_END_SIGNAL)) mt_ended = 1;
    /* SA_RESETHAND put the default action back and SA_NODEFER lets it be delivered now. A
       fault (SIGSEGV of a bad access) would also recur on return; raising ends it here. */
    if (sig > 0 && sig < 65) mt_handles[sig] = 0;
    raise(sig);
    errno = saved;
}

static char mt_alt_stack[1 << 16]; /* so that a stack overflow's SIGSEGV can still be handled */

/* The handler for each of `sigs` whose action is the default (an ignored or handled one is left alone). */
static void mt_install_handlers(const int *sigs, size_t n) {
    stack_t old_ss;
    if (sigaltstack(NULL, &old_ss) == 0 && (old_ss.ss_flags & SS_DISABLE)) {
        stack_t ss = { .ss_sp = mt_alt_stack, .ss_size = sizeof mt_alt_stack, .ss_flags = 0 };
        sigaltstack(&ss, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        int sig = sigs[i];
        struct sigaction old;
        if (mt_glibc_sigaction(sig, NULL, &old) != 0) continue;
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = mt_on_fatal_signal;
        sigfillset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
        if (mt_glibc_sigaction(sig, &sa, NULL) == 0 && sig > 0 && sig < 65) mt_handles[sig] = 1;
    }
}

/* What the program sees of the recorder's handlers: SIG_DFL, until it sets one of its own. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    int mine = sig > 0 && sig < 65 && mt_handles[sig];
    int r = mt_glibc_sigaction(sig, act, old);
    if (r == 0 && mine) {
        if (old) {
            memset(old, 0, sizeof *old);
            old->sa_handler = SIG_DFL;
        }
        if (act) mt_handles[sig] = 0;
    }
    return r;
}

mt_handler_t signal(int sig, mt_handler_t handler) {
    int mine = sig > 0 && sig < 65 && mt_handles[sig];
    mt_handler_t r = mt_glibc_signal(sig, handler);
    if (r != SIG_ERR && mine) {
        mt_handles[sig] = 0;
        return SIG_DFL;
    }
    return r;
}

/* ---- _exit and _Exit: they skip every exit handler ---------------------------------- */

static void __attribute__((noreturn)) mt_exit_now(int status, const char *name) {
    if (!mt_ended) {
        /* "<name>(<status & 0xff>)", without stdio */
        char what[32];
        size_t len = strlen(name);
        memcpy(what, name, len);
        what[len++] = '(';
        unsigned v = (unsigned)status & 0xff;
        if (v >= 100) what[len++] = (char)('0' + v / 100);
        if (v >= 10) what[len++] = (char)('0' + v / 10 % 10);
        what[len++] = (char)('0' + v % 10);
        what[len++] = ')';
        what[len] = 0;
        if (mt_end(what, MT_END_EXIT)) mt_ended = 1;
    }
    for (;;) syscall(SYS_exit_group, status);
}

void _exit(int status) { mt_exit_now(status, "_exit"); }
void _Exit(int status) { mt_exit_now(status, "_Exit"); }

/* ---- the exec family --------------------------------------------------------------- */

static void mt_before_exec(const char *path) {
    if (!mt_ended) mt_exec_begin(path ? path : "?");
}

static void mt_after_exec(void) {
    if (mt_ended) return;
    int saved = errno;
    mt_exec_failed();
    errno = saved;
}

typedef int (*mt_execve_fn)(const char *, char *const[], char *const[]);
typedef int (*mt_execv_fn)(const char *, char *const[]);
typedef int (*mt_fexecve_fn)(int, char *const[], char *const[]);
typedef int (*mt_execveat_fn)(int, const char *, char *const[], char *const[], int);

int execve(const char *path, char *const argv[], char *const envp[]) {
    static mt_execve_fn next;
    if (!next) next = (mt_execve_fn)mt_next("execve");
    mt_before_exec(path);
    int r = next ? next(path, argv, envp) : (int)syscall(SYS_execve, path, argv, envp);
    mt_after_exec();
    return r;
}

/* The others: the same, with ENOSYS if glibc's definition is not found. */
#define MT_EXEC(fn_t, name, params, shown, args)              \
    int name params {                                         \
        static fn_t next;                                     \
        if (!next) next = (fn_t)mt_next(#name);               \
        mt_before_exec(shown);                                \
        int r = next ? next args : (errno = ENOSYS, -1);      \
        mt_after_exec();                                      \
        return r;                                             \
    }

MT_EXEC(mt_execv_fn, execv, (const char *path, char *const argv[]), path, (path, argv))
MT_EXEC(mt_execv_fn, execvp, (const char *file, char *const argv[]), file, (file, argv))
MT_EXEC(mt_execve_fn, execvpe, (const char *file, char *const argv[], char *const envp[]), file, (file, argv, envp))
MT_EXEC(mt_fexecve_fn, fexecve, (int fd, char *const argv[], char *const envp[]), "(file descriptor)", (fd, argv, envp))
MT_EXEC(mt_execveat_fn, execveat, (int dirfd, const char *path, char *const argv[], char *const envp[], int flags), path, (dirfd, path, argv, envp, flags))

/* execl, execlp, execle: the arguments gathered on the stack (no malloc), then the v forms. */
#define MT_GATHER_ARGS(first, ap, argv)                  \
    size_t argc_ = 1;                                    \
    va_start(ap, first);                                 \
    while (va_arg(ap, const char *) != NULL) argc_++;    \
    va_end(ap);                                          \
    const char *argv[argc_ + 1];                         \
    argv[0] = first;                                     \
    va_start(ap, first);                                 \
    for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap, const char *);

int execl(const char *path, const char *arg, ...) {
    va_list ap;
    MT_GATHER_ARGS(arg, ap, argv)
    va_end(ap);
    return execv(path, (char *const *)argv);
}

int execlp(const char *file, const char *arg, ...) {
    va_list ap;
    MT_GATHER_ARGS(arg, ap, argv)
    va_end(ap);
    return execvp(file, (char *const *)argv);
}

int execle(const char *path, const char *arg, ...) {
    va_list ap;
    MT_GATHER_ARGS(arg, ap, argv)
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, (char *const *)argv, envp);
}

#endif
