/*
 * py_frames.h: the Python traceback of the current allocation, as tracemalloc (CPython 3.11)
 * sees it, written to the trace as interned source-location records:
 *
 *   #F <id> <lineno> <filename>     a frame, written once (filename escaped)
 *   #T <id> <total> <frame-id>...   a traceback, most recent first, written once
 *   #S <traceback-id>               written before an allocation event whose traceback
 *                                   differs from the previous allocation's
 *
 * How tracemalloc gets a traceback (Python/tracemalloc.c, 3.11): traceback_get_frames()
 * takes the calling thread's state with PyGILState_GetThisThreadState() (none: no frame),
 * then walks tstate->cframe->current_frame and its ->previous links (_PyInterpreterFrame,
 * the interpreter's own frames: no frame object is created, nothing allocated), skipping
 * incomplete frames (still in their prologue: MAKE_CELL's cells belong to the caller's
 * line, checked against 3.11.7 with a closure program), keeping
 * the first max_nframe frames and counting all of them (total_nframe, at most 65535). For
 * each frame: the line is PyCode_Addr2Line(f_code, lasti * sizeof(_Py_CODEUNIT)) (0 when
 * negative), the file name f_code->co_filename (tracemalloc's "<unknown>" when it is not a
 * str). With no frame at all the traceback is tracemalloc's empty traceback: one frame
 * "<unknown>" line 0, total 1. This file does the same walk, reading the same fields.
 *
 * Nothing here allocates through PyMem or malloc (the tables live in mmapped memory), so
 * the recording adds no allocation of its own to the trace or to glibc's heap; it runs
 * under the recorder's lock.
 */
#ifndef MEMTRACE_PY_FRAMES_H
#define MEMTRACE_PY_FRAMES_H

#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#define PF_SUPPORTED 1
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#include "internal/pycore_frame.h"
#undef _PyGC_FINALIZED /* Python.h's public spelling; pycore_gc.h defines the internal one */
#include "internal/pycore_gc.h"
#else
#define PF_SUPPORTED 0
#endif

#include "ptr_map.h"
#include "trace_writer.h"

#define PF_MAX_FRAMES 65535 /* tracemalloc's limit (MAX_NFRAME: UINT16_MAX) */

/* ---- bump storage in mmapped chunks (never freed: the recorder's lifetime) ---- */

static char *pf_chunk;
static size_t pf_chunk_left;

static void *pf_store(size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (n > pf_chunk_left) {
        size_t size = n > ((size_t)1 << 20) ? n : ((size_t)1 << 20);
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        pf_chunk = p;
        pf_chunk_left = size;
    }
    void *r = pf_chunk;
    pf_chunk += n;
    pf_chunk_left -= n;
    return r;
}

/* ---- file names: interned by content (kind, length, code units) ---- */

typedef struct {
    uint32_t kind, len;
    const void *data; /* a copy of the code units */
    int kept;         /* a str object of this name is kept alive, as tracemalloc's table keeps it */
} pf_name;

static pf_name *pf_names;     /* by filename id - 1 */
static size_t pf_nnames, pf_cap_names;
static ptr_map pf_name_by_hash; /* content hash (never 0) -> id; collisions probe hash + 1 */

/* A small cache from the str object's address to its id, checked against the content. */
#define PF_CACHE 4096
static struct { const void *obj; uint32_t id; } pf_cache[PF_CACHE];

static uint64_t pf_hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int pf_same_name(const pf_name *n, uint32_t kind, uint32_t len, const void *data) {
    return n->kind == kind && n->len == len && memcmp(n->data, data, (size_t)kind * len) == 0;
}

/* The id of file name `s` (a str), 0 when out of memory. */
static inline uint32_t pf_filename_id(PyObject *s) {
    uint32_t kind = (uint32_t)PyUnicode_KIND(s);
    uint32_t len = (uint32_t)PyUnicode_GET_LENGTH(s);
    const void *data = PyUnicode_DATA(s);
    size_t slot = ((uintptr_t)s >> 4) & (PF_CACHE - 1);
    if (pf_cache[slot].obj == s && pf_same_name(&pf_names[pf_cache[slot].id - 1], kind, len, data)) return pf_cache[slot].id;
    uint64_t h = pf_hash_bytes(1469598103934665603ull ^ kind ^ ((uint64_t)len << 8), data, (size_t)kind * len);
    for (;;) {
        if (h == 0) h = 1;
        uint64_t id;
        if (!pm_get(&pf_name_by_hash, h, &id)) break;
        if (pf_same_name(&pf_names[id - 1], kind, len, data)) {
            pf_cache[slot].obj = s;
            pf_cache[slot].id = (uint32_t)id;
            return (uint32_t)id;
        }
        h++;
    }
    if (pf_nnames == pf_cap_names) {
        size_t cap = pf_cap_names ? pf_cap_names * 2 : 1024;
        pf_name *grown = pf_store(cap * sizeof *grown);
        if (!grown) return 0;
        if (pf_nnames) memcpy(grown, pf_names, pf_nnames * sizeof *grown);
        pf_names = grown;
        pf_cap_names = cap;
    }
    void *copy = pf_store((size_t)kind * len + 1);
    if (!copy) return 0;
    memcpy(copy, data, (size_t)kind * len);
    pf_names[pf_nnames] = (pf_name){ kind, len, copy, 0 };
    uint32_t id = (uint32_t)++pf_nnames;
    pm_put(&pf_name_by_hash, h, id);
    pf_cache[slot].obj = s;
    pf_cache[slot].id = id;
    return id;
}

/* Writes code point c of a file name, escaped as the trace format says. */
static char *pf_put_char(char *p, uint32_t c) {
    static const char hex[] = "0123456789abcdef";
    if (c == '\\') { *p++ = '\\'; *p++ = '\\'; }
    else if (c == '\n') { *p++ = '\\'; *p++ = 'n'; }
    else if (c == '\r') { *p++ = '\\'; *p++ = 'r'; }
    else if (c == '\t') { *p++ = '\\'; *p++ = 't'; }
    else if (c < 0x20 || c == 0x7f) { *p++ = '\\'; *p++ = 'x'; *p++ = hex[c >> 4]; *p++ = hex[c & 15]; }
    else if (c < 0x80) *p++ = (char)c;
    else if (c < 0x800) { *p++ = (char)(0xc0 | (c >> 6)); *p++ = (char)(0x80 | (c & 63)); }
    else if (c >= 0xd800 && c <= 0xdfff) {
        /* a lone surrogate (surrogateescape): not UTF-8-encodable */
        *p++ = '\\'; *p++ = 'u';
        *p++ = hex[(c >> 12) & 15]; *p++ = hex[(c >> 8) & 15]; *p++ = hex[(c >> 4) & 15]; *p++ = hex[c & 15];
    } else if (c < 0x10000) {
        *p++ = (char)(0xe0 | (c >> 12)); *p++ = (char)(0x80 | ((c >> 6) & 63)); *p++ = (char)(0x80 | (c & 63));
    } else {
        *p++ = (char)(0xf0 | (c >> 18)); *p++ = (char)(0x80 | ((c >> 12) & 63));
        *p++ = (char)(0x80 | ((c >> 6) & 63)); *p++ = (char)(0x80 | (c & 63));
    }
    return p;
}

/* ---- frames: (filename id, line) -> frame id ---- */

static ptr_map pf_frame_by_key;
static uint64_t pf_nframes_defined;

/* Writes "#F <id> <lineno> <filename>" for a new frame. */
static void pf_write_frame(trace_writer *w, uint64_t id, uint32_t lineno, uint32_t fid) {
    if (fid == 0) {
        char *p = tw_reserve(w, 64);
        p = tw_str(p, "#F ");
        p = tw_dec(p, id);
        *p++ = ' ';
        p = tw_dec(p, lineno);
        p = tw_str(p, " <unknown>\n");
        tw_commit(w, p);
        return;
    }
    const pf_name *n = &pf_names[fid - 1];
    size_t need = 48 + (size_t)n->len * 6;
    if (need > TW_BUFSIZE) return;
    char *p = tw_reserve(w, need);
    p = tw_str(p, "#F ");
    p = tw_dec(p, id);
    *p++ = ' ';
    p = tw_dec(p, lineno);
    *p++ = ' ';
    for (uint32_t i = 0; i < n->len; i++) {
        uint32_t c = n->kind == 1 ? ((const uint8_t *)n->data)[i] : n->kind == 2 ? ((const uint16_t *)n->data)[i] : ((const uint32_t *)n->data)[i];
        p = pf_put_char(p, c);
    }
    *p++ = '\n';
    tw_commit(w, p);
}

/* The id of frame (fid, lineno), writing its #F line the first time. fid 0 = "<unknown>". */
static uint64_t pf_frame_id(trace_writer *w, uint32_t fid, uint32_t lineno) {
    uint64_t key = ((uint64_t)fid << 32 | lineno) + 1;
    uint64_t id;
    if (pm_get(&pf_frame_by_key, key, &id)) return id;
    id = ++pf_nframes_defined;
    pm_put(&pf_frame_by_key, key, id);
    pf_write_frame(w, id, lineno, fid);
    return id;
}

/* ---- tracebacks: (total, frame ids) -> traceback id ---- */

typedef struct {
    uint32_t n, total;
    const uint64_t *frames;
} pf_tb;

static pf_tb *pf_tbs;
static size_t pf_ntbs, pf_cap_tbs;
static ptr_map pf_tb_by_hash;
static uint64_t pf_last_tb; /* the traceback of the last #S line, 0 = none yet */

static uint64_t pf_traceback_id(trace_writer *w, const uint64_t *frames, uint32_t n, uint32_t total) {
    uint64_t h = pf_hash_bytes(pf_hash_bytes(1469598103934665603ull, &total, sizeof total), frames, n * sizeof *frames);
    for (;;) {
        if (h == 0) h = 1;
        uint64_t id;
        if (!pm_get(&pf_tb_by_hash, h, &id)) break;
        const pf_tb *t = &pf_tbs[id - 1];
        if (t->n == n && t->total == total) {
            uint32_t i = 0;
            while (i < n && t->frames[i] == frames[i]) i++;
            if (i == n) return id;
        }
        h++;
    }
    if (pf_ntbs == pf_cap_tbs) {
        size_t cap = pf_cap_tbs ? pf_cap_tbs * 2 : 4096;
        pf_tb *grown = pf_store(cap * sizeof *grown);
        if (!grown) return 0;
        if (pf_ntbs) memcpy(grown, pf_tbs, pf_ntbs * sizeof *grown);
        pf_tbs = grown;
        pf_cap_tbs = cap;
    }
    uint64_t *copy = pf_store(n * sizeof *copy);
    if (!copy) return 0;
    memcpy(copy, frames, n * sizeof *copy);
    pf_tbs[pf_ntbs] = (pf_tb){ n, total, copy };
    uint64_t id = ++pf_ntbs;
    pm_put(&pf_tb_by_hash, h, id);
    char *p = tw_reserve(w, 48 + (size_t)n * 21);
    p = tw_str(p, "#T ");
    p = tw_dec(p, id);
    *p++ = ' ';
    p = tw_dec(p, total);
    for (uint32_t i = 0; i < n; i++) {
        *p++ = ' ';
        p = tw_dec(p, frames[i]);
    }
    *p++ = '\n';
    tw_commit(w, p);
    return id;
}

/* ---- line numbers: PyCode_Addr2Line scans the code's line table from its start, so each
 * (code, instruction) answer is cached; an entry also names the line table object, so that
 * a new code object at a freed one's address does not take its lines ---- */

#if PF_SUPPORTED
#define PF_LINES 16384
static struct { const void *code, *table; int lasti, line; } pf_lines[PF_LINES];

static int pf_line(PyCodeObject *code, int lasti) {
    size_t slot = (((uintptr_t)code >> 4) ^ ((size_t)lasti * 0x9e3779b1u)) & (PF_LINES - 1);
    const void *table = code->co_linetable;
    if (pf_lines[slot].code == code && pf_lines[slot].lasti == lasti && pf_lines[slot].table == table) return pf_lines[slot].line;
    int line = PyCode_Addr2Line(code, lasti * (int)sizeof(_Py_CODEUNIT));
    if (line < 0) line = 0;
    pf_lines[slot].code = code;
    pf_lines[slot].table = table;
    pf_lines[slot].lasti = lasti;
    pf_lines[slot].line = line;
    return line;
}
#endif

/* ---- the walk ---- */

static int pf_max_frames; /* 0: no stacks recorded */
/*
 * From where `python -X tracemalloc` would start tracing (pf_keep_names set by the recorder),
 * the first str object of each file name met in a frame is kept alive with a reference, as
 * tracemalloc's filename table (tracemalloc_filenames, interned by value) keeps it: without
 * this, the filename strings of code objects the program drops (exec'd code, temporary
 * modules) are freed in the recording and stay allocated under real tracemalloc.
 */
static int pf_keep_names __attribute__((unused));
static __thread uint64_t pf_fresh; /* the block this thread allocated last (its object not yet initialised) */
static uint64_t *pf_scratch;

/* Prepares the tables; max_frames in 1..65535. Returns 0 when out of memory. */
static int pf_init(int max_frames) {
    pf_max_frames = max_frames;
    pf_scratch = pf_store((size_t)max_frames * sizeof *pf_scratch);
    return pf_scratch && pm_init(&pf_name_by_hash, 1 << 10) && pm_init(&pf_frame_by_key, 1 << 12) && pm_init(&pf_tb_by_hash, 1 << 12);
}

/*
 * Writes the source-location records of the current allocation: its traceback's #F/#T
 * lines the first time, and "#S <id>" when it differs from the last one written. Call it
 * with the lock held, just before the allocation's event line.
 */
static void pf_stack(trace_writer *w) {
    uint32_t n = 0, total = 0;
#if PF_SUPPORTED
    PyThreadState *ts = PyGILState_GetThisThreadState();
    _PyInterpreterFrame *f = ts && ts->cframe ? ts->cframe->current_frame : NULL;
    for (; f != NULL; f = f->previous) {
        /* a frame still running its prologue (MAKE_CELL, COPY_FREE_VARS) is not counted */
        if (_PyFrame_IsIncomplete(f)) continue;
        if (n < (uint32_t)pf_max_frames) {
            PyCodeObject *code = f->f_code;
            int line = pf_line(code, _PyInterpreterFrame_LASTI(f));
            PyObject *name = code->co_filename;
            uint32_t fid = name != NULL && PyUnicode_Check(name) && PyUnicode_IS_READY(name) ? pf_filename_id(name) : 0;
            /* only with the GIL held: a raw-domain call from a thread without it must not touch a
               reference count (tracemalloc takes the GIL there; the recorder does not) */
            if (fid != 0 && pf_keep_names && !pf_names[fid - 1].kept && PyGILState_Check()) {
                Py_INCREF(name);
                pf_names[fid - 1].kept = 1;
            }
            pf_scratch[n++] = pf_frame_id(w, fid, (uint32_t)line);
        }
        if (total < PF_MAX_FRAMES) total++;
    }
#endif
    if (n == 0) {
        /* tracemalloc's empty traceback: <unknown>, line 0, total 1 */
        pf_scratch[0] = pf_frame_id(w, 0, 0);
        n = 1;
        total = 1;
    }
    uint64_t id = pf_traceback_id(w, pf_scratch, n, total);
    if (id != 0 && id != pf_last_tb) {
        char *p = tw_reserve(w, 32);
        p = tw_str(p, "#S ");
        p = tw_dec(p, id);
        *p++ = '\n';
        tw_commit(w, p);
        pf_last_tb = id;
    }
}

#endif
