/* The sampler: samples one thread's Python stack at most once per interval.
 *
 * Between samples nothing is installed: the program runs at full speed. A
 * timer thread waits for the deadline (counted from the end of the previous
 * sample, so deep stacks cannot make sampling spiral) and re-arms; how it
 * re-arms depends on the CPython version (compat.h). The hook, or the pending
 * call, walks the stack in C, interns frames through the frame cache and folds
 * the stack into the session's call tree. It never raises into the program:
 * failures become flags that stop() turns into session errors.
 *
 * Weighting: a sample at event time t carries the time since the previous
 * sample at t_prev. The program may have changed what it does anywhere in
 * [t_prev, fire], where `fire` is when the timer re-armed; from `fire` to t no
 * event happened (the hook would have fired), so that part surely belongs to
 * the new stack. The unknown part is split in half between the previous and
 * the new stack, the unbiased choice when the change point is uniform in it.
 * tests/benchmarks/accuracy.py compares this with plain elapsed-time weighting.
 */
#include "ext.h"
#include "clock.h"
#include "framecache.h"
#include "framewalk.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum {
    ST_IDLE = 0,    /* not sampling */
    ST_WAITING = 1, /* disarmed; the timer counts down to the deadline */
    ST_FIRED = 2,   /* the timer asked for a re-arm */
    ST_ARMED = 3,   /* signal path: the hook is installed */
    ST_CCALL = 4,   /* signal path: sampled at c_call, waiting for its c_return */
    ST_OFF = 5,     /* gave up (hook displaced, thread gone) */
};

enum {
    ERR_NOMEM = 1 << 0,
    ERR_DISPLACED = 1 << 1,
    ERR_THREAD_GONE = 1 << 2,
    ERR_FIRE = 1 << 3,
    ERR_NAME = 1 << 4,
    ERR_FORKED = 1 << 5,
    ERR_PENDING_FULL = 1 << 6,
    ERR_NO_HOLDER = 1 << 30, /* not an error: no thread to signal right now */
};

typedef struct Sampler Sampler;

#define STROBE_LINE_CACHE 4096 /* a power of two */
#define STROBE_FIRE_CLOCKS 16  /* threads whose CPU time the timer reads */
/* Samples a new thread waits for `threading` to register its name before it
 * is labelled without one (its time is kept meanwhile: it counts from its
 * first sample). A starting thread among many busy ones can take tens of
 * switch intervals to get that far; a thread started from C never does. */
#define STROBE_NAME_TRIES 1000

/* What the timer thread, the signal handler and the pending call share. It
 * outlives the Sampler while a pending call still points at it. */
typedef struct strobe_rearm {
    atomic_int refs;
    atomic_int state;
    atomic_uint_fast64_t deadline_ns;
    atomic_uint_fast64_t fire_wall_ns; /* when the timer last re-armed */
    atomic_uint_fast64_t fire_late_ns; /* how long after the deadline */
    /* The CPU clocks the timer reads at a re-arm (the profiled thread's, or
     * with all threads the first STROBE_FIRE_CLOCKS threads'), published by
     * the sampler; and what it read at the last re-arm, for the split
     * estimator (see account()). */
    atomic_int fire_clock[STROBE_FIRE_CLOCKS];
    atomic_int n_fire_clocks;
    atomic_int fire_clock_used[STROBE_FIRE_CLOCKS];
    atomic_uint_fast64_t fire_cpu_ns[STROBE_FIRE_CLOCKS];
    atomic_int n_fire_used;
    atomic_int stopping;
    atomic_int errors;
    atomic_uint_fast64_t fires; /* re-arm requests sent, re-sends included */
    atomic_int arm_trace;       /* the signal arms line events too (a re-send) */

    Sampler *owner;          /* NULL once stopped; touched with the GIL held */
    PyThreadState *tstate;   /* the profiled thread */
    PyInterpreterState *interp;
    pid_t pid;
    pid_t tid;
    clockid_t cpu_clock;     /* the profiled thread's CPU clock (all
                                threads: the process's) */
    uint64_t interval_ns;
    int all_threads;         /* samples every thread: see sample_threads() */
    PyThreadState *target;   /* all threads, signal path: the GIL holder last
                                signalled (compared, never dereferenced) */

    pthread_t thread;
    int realtime;            /* the timer thread runs SCHED_FIFO */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int thread_started;

    struct strobe_rearm *next_running; /* list of running samplers (GIL) */
} strobe_rearm;

/* One profiled thread's accounting: when it was last sampled and where that
 * sample left it. A single-thread sampler has one; an all-threads sampler
 * one per live thread. */
typedef struct strobe_acct {
    PyThreadState *ts;       /* all threads: whose (with tid, the key) */
    pid_t tid;
    clockid_t cpu_clock;     /* the thread's CPU clock */
    uint32_t root_frame;     /* all threads: the "name (tid N)" label frame,
                                STROBE_NO_FRAME while its name is unknown */
    unsigned name_tries;
    uint64_t seen_tick;
    uint64_t last_wall_ns, last_cpu_ns; /* time of the previous sample */
    uint32_t last_leaf;                 /* where it left the program */
    int last_after;                     /* its after_event */
    double last_rho;                    /* its stack's CPU density, or -1 */
    int last_late;                      /* it ended a blocking call */
    strobe_tree *tree;       /* a task scope's own tree; NULL: the session's */
    uint64_t samples;        /* a task scope's samples */
} strobe_acct;

/* A task scope (Sampler.add_scope): the samples of one asyncio task, made
 * by the sampler of the thread its event loop runs on. While the task runs,
 * its stack is the thread's from the task's outermost coroutine down; while
 * it is suspended, the chain of coroutines it awaits through, with an
 * [await] leaf (strict: one [out of context] frame). */
typedef struct strobe_scope {
    long id;
    PyObject *coro;          /* the task's outermost coroutine (strong) */
    int strict;
    strobe_acct acct;        /* acct.tree: the scope's tree; its frame ids
                                are the sampler session's */
    double start_time;
    uint64_t start_wall_ns;
} strobe_scope;

struct Sampler {
    PyObject_HEAD
    uint64_t interval_ns;
    int split_estimator;
    int timeline;           /* record (time, leaf) per sample */
    char *own_prefix;       /* files under it are stroboscope's own */
    size_t own_prefix_len;

    strobe_rearm *rearm;    /* non-NULL while running */
    strobe_session *session;
    strobe_framecache cache;
    PyObject *root_code;    /* the program's outermost code, or NULL */

    uint64_t start_wall_ns, start_cpu_ns;
    uint64_t fires_done;    /* re-arms of finished runs */
    strobe_acct acct;       /* the profiled thread (single-thread mode) */
    uint32_t ccall_node;                /* ST_CCALL: the C function's node */
    uint32_t ccall_caller;              /* ST_CCALL: the caller's leaf */
    uint64_t ccall_deadline;            /* ST_CCALL: end of its sample + interval */

    int all_threads;        /* sample every thread of the interpreter */
    strobe_acct *threads;   /* all threads: one per live thread */
    size_t n_threads, cap_threads;
    uint64_t tick;          /* all threads: samples taken */
    PyThreadState *running_ts; /* all threads: the one taking the sample */
    uint64_t tick_wall_ns;  /* all threads: time of the previous one */

    Py_tracefunc saved_func; /* profile function installed before start() */
    PyObject *saved_obj;

    int tasks;              /* samples task scopes, not the thread */
    strobe_scope *scopes;
    size_t n_scopes, cap_scopes;
    long next_scope_id;
    PyObject *str_cr_await, *str_gi_yieldfrom;
    uint32_t await_frame, out_of_context_frame; /* in the session's table */

    PyCodeObject **stack_codes; /* scratch: the walk, leaf first */
    int32_t *stack_code_lines;
    const void **stack_fids; /* scratch: the walk's frame identities */
    int leaf_dropped;        /* the last convert_codes() left its innermost
                                frame out (our own: stop(), __exit__) */
    struct strobe_line_slot {
        PyCodeObject *code;
        int lasti;
        int32_t line;
    } *lines;                /* STROBE_LINE_CACHE slots, see line_of() */
    uint32_t *stack_frames;  /* scratch: the sample, root first */
    int32_t *stack_lines;
    size_t stack_cap;
};

#ifdef STROBE_REARM_PENDING
#define STROBE_PENDING_PATH 1
#else
#define STROBE_PENDING_PATH 0
#endif

static _Thread_local strobe_rearm *tls_rearm;
/* The all-threads sampler's rearm, for the signal handler on any thread; it
 * holds a reference, released when the next all-threads sampler starts (a
 * late signal never reads freed memory). */
static strobe_rearm *_Atomic all_rearm;
static strobe_rearm *running_list;       /* guarded by the GIL */
static atomic_int current_pid;           /* updated in the fork child */

/* ---- small helpers ------------------------------------------------------ */

static uint64_t
thread_cpu_ns(clockid_t clk)
{
    struct timespec ts;
    if (clock_gettime(clk, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
rearm_decref(strobe_rearm *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        /* In a forked child the parent's timer thread may have been waiting
         * on cv; glibc's pthread_cond_destroy would wait for that thread,
         * which does not exist here, forever. The child just frees them. */
        if (r->pid == atomic_load(&current_pid)) {
            pthread_mutex_destroy(&r->mu);
            pthread_cond_destroy(&r->cv);
        }
        free(r);
    }
}

static int
grow(void **p, size_t n, size_t size)
{
    void *q = realloc(*p, n * size);
    if (q == NULL) {
        return -1;
    }
    *p = q;
    return 0;
}

static int
stack_reserve(Sampler *s, size_t n)
{
    if (n <= s->stack_cap) {
        return 0;
    }
    size_t ncap = s->stack_cap ? s->stack_cap : 256;
    while (ncap < n) {
        ncap *= 2;
    }
    if (grow((void **)&s->stack_codes, ncap, sizeof(*s->stack_codes)) < 0 ||
        grow((void **)&s->stack_code_lines, ncap, sizeof(int32_t)) < 0 ||
        grow((void **)&s->stack_fids, ncap, sizeof(*s->stack_fids)) < 0 ||
        grow((void **)&s->stack_frames, ncap, sizeof(uint32_t)) < 0 ||
        grow((void **)&s->stack_lines, ncap, sizeof(int32_t)) < 0) {
        return -1; /* the arrays that grew keep their old contents */
    }
    s->stack_cap = ncap;
    return 0;
}

/* UTF-8 of a str, with lone surrogates kept (surrogatepass) so that any name
 * survives; new reference to a bytes object, or NULL with no error set. */
static PyObject *
utf8_bytes(PyObject *str)
{
    if (str == NULL || !PyUnicode_Check(str)) {
        return PyBytes_FromStringAndSize("?", 1);
    }
    PyObject *b = PyUnicode_AsEncodedString(str, "utf-8", "surrogatepass");
    if (b == NULL) {
        PyErr_Clear();
    }
    return b;
}

static int
intern_strings(Sampler *s, PyObject *name, PyObject *file, int first_line,
               uint8_t kind, uint32_t *id)
{
    PyObject *nb = utf8_bytes(name);
    PyObject *fb = utf8_bytes(file);
    int rc = -1;
    if (nb == NULL || fb == NULL) {
        atomic_fetch_or(&s->rearm->errors, ERR_NAME);
        goto done;
    }
    if (strobe_frames_intern(s->session->frames, PyBytes_AS_STRING(nb),
                             (size_t)PyBytes_GET_SIZE(nb), PyBytes_AS_STRING(fb),
                             (size_t)PyBytes_GET_SIZE(fb), first_line, kind,
                             id) < 0) {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(nb);
    Py_XDECREF(fb);
    return rc;
}

/* The cache entry of a code object, interning it on first sight. */
static strobe_cache_entry *
code_entry(Sampler *s, PyCodeObject *co)
{
    strobe_cache_entry *e = strobe_cache_find(&s->cache, co, NULL);
    if (e != NULL) {
        return e;
    }
    uint32_t flags = 0;
    if (s->own_prefix != NULL && PyUnicode_Check(co->co_filename)) {
        Py_ssize_t n;
        const char *f = PyUnicode_AsUTF8AndSize(co->co_filename, &n);
        if (f == NULL) {
            PyErr_Clear();
        } else if ((size_t)n >= s->own_prefix_len &&
                   memcmp(f, s->own_prefix, s->own_prefix_len) == 0) {
            flags |= STROBE_CACHE_OWN;
        }
    }
    /* Our own frames are never shown: they get no frame id at all. */
    uint32_t id = STROBE_NO_FRAME;
    if (!(flags & STROBE_CACHE_OWN) &&
        intern_strings(s, strobe_compat_code_qualname(co), co->co_filename,
                       co->co_firstlineno, 0, &id) < 0) {
        return NULL;
    }
    Py_INCREF(co);
    if (strobe_cache_add(&s->cache, co, NULL, (PyObject *)co, NULL, id, flags) <
        0) {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
        return NULL;
    }
    return strobe_cache_find(&s->cache, co, NULL);
}

#ifdef STROBE_REARM_SIGNAL
/* The frame of a C function seen on c_call/c_return: "time.sleep",
 * "list.append". Reads only the object's C structs: no user code. */
/* Whether a C callable is one of the sampler's own methods (stop()). */
static int
is_own_cfunc(Sampler *s, PyObject *fn)
{
    if (PyCFunction_Check(fn)) {
        PyObject *self = ((PyCFunctionObject *)fn)->m_self;
        return self != NULL && Py_TYPE(self) == Py_TYPE(s);
    }
    if (Py_IS_TYPE(fn, &PyMethodDescr_Type)) {
        return PyDescr_TYPE(fn) == Py_TYPE(s);
    }
    return 0;
}

static int
cfunc_frame(Sampler *s, PyObject *fn, uint32_t *id)
{
    const void *k1;
    PyTypeObject *owner_type = NULL;
    const char *name;
    PyObject *module = NULL;

    if (PyCFunction_Check(fn)) {
        PyCFunctionObject *f = (PyCFunctionObject *)fn;
        k1 = f->m_ml;
        name = f->m_ml->ml_name;
        if (f->m_self != NULL && !PyModule_Check(f->m_self)) {
            owner_type = Py_TYPE(f->m_self);
        } else {
            module = f->m_module;
        }
    } else if (Py_IS_TYPE(fn, &PyMethodDescr_Type)) {
        PyMethodDescrObject *d = (PyMethodDescrObject *)fn;
        k1 = d->d_method;
        name = d->d_method->ml_name;
        owner_type = PyDescr_TYPE(d);
    } else {
        k1 = Py_TYPE(fn);
        owner_type = Py_TYPE(fn);
        name = "__call__";
    }
    strobe_cache_entry *e = strobe_cache_find(&s->cache, k1, owner_type);
    if (e != NULL) {
        *id = e->frame;
        return 0;
    }
    PyObject *qual;
    if (owner_type != NULL) {
        qual = PyUnicode_FromFormat("%s.%s", owner_type->tp_name, name);
    } else if (module != NULL && PyUnicode_Check(module)) {
        qual = PyUnicode_FromFormat("%U.%s", module, name);
    } else {
        qual = PyUnicode_FromString(name);
    }
    if (qual == NULL) {
        PyErr_Clear();
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
        return -1;
    }
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    int rc = empty ? intern_strings(s, qual, empty, 0, 1, id) : -1;
    Py_DECREF(qual);
    Py_XDECREF(empty);
    if (rc < 0) {
        PyErr_Clear();
        return -1;
    }
    /* A heap type could be freed and its address reused: keep it alive. */
    Py_XINCREF(owner_type);
    if (strobe_cache_add(&s->cache, k1, owner_type, NULL,
                         (PyObject *)owner_type, *id, 0) < 0) {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
    }
    return 0;
}
#endif

typedef struct walk_ctx {
    Sampler *s;
    size_t n;
    int failed;
    int use_root;     /* stop at root_code */
    int reached_root;
} walk_ctx;

/* Line numbers by (code object, instruction offset). PyCode_Addr2Line scans
 * the code's line table; callers sit at the same offset sample after sample,
 * and every level of a recursion shares one, so most lookups hit. Keys are
 * code objects the frame cache keeps alive, so an address is never reused
 * while it is a key. */
static int32_t
line_of(Sampler *s, PyCodeObject *co, int lasti)
{
    if (lasti < 0) {
        return co->co_firstlineno; /* not started yet */
    }
    size_t h = (((uintptr_t)co >> 4) ^ ((size_t)lasti * 0x9E3779B1u)) &
               (STROBE_LINE_CACHE - 1);
    struct strobe_line_slot *slot = &s->lines[h];
    if (slot->code != co || slot->lasti != lasti) {
        slot->code = co;
        slot->lasti = lasti;
        slot->line = PyCode_Addr2Line(co, lasti);
    }
    return slot->line;
}

static int
visit_frame(void *arg, PyCodeObject *co, int lasti, const void *frame)
{
    walk_ctx *w = arg;
    Sampler *s = w->s;
    if (stack_reserve(s, w->n + 1) < 0) {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
        w->failed = 1;
        return 1;
    }
    s->stack_codes[w->n] = co; /* borrowed: the GIL is held for the walk */
    s->stack_code_lines[w->n] = lasti; /* line_of() maps it to a line */
    s->stack_fids[w->n] = frame;
    w->n++;
    if (w->use_root && (PyObject *)co == s->root_code) {
        w->reached_root = 1; /* the program's outermost frame */
        return 1;
    }
    return 0;
}

/* Walks the frames of `ts` into the scratch codes (s->stack_codes,
 * stack_code_lines, stack_fids), innermost first, up to root_code when
 * `use_root` (then *reached_root says whether it was met). Returns the
 * count, or -1 when out of memory. */
static Py_ssize_t
walk_codes(Sampler *s, PyThreadState *ts, int use_root, int *reached_root)
{
    walk_ctx w = {s, 0, 0, use_root, 0};
    strobe_walk_frames(ts, 0, visit_frame, &w);
    if (reached_root != NULL) {
        *reached_root = w.reached_root;
    }
    return w.failed ? -1 : (Py_ssize_t)w.n;
}

/* The codes s->stack_codes[from, from + count) (leaf first, offsets in
 * stack_code_lines) to root-first frame ids in the scratch arrays from index
 * `base` on (the caller fills the first `base`), without stroboscope's own
 * frames. Frames are interned only once the stack is kept. Returns the
 * depth, `base` included, or -1. */
static Py_ssize_t
convert_codes(Sampler *s, size_t from, size_t count, size_t base)
{
    if (stack_reserve(s, base + count + 1) < 0) {
        return -1;
    }
    /* A frame like the one below it (recursion: same code, same offset)
     * reuses its lookups. */
    size_t n = base;
    PyCodeObject *prev_code = NULL;
    int prev_lasti = 0;
    s->leaf_dropped = 0;
    for (size_t i = from + count; i-- > from;) {
        PyCodeObject *co = s->stack_codes[i];
        int lasti = s->stack_code_lines[i];
        if (co == prev_code && lasti == prev_lasti && n > base) {
            s->stack_frames[n] = s->stack_frames[n - 1];
            s->stack_lines[n] = s->stack_lines[n - 1];
            n++;
            continue;
        }
        strobe_cache_entry *e = code_entry(s, co);
        if (e == NULL || (e->flags & STROBE_CACHE_OWN)) {
            prev_code = NULL;
            s->leaf_dropped = i == from;
            continue;
        }
        s->stack_frames[n] = e->frame;
        s->stack_lines[n] = line_of(s, co, lasti);
        n++;
        prev_code = co;
        prev_lasti = lasti;
    }
    return (Py_ssize_t)n;
}

/* Walks the stack of `ts` from its innermost frame to the outermost, or to
 * root_code (on the thread that started the sampler), and leaves it
 * root-first in the scratch arrays as frame ids from index `base` on (see
 * convert_codes()). With a root_code, a stack that does not reach it (the
 * runner's own code, before or after the program) is empty. */
static Py_ssize_t
walk_stack(Sampler *s, PyThreadState *ts, size_t base)
{
    int use_root = s->root_code != NULL && ts == s->rearm->tstate;
    int reached_root = 0;
    Py_ssize_t n = walk_codes(s, ts, use_root, &reached_root);
    if (n < 0) {
        return -1;
    }
    if (use_root && !reached_root) {
        return (Py_ssize_t)base;
    }
    return convert_codes(s, 0, (size_t)n, base);
}

/* The wall and CPU time since the previous sample of `a`. */
static void
gap_since(const strobe_acct *a, uint64_t now_wall, uint64_t now_cpu,
          uint64_t *dw, uint64_t *dc)
{
    *dw = now_wall > a->last_wall_ns ? now_wall - a->last_wall_ns : 0;
    *dc = now_cpu > a->last_cpu_ns ? now_cpu - a->last_cpu_ns : 0;
}

/* Where the program is right after the event that took a sample: the part
 * of the next gap before the re-arm is shared with this stack. */
typedef enum { AFTER_SAME, AFTER_CALLER, AFTER_CALLEE, AFTER_AWAIT } after_event;
/* AFTER_AWAIT: the stack is a suspended task's (a task scope): it waits, so
 * this sample charges it no CPU time; it may resume at any time after. */

/* Charges the time since the previous sample (see the top of this file) to
 * the stack in the scratch arrays and makes this sample the previous one.
 * With AFTER_CALLEE the scratch stack holds depth + 1 frames, the last being
 * the function just called (charged to its caller). */
static void
account(Sampler *s, strobe_acct *a, uint64_t now_wall, uint64_t now_cpu,
        size_t depth, after_event after)
{
    strobe_rearm *r = s->rearm;
    strobe_tree *tree = a->tree != NULL ? a->tree : s->session->tree;
    uint64_t dw, dc;
    gap_since(a, now_wall, now_cpu, &dw, &dc);
    uint64_t pw = 0, pc = 0; /* the previous stack's part of this gap */
    uint64_t fw = atomic_load(&r->fire_wall_ns);
    /* The split needs this thread's CPU time at the re-arm, which the timer
     * read if the thread was among the first STROBE_FIRE_CLOCKS. */
    uint64_t fc = 0;
    int read_at_fire = 0;
    for (int i = 0, n = atomic_load(&r->n_fire_used); i < n; i++) {
        if (atomic_load(&r->fire_clock_used[i]) == (int)a->cpu_clock) {
            fc = atomic_load(&r->fire_cpu_ns[i]);
            read_at_fire = 1;
            break;
        }
    }
    int fired_in_gap = read_at_fire &&
                       fw > a->last_wall_ns && fw <= now_wall &&
                       fc >= a->last_cpu_ns && fc <= now_cpu;
    /* CPU density (CPU / wall) of the new stack over [fire, now], the part
     * of the gap that surely belongs to it. */
    double rho_new = -1.0;
    int late = 0;
    if (after == AFTER_AWAIT) {
        rho_new = 0.0;
    } else if (fired_in_gap) {
        if (now_wall - fw >= 20000) {
            rho_new = (double)(now_cpu - fc) / (double)(now_wall - fw);
        } else if (!s->all_threads || a->ts == s->running_ts) {
            rho_new = 1.0; /* it ran bytecode right at the re-arm: computing */
        } else {
            /* another thread, blocked or waiting for the GIL meanwhile */
            rho_new = now_cpu > fc ? 1.0 : 0.0;
        }
        /* A sample that comes late ends a blocking call (or a long C call):
         * right after it the program moves on, like after a return. */
        late = now_wall - fw > r->interval_ns;
    }
    if (s->split_estimator && a->last_leaf != STROBE_NO_NODE && fired_in_gap) {
        uint64_t w = fw - a->last_wall_ns; /* who ran here is unknown */
        uint64_t c = fc - a->last_cpu_ns;
        if (s->all_threads && a->ts != s->running_ts) {
            /* A thread other than the sampling one may have changed what
             * it does after the re-arm too (an event there fires nothing):
             * the whole gap is unknown; [fire, now] only tells whether it
             * computes or waits now. */
            w = dw;
            c = dc;
        }
        if (rho_new >= 0 && a->last_rho >= 0 && fabs(a->last_rho - rho_new) > 0.5) {
            /* One stack computed, the other waited: the CPU burnt in the
             * unknown part says how long the computing one ran. */
            double x = ((double)c - rho_new * (double)w) / (a->last_rho - rho_new);
            x = x < 0 ? 0 : x > (double)w ? (double)w : x;
            pw = (uint64_t)x;
            pc = (uint64_t)(a->last_rho * x);
            pc = pc > c ? c : pc;
        } else if ((a->last_after == AFTER_SAME || a->last_after == AFTER_AWAIT) &&
                   !a->last_late) {
            /* Sampled mid-run: the change is anywhere in the unknown part
             * (a suspended task burns no CPU time of its own). */
            pw = w / 2;
            pc = a->last_after == AFTER_AWAIT ? 0 : c / 2;
        }
        /* After a call or a return the program moves on at once: the
         * unknown part is the new stack's. */
        if (pw || pc) {
            strobe_tree_add_time(tree, a->last_leaf, pw, pc);
        }
    }
    uint32_t leaf = STROBE_NO_NODE;
    if (strobe_tree_add_sample(tree, s->stack_frames, s->stack_lines, depth,
                               dw - pw, after == AFTER_AWAIT ? 0 : dc - pc,
                               &leaf) < 0) {
        atomic_fetch_or(&r->errors, ERR_NOMEM);
        leaf = STROBE_NO_NODE;
    } else if (a->tree != NULL) {
        a->samples++; /* a task scope: no timeline */
    } else {
        if (!s->all_threads) {
            s->session->sample_count++; /* all threads: one per tick */
        }
        if (s->session->timeline != NULL) {
            strobe_timeline_add(s->session->timeline, now_wall - s->start_wall_ns, leaf);
        }
        if (after == AFTER_CALLER && leaf != STROBE_ROOT_NODE) {
            leaf = strobe_tree_node(tree, leaf)->parent;
        } else if (after == AFTER_CALLEE &&
                   strobe_tree_child(tree, leaf, s->stack_frames[depth],
                                     s->stack_lines[depth], &leaf) < 0) {
            atomic_fetch_or(&r->errors, ERR_NOMEM);
            leaf = STROBE_NO_NODE;
        }
    }
    a->last_wall_ns = now_wall;
    a->last_cpu_ns = now_cpu;
    a->last_leaf = leaf;
    a->last_after = after;
    a->last_rho = rho_new;
    a->last_late = late;
}

/* Sampling is over for this interval: the next deadline counts from now
 * (the end of the sample, so costly samples cannot make sampling spiral),
 * less the time the re-arm waited for an event and the time the timer
 * thread woke up late, up to half an interval in all: a C call in progress
 * at the re-arm (common in library-heavy code) would otherwise stretch every
 * interval by its length, and so would the timer's wake-up latency (25 to
 * 50 us typically, a few ms when the cores are busy: with 4 busy threads
 * that cost 5 to 15 % of the samples). Samples stay at least half an
 * interval apart, plus the sample's cost. `began` is when the sample
 * started. */
static void
schedule_next(strobe_rearm *r, uint64_t began)
{
    uint64_t now = strobe_clock_wall_ns();
    uint64_t fired = atomic_load(&r->fire_wall_ns);
    uint64_t credit = 0;
    if (fired != 0 && fired <= began) {
        credit = began - fired + atomic_load(&r->fire_late_ns);
        if (credit > r->interval_ns / 2) {
            credit = r->interval_ns / 2;
        }
    }
    atomic_store(&r->deadline_ns, now + r->interval_ns - credit);
    atomic_store(&r->state, ST_WAITING);
    /* The timer may sleep until a re-send that is no longer needed (a
     * quarter or a whole interval after its signal): wake it to count down
     * to the new deadline instead, or it fires late. */
    pthread_mutex_lock(&r->mu);
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Whether the profiled thread still exists (the GIL must be held). */
static int
thread_alive(strobe_rearm *r)
{
    for (PyThreadState *t = PyInterpreterState_ThreadHead(r->interp); t != NULL;
         t = PyThreadState_Next(t)) {
        if (t == r->tstate) {
            return 1;
        }
    }
    return 0;
}

/* ---- all threads ------------------------------------------------------------ */

/* The kernel thread id behind a CPU clock id: glibc's MAKE_THREAD_CPUCLOCK is
 * ((~tid) << 3) | 6, a Linux ABI that has not changed since 2.6. */
static pid_t
tid_of_clock(clockid_t clk)
{
    return (pid_t)~(clk >> 3);
}

/* The accounting of `ts` (a live thread of the interpreter, the GIL held),
 * created on first sight; NULL when out of memory. A thread seen for the
 * first time started after the previous sample: its wall time counts from
 * there, its CPU time from zero (a thread's CPU clock starts with it). */
static strobe_acct *
thread_acct(Sampler *s, PyThreadState *ts, int at_start)
{
    clockid_t clk;
    if (pthread_getcpuclockid((pthread_t)ts->thread_id, &clk) != 0) {
        return NULL;
    }
    pid_t tid = tid_of_clock(clk);
    for (size_t i = 0; i < s->n_threads; i++) {
        if (s->threads[i].ts == ts && s->threads[i].tid == tid) {
            return &s->threads[i];
        }
    }
    if (s->n_threads == s->cap_threads) {
        size_t ncap = s->cap_threads ? s->cap_threads * 2 : 16;
        if (grow((void **)&s->threads, ncap, sizeof(*s->threads)) < 0) {
            atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
            return NULL;
        }
        s->cap_threads = ncap;
    }
    strobe_acct *a = &s->threads[s->n_threads++];
    memset(a, 0, sizeof(*a));
    a->ts = ts;
    a->tid = tid;
    a->cpu_clock = clk;
    a->root_frame = STROBE_NO_FRAME;
    a->last_wall_ns = s->tick_wall_ns;
    a->last_cpu_ns = at_start ? thread_cpu_ns(clk) : 0;
    a->last_leaf = STROBE_NO_NODE;
    a->last_rho = -1.0;
    return a;
}

/* The name `threading` gave the thread with this ident (new reference), or
 * NULL. Reads dicts only (sys.modules, threading._active, the Thread's
 * __dict__): no user code runs. */
static PyObject *
thread_name(unsigned long ident)
{
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *threading = modules ? PyDict_GetItemString(modules, "threading") : NULL;
    if (threading == NULL || !PyModule_Check(threading)) {
        return NULL;
    }
    PyObject *active = PyDict_GetItemString(PyModule_GetDict(threading), "_active");
    if (active == NULL || !PyDict_Check(active)) {
        return NULL;
    }
    PyObject *key = PyLong_FromUnsignedLong(ident);
    PyObject *thread = key ? PyDict_GetItemWithError(active, key) : NULL;
    Py_XDECREF(key);
    PyObject *dict = thread ? PyObject_GenericGetDict(thread, NULL) : NULL;
    PyObject *name = dict ? PyDict_GetItemString(dict, "_name") : NULL;
    name = name && PyUnicode_Check(name) ? Py_NewRef(name) : NULL;
    Py_XDECREF(dict);
    PyErr_Clear();
    return name;
}

/* Interns the thread's label frame, "name (tid N)", the root of its samples.
 * A thread that `threading` has not registered yet (it is starting) is left
 * for the next sample, up to STROBE_NAME_TRIES times, then labelled without
 * its name. 0 / -1. */
static int
thread_label(Sampler *s, strobe_acct *a)
{
    PyObject *name = thread_name(a->ts->thread_id);
    if (name == NULL && a->tid == getpid()) {
        name = PyUnicode_FromString("MainThread");
    }
    if (name == NULL && a->name_tries++ < STROBE_NAME_TRIES) {
        return -1;
    }
    PyObject *label = name ? PyUnicode_FromFormat("%U (tid %d)", name, (int)a->tid)
                           : PyUnicode_FromFormat("Thread (tid %d)", (int)a->tid);
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    int rc = -1;
    if (label != NULL && empty != NULL) {
        rc = intern_strings(s, label, empty, 0, STROBE_FRAME_SYNTHETIC, &a->root_frame);
    } else {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
    }
    Py_XDECREF(name);
    Py_XDECREF(label);
    Py_XDECREF(empty);
    PyErr_Clear();
    return rc;
}

/* Tells the timer whose CPU clocks to read at the next re-arm. */
static void
publish_fire_clocks(Sampler *s)
{
    strobe_rearm *r = s->rearm;
    int n = 0;
    if (!r->all_threads) {
        atomic_store(&r->fire_clock[n++], (int)r->cpu_clock);
    } else {
        for (size_t i = 0; i < s->n_threads && n < STROBE_FIRE_CLOCKS; i++) {
            atomic_store(&r->fire_clock[n++], (int)s->threads[i].cpu_clock);
        }
    }
    atomic_store(&r->n_fire_clocks, n);
}

static int
stop_at_first(void *arg, PyCodeObject *co, int lasti, const void *frame)
{
    *(int *)arg = 1;
    return 1;
}

#ifdef STROBE_REARM_SIGNAL
static int sample_event(Sampler *s, strobe_acct *a, PyThreadState *ts, int what,
                        PyObject *arg, uint64_t now_wall, uint64_t now_cpu,
                        size_t base, int allow_ccall);
static int charge_event(Sampler *s, strobe_acct *a, int what, PyObject *arg,
                        uint64_t now_wall, uint64_t now_cpu, Py_ssize_t depth,
                        size_t base, int allow_ccall);
#endif

/* One sample of every thread (the GIL held, on whichever thread runs the
 * hook or the pending call). The others are blocked (in C, or waiting for
 * the GIL) and cannot move while we read them: each is charged the time
 * since its own previous sample at the line it waits on, wall and CPU from
 * its own clock. `event_ts` ran the event `what` (-1: no event), which says
 * where its time goes as for a single thread. */
static void
sample_threads(Sampler *s, PyThreadState *event_ts, int what, PyObject *arg,
               uint64_t now_wall)
{
    uint64_t tick = ++s->tick;
    s->running_ts = event_ts;
    if (stack_reserve(s, 2) < 0) {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
        return;
    }
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(s->rearm->interp);
         ts != NULL; ts = PyThreadState_Next(ts)) {
        int has_frames = 0;
        strobe_walk_frames(ts, 0, stop_at_first, &has_frames);
        if (!has_frames) {
            /* Not started yet (a new thread's state exists, with the
             * creating thread's id, before the thread runs) or finished:
             * no Python runs on it. */
            continue;
        }
        strobe_acct *a = thread_acct(s, ts, 0);
        if (a == NULL) {
            continue;
        }
        a->seen_tick = tick;
        if (a->root_frame == STROBE_NO_FRAME && thread_label(s, a) < 0) {
            continue; /* sampled once it has a name */
        }
        uint64_t now_cpu = thread_cpu_ns(a->cpu_clock);
#ifdef STROBE_REARM_SIGNAL
        if (ts == event_ts && what >= 0) {
            s->stack_frames[0] = a->root_frame;
            s->stack_lines[0] = 0;
            sample_event(s, a, ts, what, arg, now_wall, now_cpu, 1, 0);
            continue;
        }
#endif
        Py_ssize_t depth = walk_stack(s, ts, 1);
        if (depth >= 0) {
            s->stack_frames[0] = a->root_frame;
            s->stack_lines[0] = 0;
            account(s, a, now_wall, now_cpu, (size_t)depth, AFTER_SAME);
        }
    }
    /* Threads that have ended keep their samples, not their accounting.
     * The time since a gone thread's last sample goes to where that sample
     * left it (it ended somewhere in that gap, usually right after blocking
     * there: a sleep, a lock, a join); its CPU time is no longer readable. */
    for (size_t i = 0; i < s->n_threads;) {
        strobe_acct *a = &s->threads[i];
        if (a->seen_tick != tick) {
            if (a->last_leaf != STROBE_NO_NODE && now_wall > a->last_wall_ns) {
                strobe_tree_add_time(s->session->tree, a->last_leaf,
                                     now_wall - a->last_wall_ns, 0);
            }
            s->threads[i] = s->threads[--s->n_threads];
        } else {
            i++;
        }
    }
    s->session->sample_count++;
    s->tick_wall_ns = now_wall;
    publish_fire_clocks(s);
}

/* sample_threads() from the calling thread, outside any event (a pending
 * call, stop()), keeping the exception the program may have set. */
static void
sample_threads_here(Sampler *s, uint64_t now_wall)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    sample_threads(s, PyThreadState_Get(), -1, NULL, now_wall);
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

/* ---- task scopes ---------------------------------------------------------- */

/* The longest chain of awaiting coroutines a suspended task's sample shows
 * (from its outermost coroutine on). */
#define STROBE_MAX_AWAIT_CHAIN 512

/* Puts the chain of coroutines (and generators) `coro` awaits through in
 * s->stack_codes from index `at` on, leaf first, as a walk leaves a thread's
 * stack: the coroutine, what it awaits (cr_await, gi_yieldfrom) while that
 * is a coroutine or a generator too. The chain ends at what it waits for
 * (a Future, a Task, a C awaitable). The attributes are the C getters of
 * these exact types: no user code runs. Returns the count, or -1. */
static Py_ssize_t
await_chain(Sampler *s, PyObject *coro, size_t at)
{
    size_t m = 0;
    PyObject *c = Py_NewRef(coro);
    while (m < STROBE_MAX_AWAIT_CHAIN) {
        PyCodeObject *co;
        int lasti;
        int is_coro = PyCoro_CheckExact(c);
        if ((!is_coro && !PyGen_CheckExact(c)) ||
            strobe_gen_location(c, &co, &lasti) < 0) {
            break;
        }
        if (stack_reserve(s, at + m + 1) < 0) {
            Py_DECREF(c);
            atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
            return -1;
        }
        /* borrowed: the awaiting coroutine holds what it awaits */
        s->stack_codes[at + m] = co;
        s->stack_code_lines[at + m] = lasti;
        s->stack_fids[at + m] = NULL;
        m++;
        PyObject *next = PyObject_GetAttr(c, is_coro ? s->str_cr_await
                                                     : s->str_gi_yieldfrom);
        Py_DECREF(c);
        if (next == NULL) {
            PyErr_Clear();
            return (Py_ssize_t)m > 0 ? (Py_ssize_t)m : -1;
        }
        c = next;
    }
    Py_DECREF(c);
    /* outermost first so far: leaf first, as convert_codes() reads it */
    for (size_t i = 0, j = m; i + 1 < j; i++, j--) {
        PyCodeObject *tc = s->stack_codes[at + i];
        s->stack_codes[at + i] = s->stack_codes[at + j - 1];
        s->stack_codes[at + j - 1] = tc;
        int32_t tl = s->stack_code_lines[at + i];
        s->stack_code_lines[at + i] = s->stack_code_lines[at + j - 1];
        s->stack_code_lines[at + j - 1] = tl;
    }
    return (Py_ssize_t)m;
}

/* The task's outermost coroutine is entered: the task starts or resumes.
 * The time since the previous sample was spent where that sample left the
 * task (suspended, usually); from now on it runs. */
static void
scope_resumed(Sampler *s, strobe_acct *a, uint64_t now_wall, uint64_t now_cpu)
{
    uint64_t dw, dc;
    gap_since(a, now_wall, now_cpu, &dw, &dc);
    if (a->last_leaf != STROBE_NO_NODE) {
        strobe_tree_add_time(a->tree, a->last_leaf, dw,
                             a->last_after == AFTER_AWAIT ? 0 : dc);
    }
    uint32_t leaf;
    if (strobe_tree_child(a->tree, STROBE_ROOT_NODE, s->stack_frames[0],
                          s->stack_lines[0], &leaf) < 0) {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
        leaf = STROBE_NO_NODE;
    }
    a->samples++;
    a->last_wall_ns = now_wall;
    a->last_cpu_ns = now_cpu;
    a->last_leaf = leaf;
    a->last_after = AFTER_CALLER; /* it runs at once: no split next time */
    a->last_rho = -1.0;
    a->last_late = 0;
}

/* One sample of one task scope, with the thread's stack already walked into
 * the first `n` scratch codes. `what` is the event that took the sample (-1:
 * none). */
static void
sample_scope(Sampler *s, strobe_scope *sc, size_t n, int what, PyObject *arg,
             uint64_t now_wall, uint64_t now_cpu)
{
    strobe_acct *a = &sc->acct;
    const void *frame = strobe_gen_frame(sc->coro);
    if (frame == NULL) {
        /* The task has finished: what the thread does now is not its time. */
        a->last_wall_ns = now_wall;
        a->last_cpu_ns = now_cpu;
        a->last_leaf = STROBE_NO_NODE;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (s->stack_fids[k] == frame) {
            /* Running: the thread's stack from the task's coroutine down. */
            Py_ssize_t depth = convert_codes(s, 0, k + 1, 0);
#ifdef STROBE_REARM_SIGNAL
            if (what == PyTrace_CALL && k == 0 && depth == 1) {
                scope_resumed(s, a, now_wall, now_cpu);
                return;
            }
            if (what == PyTrace_RETURN && k == 0 && depth == 1) {
                /* The task suspends (or ends): it has run until now, and
                 * waits from now on. */
                account(s, a, now_wall, now_cpu, 1, AFTER_SAME);
                uint32_t aw;
                if (a->last_leaf != STROBE_NO_NODE &&
                    strobe_tree_child(a->tree, a->last_leaf, s->await_frame, 0,
                                      &aw) == 0) {
                    a->last_leaf = aw;
                    a->last_after = AFTER_AWAIT;
                    a->last_rho = 0.0;
                }
                return;
            }
            if (what >= 0) {
                charge_event(s, a, what, arg, now_wall, now_cpu, depth, 0, 0);
                return;
            }
#endif
            if (depth >= 0) {
                account(s, a, now_wall, now_cpu, (size_t)depth, AFTER_SAME);
            }
            return;
        }
    }
    Py_ssize_t depth;
    uint32_t leaf = s->await_frame;
    if (sc->strict) {
        depth = 0;
        leaf = s->out_of_context_frame;
    } else {
        Py_ssize_t m = await_chain(s, sc->coro, n);
        depth = m < 0 ? -1 : convert_codes(s, n, (size_t)m, 0);
    }
    if (depth < 0 || stack_reserve(s, (size_t)depth + 1) < 0) {
        atomic_fetch_or(&s->rearm->errors, ERR_NOMEM);
        return;
    }
    s->stack_frames[depth] = leaf;
    s->stack_lines[depth] = 0;
    account(s, a, now_wall, now_cpu, (size_t)depth + 1, AFTER_AWAIT);
}

/* A sample for every task scope: the thread's stack is walked once. */
static void
sample_scopes(Sampler *s, PyThreadState *ts, int what, PyObject *arg,
              uint64_t now_wall, uint64_t now_cpu)
{
    Py_ssize_t n = walk_codes(s, ts, 0, NULL);
    for (size_t i = 0; n >= 0 && i < s->n_scopes; i++) {
        sample_scope(s, &s->scopes[i], (size_t)n, what, arg, now_wall, now_cpu);
    }
}

/* ---- re-arm by signal (3.9 - 3.11) --------------------------------------- */

#ifdef STROBE_REARM_SIGNAL
static int rearm_signo;            /* the real-time signal we use, or 0 */
static int rearm_signal_users;     /* running samplers using it (GIL) */
static struct sigaction rearm_old_action;

static int profile_hook(PyObject *obj, PyFrameObject *frame, int what,
                        PyObject *arg);

static void
on_rearm_signal(int signo, siginfo_t *info, void *context)
{
    /* This thread's own sampler, or else the all-threads one: then arm this
     * thread, whichever it is (it held the GIL when the timer looked). */
    strobe_rearm *r = tls_rearm;
    PyThreadState *ts = NULL;
    if (r != NULL && !r->all_threads && r->owner != NULL) {
        ts = r->tstate;
    } else {
        r = atomic_load(&all_rearm);
        /* the thread's state from its thread-specific slot: a plain
         * pthread_getspecific, no lock */
        ts = r != NULL ? PyGILState_GetThisThreadState() : NULL;
    }
    if (r == NULL || ts == NULL || r->pid != atomic_load(&current_pid)) {
        return;
    }
    int st = atomic_load(&r->state);
    if (st != ST_FIRED && st != ST_ARMED) {
        return;
    }
    if (ts->c_profilefunc == NULL || ts->c_profilefunc == profile_hook) {
        strobe_compat_arm(ts, profile_hook, atomic_load(&r->arm_trace));
        atomic_store(&r->state, ST_ARMED);
    } else {
        /* The program installed its own profile function: step aside. */
        atomic_fetch_or(&r->errors, ERR_DISPLACED);
        atomic_store(&r->state, ST_OFF);
    }
}

/* Picks a real-time signal nobody handles and installs our handler on it,
 * once for all samplers. -1 with an exception set on failure. */
static int
rearm_signal_acquire(PyObject *error_type)
{
    if (rearm_signal_users++ > 0) {
        return 0;
    }
    for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
        struct sigaction old;
        if (sigaction(sig, NULL, &old) != 0) {
            continue;
        }
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
            continue; /* somebody else's: never steal it */
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_rearm_signal;
        sigemptyset(&sa.sa_mask);
        /* SA_RESTART: interrupted read(), write(), wait() resume by themselves,
         * so C code mostly never sees EINTR; at most one signal is sent per
         * interval, and none while the hook is armed. */
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        if (sigaction(sig, &sa, &rearm_old_action) != 0) {
            continue;
        }
        rearm_signo = sig;
        return 0;
    }
    rearm_signal_users--;
    PyErr_SetString(error_type,
                    "no free real-time signal to re-arm the sampler with");
    return -1;
}

static void
rearm_signal_release(void)
{
    if (--rearm_signal_users == 0 && rearm_signo != 0) {
        sigaction(rearm_signo, &rearm_old_action, NULL);
        rearm_signo = 0;
    }
}

static int
fire(strobe_rearm *r)
{
    pid_t tid = r->tid;
    if (r->all_threads) {
        /* Signal the thread that holds the GIL: it runs Python (or will, as
         * soon as it is back from C) and its hook samples every thread. */
        PyThreadState *holder = strobe_compat_gil_holder();
        if (holder == NULL) {
            return ERR_NO_HOLDER; /* nobody runs Python: nothing to sample */
        }
        /* Read while it holds the GIL; checked below: a holder that kept
         * the GIL across these reads had not freed its state nor ended its
         * thread (a thread frees its state only after giving the GIL up),
         * so what was read is a live thread's. */
        unsigned long ident = holder->thread_id;
        clockid_t clk;
        int rc = pthread_getcpuclockid((pthread_t)ident, &clk);
        if (strobe_compat_gil_holder() != holder || rc != 0) {
            return ERR_NO_HOLDER;
        }
        tid = tid_of_clock(clk);
        r->target = holder;
    }
    if (syscall(SYS_tgkill, r->pid, tid, rearm_signo) != 0) {
        if (r->all_threads) {
            return ERR_NO_HOLDER; /* it ended meanwhile: try the next one */
        }
        return errno == ESRCH ? ERR_THREAD_GONE : ERR_FIRE;
    }
    return 0;
}

static void
finish_ccall(Sampler *s, uint64_t now_wall, uint64_t now_cpu)
{
    /* Everything since c_call was spent inside that C function. */
    strobe_acct *a = &s->acct;
    uint64_t dw, dc;
    gap_since(a, now_wall, now_cpu, &dw, &dc);
    strobe_tree_add_time(s->session->tree, s->ccall_node, dw, dc);
    a->last_wall_ns = now_wall;
    a->last_cpu_ns = now_cpu;
    a->last_leaf = s->ccall_caller;
    a->last_after = 1; /* AFTER_CALLER: the C function has returned */
    a->last_rho = dw ? (double)dc / (double)dw : -1.0;
    a->last_late = 0;
}

/* Samples the thread that ran event `what` (the hook's thread), leaving
 * `base` frames the caller put first. On call the time belongs to the
 * caller; on return to the callee; on c_call to the caller; on c_return to
 * the caller with the C function as the leaf. Returns 1 when the hook should
 * stay armed through a C call that has just begun (allow_ccall). */
static int
charge_event(Sampler *s, strobe_acct *a, int what, PyObject *arg,
             uint64_t now_wall, uint64_t now_cpu, Py_ssize_t depth, size_t base,
             int allow_ccall)
{
    int keep_armed = 0;
    if (depth >= 0) {
        uint32_t cid;
        int is_c = (what == PyTrace_C_CALL || what == PyTrace_C_RETURN ||
                    what == PyTrace_C_EXCEPTION) &&
                   !is_own_cfunc(s, arg);
        if (what == PyTrace_C_CALL && is_c) {
            account(s, a, now_wall, now_cpu, (size_t)depth, AFTER_SAME);
            if (!allow_ccall) {
                return 0;
            }
            /* Stay armed through this C call: its c_return says how long it
             * took, with the C function as the leaf (time.sleep, a lock). */
            if (s->acct.last_leaf != STROBE_NO_NODE && cfunc_frame(s, arg, &cid) == 0 &&
                strobe_tree_child(s->session->tree, s->acct.last_leaf, cid, 0,
                                  &s->ccall_node) == 0) {
                s->ccall_caller = s->acct.last_leaf;
                keep_armed = 1;
            }
        } else if (what == PyTrace_CALL && (size_t)depth > base &&
                   !s->leaf_dropped) {
            /* The callee has not run yet: its caller gets the time. (When
             * the callee is our own, stop(), the leaf is its caller.) */
            account(s, a, now_wall, now_cpu, (size_t)depth - 1, AFTER_CALLEE);
        } else if (what == PyTrace_RETURN) {
            account(s, a, now_wall, now_cpu, (size_t)depth, AFTER_CALLER);
        } else {
            after_event after = AFTER_SAME;
            if (is_c && what != PyTrace_C_CALL &&
                stack_reserve(s, (size_t)depth + 1) == 0 &&
                cfunc_frame(s, arg, &cid) == 0) {
                s->stack_frames[depth] = cid;
                s->stack_lines[depth] = 0;
                depth++;
                after = AFTER_CALLER; /* the C function has returned */
            }
            account(s, a, now_wall, now_cpu, (size_t)depth, after);
        }
    }
    return keep_armed;
}

static int
sample_event(Sampler *s, strobe_acct *a, PyThreadState *ts, int what,
             PyObject *arg, uint64_t now_wall, uint64_t now_cpu, size_t base,
             int allow_ccall)
{
    Py_ssize_t depth = walk_stack(s, ts, base);
    return charge_event(s, a, what, arg, now_wall, now_cpu, depth, base,
                        allow_ccall);
}

static int
profile_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    PyThreadState *ts = PyThreadState_Get();
    strobe_rearm *r = tls_rearm;
    if (r == NULL || r->all_threads || r->tstate != ts || r->owner == NULL) {
        r = atomic_load(&all_rearm); /* any thread may sample them all */
    }
    if (r == NULL || r->owner == NULL || r->pid != atomic_load(&current_pid)) {
        strobe_compat_disarm_in_hook(ts, profile_hook);
        return 0;
    }
    Sampler *s = r->owner;
    int st = atomic_load(&r->state);
    uint64_t now_wall = strobe_clock_wall_ns();
    uint64_t now_cpu = thread_cpu_ns(r->cpu_clock);

    if (st == ST_CCALL) {
        finish_ccall(s, now_wall, now_cpu);
        strobe_compat_disarm_in_hook(ts, profile_hook);
        if (now_wall >= s->ccall_deadline) {
            /* The C call outlasted an interval: its return is this interval's
             * sample (measured exactly), and the next counts from here. */
            s->session->sample_count++;
            if (s->session->timeline != NULL) {
                strobe_timeline_add(s->session->timeline,
                                    now_wall - s->start_wall_ns, s->ccall_node);
            }
            schedule_next(r, strobe_clock_wall_ns());
        } else {
            /* The next deadline still counts from the end of the c_call
             * sample: time spent in a short C call is not added to it. */
            atomic_store(&r->deadline_ns, s->ccall_deadline);
            atomic_store(&r->state, ST_WAITING);
        }
        return 0;
    }
    if (st != ST_ARMED) {
        strobe_compat_disarm_in_hook(ts, profile_hook);
        return 0;
    }
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    int keep_armed = 0;
    if (s->all_threads) {
        sample_threads(s, ts, what, arg, now_wall);
    } else if (s->tasks) {
        sample_scopes(s, ts, what, arg, now_wall, now_cpu);
    } else {
        keep_armed = sample_event(s, &s->acct, ts, what, arg, now_wall, now_cpu, 0, 1);
    }
    PyErr_Restore(exc_type, exc_value, exc_tb);
    if (keep_armed) {
        s->ccall_deadline = strobe_clock_wall_ns() + r->interval_ns;
        atomic_store(&r->state, ST_CCALL);
        return 0;
    }
    strobe_compat_disarm_in_hook(ts, profile_hook);
    schedule_next(r, now_wall);
    return 0;
}
#endif /* STROBE_REARM_SIGNAL */

/* ---- re-arm by pending call (3.12+) --------------------------------------- */

#ifdef STROBE_REARM_PENDING
static int
pending_sample(void *arg)
{
    strobe_rearm *r = arg;
    if (r->owner != NULL && r->pid == atomic_load(&current_pid) &&
        atomic_load(&r->state) == ST_FIRED) {
        Sampler *s = r->owner;
        if (r->all_threads) {
            uint64_t began = strobe_clock_wall_ns();
            sample_threads_here(s, began);
            schedule_next(r, began);
            rearm_decref(r);
            return 0;
        }
        /* On another thread, the profiled one does not hold the GIL: it is
         * blocked (sleep, I/O, a lock), its top frame is the line that made
         * the blocking call, and it cannot move while we read it. */
        if (PyThreadState_Get() != r->tstate && !thread_alive(r)) {
            atomic_fetch_or(&r->errors, ERR_THREAD_GONE);
            atomic_store(&r->state, ST_OFF);
            rearm_decref(r);
            return 0;
        }
        uint64_t now_wall = strobe_clock_wall_ns();
        uint64_t now_cpu = thread_cpu_ns(r->cpu_clock);
        PyObject *exc_type, *exc_value, *exc_tb;
        PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
        if (s->tasks) {
            sample_scopes(s, r->tstate, -1, NULL, now_wall, now_cpu);
        } else {
            Py_ssize_t depth = walk_stack(s, r->tstate, 0);
            if (depth >= 0) {
                account(s, &s->acct, now_wall, now_cpu, (size_t)depth, AFTER_SAME);
            }
        }
        PyErr_Restore(exc_type, exc_value, exc_tb);
        schedule_next(r, now_wall);
    }
    rearm_decref(r);
    return 0;
}

static int
fire(strobe_rearm *r)
{
    atomic_fetch_add(&r->refs, 1);
    if (strobe_compat_add_pending_call(r->interp, pending_sample, r) != 0) {
        atomic_fetch_sub(&r->refs, 1);
        return ERR_PENDING_FULL;
    }
    return 0;
}
#endif /* STROBE_REARM_PENDING */

/* ---- the timer thread ------------------------------------------------------ */

static void
wait_until(strobe_rearm *r, uint64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000000000u),
                          (long)(deadline % 1000000000u)};
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

/* All threads: when no thread holds the GIL (every one is blocked in C:
 * sleeping, waiting on a lock or I/O), no hook or pending call can run, so
 * the timer takes the GIL itself and samples them all, where they wait.
 * Without it, a gap in which every thread slept would go to whatever each
 * thread did next. Called with r->mu held; releases it meanwhile (stop()
 * takes it with the GIL held). */
static void
timer_sample(strobe_rearm *r)
{
    pthread_mutex_unlock(&r->mu);
    if (!strobe_compat_finalizing() && !atomic_load(&r->stopping)) {
        PyGILState_STATE g = PyGILState_Ensure();
        int st = atomic_load(&r->state);
        /* stop() sets ST_IDLE first and clears owner under the GIL */
        if (r->owner != NULL && (st == ST_WAITING || st == ST_FIRED || st == ST_ARMED)) {
            uint64_t began = strobe_clock_wall_ns();
            sample_threads(r->owner, NULL, -1, NULL, began);
            PyErr_Clear();
            schedule_next(r, began);
        }
        PyGILState_Release(g);
    }
    pthread_mutex_lock(&r->mu);
}

static void *
timer_main(void *arg)
{
    strobe_rearm *r = arg;
    /* Block every signal here: the program's handlers must keep running on
     * the threads that expect them. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* The default 50 us timer slack would stretch every interval; this
     * thread sleeps once or twice a sample, so precise wake-ups are cheap. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    /* While waiting for the hook the timer polls once an interval (cheap: it
     * only reads the state), but re-sends the signal with a growing backoff,
     * so a thread blocked in C for long is not flooded with EINTR. */
    uint64_t backoff = r->interval_ns;
    uint64_t resend_at = 0;
    pthread_mutex_lock(&r->mu);
    while (!atomic_load(&r->stopping)) {
        uint64_t now = strobe_clock_wall_ns();
        int st = atomic_load(&r->state);
        if (st == ST_WAITING) {
            uint64_t deadline = atomic_load(&r->deadline_ns);
            if (now < deadline) {
                wait_until(r, deadline);
                continue;
            }
            atomic_store(&r->fire_late_ns, now - deadline);
            atomic_store(&r->fire_wall_ns, now);
            int nclk = atomic_load(&r->n_fire_clocks);
            for (int i = 0; i < nclk; i++) {
                clockid_t fclk = (clockid_t)atomic_load(&r->fire_clock[i]);
                atomic_store(&r->fire_cpu_ns[i], thread_cpu_ns(fclk));
                atomic_store(&r->fire_clock_used[i], (int)fclk);
            }
            atomic_store(&r->n_fire_used, nclk);
            atomic_store(&r->state, ST_FIRED);
            atomic_store(&r->arm_trace, 0);
            int err = fire(r);
            if (err == ERR_NO_HOLDER) {
                /* Every thread is in C: sample them from here. */
                timer_sample(r);
                continue;
            }
            if (err == ERR_THREAD_GONE) {
                atomic_fetch_or(&r->errors, err);
                atomic_store(&r->state, ST_OFF);
            } else if (err) {
                atomic_fetch_or(&r->errors, err);
                atomic_store(&r->state, ST_WAITING); /* try again next tick */
                atomic_store(&r->deadline_ns, now + r->interval_ns);
            } else {
                atomic_fetch_add(&r->fires, 1);
            }
            /* Re-send after a quarter interval if the hook has not fired:
             * then with line events too (a loop that calls nothing). A flag
             * lost to the eval loop's C-frame switch (see
             * strobe_compat_armed_effective) is common on code that enters
             * nested eval loops often (generators driven from C): re-send
             * after that too, backing off. */
            backoff = r->interval_ns;
            resend_at = now + (r->all_threads ? r->interval_ns / 4 : r->interval_ns);
            wait_until(r, resend_at);
        } else if (st == ST_OFF || st == ST_IDLE) {
            wait_until(r, now + 100000000u);
        } else if (STROBE_PENDING_PATH && r->all_threads && st == ST_FIRED &&
                   now - atomic_load(&r->fire_wall_ns) >= r->interval_ns) {
            /* The pending call waits for a thread to run bytecode: none has
             * for an interval, so all are blocked (or one holds the GIL in
             * a long C call, which this waits out). */
            timer_sample(r);
        } else {
#ifdef STROBE_REARM_SIGNAL
            if (r->all_threads) {
                /* Not sampled a quarter interval after the signal: the GIL
                 * holder runs a loop that calls nothing, or has gone into C,
                 * or the GIL moved; signal whoever holds it now, with line
                 * events armed too (every thread's sample waits for this
                 * one: the ticks must stay regular). The program installing
                 * its own hook is seen by the signal handler. */
                if (now >= resend_at || strobe_compat_gil_holder() != r->target) {
                    atomic_store(&r->arm_trace, 1);
                    if (fire(r) == 0) {
                        atomic_fetch_add(&r->fires, 1);
                    }
                    resend_at = now + r->interval_ns;
                }
                /* Woken by the hook's sample or at the next re-send: a
                 * busy poll here takes CPU from the program's threads. */
                wait_until(r, resend_at > now ? resend_at : now + r->interval_ns);
                continue;
            }
            Py_tracefunc installed = r->tstate->c_profilefunc;
            int expected = ST_ARMED;
            if (st == ST_ARMED && installed != NULL && installed != profile_hook &&
                atomic_compare_exchange_strong(&r->state, &expected, ST_OFF)) {
                /* sys.setprofile() replaced our hook while it was armed. A
                 * NULL is not that: it is the hook disarming itself after
                 * `st` was read, and the state has moved on. */
                atomic_fetch_or(&r->errors, ERR_DISPLACED);
            } else if (now >= resend_at &&
                       (st == ST_FIRED ||
                        (st == ST_ARMED && !strobe_compat_armed_effective(r->tstate)))) {
                /* The signal was lost, or the flag it set was overwritten by
                 * the eval loop entering a new frame: send it again. (Line
                 * events stay off for one thread: the first event after a
                 * re-arm is often the c_call of the call being timed.) */
                if (fire(r) == 0) {
                    atomic_fetch_add(&r->fires, 1);
                }
                if (backoff < 1000000000u) {
                    backoff *= 2;
                }
                resend_at = now + backoff;
            }
#endif
            wait_until(r, now + r->interval_ns);
        }
    }
    pthread_mutex_unlock(&r->mu);
    (void)resend_at; /* only the signal path re-sends */
    (void)backoff;
    return NULL;
}

/* Starts the timer thread: SCHED_FIFO (priority 1) when the process may
 * (root, CAP_SYS_NICE, or an RLIMIT_RTPRIO above 0; not when
 * STROBOSCOPE_TIMER=normal), else as the program's threads run. A
 * real-time timer wakes on time: an ordinary one waits for a CPU among the
 * program's threads, 25 to 50 us usually but milliseconds at times with
 * several busy threads (tests/benchmarks/overhead.py, four-threads: 79 %
 * of the nominal rate, 98 % with it). It runs a few microseconds an
 * interval and never spins. 0 or an errno. */
static int
start_timer(strobe_rearm *r)
{
    const char *want = getenv("STROBOSCOPE_TIMER");
    if (want == NULL || strcmp(want, "normal") != 0) {
        pthread_attr_t attr;
        struct sched_param sp = {.sched_priority = 1};
        if (pthread_attr_init(&attr) == 0) {
            int rc = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
            rc = rc ? rc : pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
            rc = rc ? rc : pthread_attr_setschedparam(&attr, &sp);
            rc = rc ? rc : pthread_create(&r->thread, &attr, timer_main, r);
            pthread_attr_destroy(&attr);
            if (rc == 0) {
                r->realtime = 1;
                return 0;
            }
        }
    }
    r->realtime = 0;
    return pthread_create(&r->thread, NULL, timer_main, r);
}

/* ---- the Python type ------------------------------------------------------- */

static strobe_modstate *
sampler_state(Sampler *self)
{
    return strobe_state_from_type(Py_TYPE(self));
}

static int
Sampler_init(Sampler *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"interval", "own_prefix", "estimator", "timeline",
                             "all_threads", "tasks", NULL};
    double interval = 0.001;
    const char *own_prefix = NULL;
    const char *estimator = "split";
    int timeline = 0, all_threads = 0, tasks = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|dzsppp:Sampler", kwlist,
                                     &interval, &own_prefix, &estimator, &timeline,
                                     &all_threads, &tasks)) {
        return -1;
    }
    if (tasks && all_threads) {
        PyErr_SetString(PyExc_ValueError,
                        "a sampler of task scopes samples one thread");
        return -1;
    }
    if (self->rearm != NULL) {
        PyErr_SetString(sampler_state(self)->ProfilerError,
                        "cannot re-initialise a running sampler");
        return -1;
    }
    if (!(interval >= 1e-4 && interval <= 10.0)) {
        PyErr_SetString(PyExc_ValueError,
                        "interval must be between 0.0001 and 10 seconds");
        return -1;
    }
    if (strcmp(estimator, "split") != 0 && strcmp(estimator, "elapsed") != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "estimator must be 'split' or 'elapsed'");
        return -1;
    }
    self->interval_ns = (uint64_t)(interval * 1e9 + 0.5);
    self->split_estimator = strcmp(estimator, "split") == 0;
    self->timeline = timeline;
    self->all_threads = all_threads;
    self->tasks = tasks;
    free(self->own_prefix);
    self->own_prefix = NULL;
    self->own_prefix_len = 0;
    if (own_prefix != NULL && own_prefix[0] != '\0') {
        self->own_prefix = strdup(own_prefix);
        if (self->own_prefix == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->own_prefix_len = strlen(own_prefix);
    }
    self->acct.last_leaf = STROBE_NO_NODE;
    return 0;
}

static PyObject *
Sampler_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Sampler *self = (Sampler *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->interval_ns = 1000000;
    self->split_estimator = 1;
    self->acct.last_leaf = STROBE_NO_NODE;
    strobe_cache_init(&self->cache);
    return (PyObject *)self;
}

static void
running_list_remove(strobe_rearm *r)
{
    for (strobe_rearm **p = &running_list; *p != NULL; p = &(*p)->next_running) {
        if (*p == r) {
            *p = r->next_running;
            return;
        }
    }
}

/* Stops the timer thread and clears the hook. Needs the GIL; may run on any
 * thread (at exit, or when the object is collected). */
static void
sampler_halt(Sampler *self)
{
    strobe_rearm *r = self->rearm;
    if (r == NULL) {
        return;
    }
    int forked = r->pid != atomic_load(&current_pid);
    /* First: no hook or pending call may sample once stop() has read the
     * clocks, also while the GIL is released for the join below. */
    atomic_store(&r->state, ST_IDLE);
    if (r->thread_started && !forked) {
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->stopping, 1);
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        Py_BEGIN_ALLOW_THREADS
        pthread_join(r->thread, NULL);
        Py_END_ALLOW_THREADS
    }
    atomic_store(&r->state, ST_IDLE);
    self->fires_done += atomic_load(&r->fires);
    if (forked) {
        atomic_fetch_or(&r->errors, ERR_FORKED);
    }
#ifdef STROBE_REARM_SIGNAL
    PyThreadState *ts = r->tstate;
    if (thread_alive(r)) {
        /* Put back what was there before start(), unless the program has
         * installed its own profile function meanwhile. */
        if (ts->c_profilefunc == NULL || ts->c_profilefunc == profile_hook) {
            _PyEval_SetProfile(ts, self->saved_func, self->saved_obj);
        }
        if (ts->c_tracefunc == profile_hook) {
            _PyEval_SetTrace(ts, NULL, NULL);
        }
    }
    if (r->all_threads && !forked) {
        /* Threads signalled but not sampled yet still have the hook. */
        for (PyThreadState *t = PyInterpreterState_ThreadHead(r->interp); t != NULL;
             t = PyThreadState_Next(t)) {
            if (t != ts && t->c_profilefunc == profile_hook) {
                _PyEval_SetProfile(t, NULL, NULL);
            }
            if (t != ts && t->c_tracefunc == profile_hook) {
                _PyEval_SetTrace(t, NULL, NULL);
            }
        }
        PyErr_Clear(); /* an audit hook may refuse; nothing more to do */
    }
    rearm_signal_release();
#endif
    /* Halted on its own thread: release the thread-local slot too. From any
     * other thread the slot keeps its reference (so a late signal never reads
     * freed memory) until the next start() on that thread. */
    if (tls_rearm == r) {
        tls_rearm = NULL;
        rearm_decref(r);
    }
    Py_CLEAR(self->saved_obj);
    self->saved_func = NULL;
    running_list_remove(r);
    r->owner = NULL;
    self->rearm = NULL;
    rearm_decref(r);
}

PyDoc_STRVAR(Sampler_start_doc,
             "start(root_code=None)\n--\n\n"
             "Start sampling the calling thread. root_code, when given, is the "
             "code object of the program's outermost frame: frames above it "
             "(the runner's) are left out of every sample.");

static PyObject *
Sampler_start(Sampler *self, PyObject *const *args, Py_ssize_t nargs)
{
    strobe_modstate *st = sampler_state(self);
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "start() takes at most 1 argument");
        return NULL;
    }
    PyObject *root = nargs == 1 ? args[0] : Py_None;
    if (root != Py_None && !PyCode_Check(root)) {
        PyErr_SetString(PyExc_TypeError, "root_code must be a code object or None");
        return NULL;
    }
    if (self->rearm != NULL) {
        PyErr_SetString(st->ProfilerError, "the profiler is already running");
        return NULL;
    }
    for (strobe_rearm *o = running_list; o != NULL; o = o->next_running) {
        if (o->all_threads || self->all_threads) {
            /* Every thread has one profile slot, which all of them use. */
            PyErr_SetString(st->ProfilerError,
                            o->all_threads
                                ? "an all-threads profiler is already sampling "
                                  "every thread"
                                : "another profiler is running: an all-threads "
                                  "profiler must be the only one");
            return NULL;
        }
        if (o->tstate == PyThreadState_Get()) {
            PyErr_SetString(st->ProfilerError,
                            "another profiler is already sampling this thread");
            return NULL;
        }
    }
    if (self->lines == NULL) {
        self->lines = calloc(STROBE_LINE_CACHE, sizeof(*self->lines));
        if (self->lines == NULL) {
            return PyErr_NoMemory();
        }
    }
    strobe_session *session = strobe_session_new();
    strobe_rearm *r = calloc(1, sizeof(*r));
    if (session != NULL && self->timeline) {
        /* Allocated now, at its full (bounded) size: adding never allocates. */
        session->timeline = strobe_timeline_new(0);
        if (session->timeline == NULL) {
            strobe_session_free(session);
            session = NULL;
        }
    }
    if (session == NULL || r == NULL) {
        strobe_session_free(session);
        free(r);
        PyErr_NoMemory();
        return NULL;
    }
    /* One reference for the Sampler, one for this thread's tls_rearm. */
    atomic_init(&r->refs, 2);
    atomic_init(&r->state, ST_IDLE);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->tstate = PyThreadState_Get();
    r->interp = PyThreadState_GetInterpreter(r->tstate);
    r->pid = atomic_load(&current_pid);
    r->tid = (pid_t)syscall(SYS_gettid);
    r->interval_ns = self->interval_ns;
    r->all_threads = self->all_threads;
    if (r->all_threads) {
        r->cpu_clock = CLOCK_PROCESS_CPUTIME_ID;
    } else if (pthread_getcpuclockid(pthread_self(), &r->cpu_clock) != 0) {
        r->cpu_clock = CLOCK_THREAD_CPUTIME_ID;
    }

#ifdef STROBE_REARM_SIGNAL
    if (rearm_signal_acquire(st->ProfilerError) < 0) {
        rearm_decref(r);
        strobe_session_free(session);
        return NULL;
    }
    /* Save the installed profile function (stop() restores it) and clear it:
     * a thread has one profile slot, and sampling needs it. */
    self->saved_func = r->tstate->c_profilefunc;
    self->saved_obj = r->tstate->c_profileobj;
    Py_XINCREF(self->saved_obj);
    if (self->saved_func != NULL) {
        PyEval_SetProfile(NULL, NULL); /* fails only if an audit hook refuses */
        if (PyErr_Occurred()) {
            self->saved_func = NULL;
            Py_CLEAR(self->saved_obj);
            rearm_signal_release();
            rearm_decref(r);
            strobe_session_free(session);
            return NULL;
        }
    }
#endif
    strobe_session_free(self->session);
    self->session = session;
    session->interval_ns = self->interval_ns;
    session->start_time = strobe_clock_unix_time();
    if (strobe_session_set_string(&session->mechanism, STROBE_MECHANISM) < 0 ||
        strobe_session_set_string(&session->python_version, Py_GetVersion()) < 0) {
        PyErr_NoMemory();
        goto error;
    }
    char *sp = session->python_version ? strchr(session->python_version, ' ') : NULL;
    if (sp != NULL) {
        *sp = '\0'; /* "3.11.7 (main, ...)" -> "3.11.7" */
    }
    Py_XINCREF(root == Py_None ? NULL : root);
    Py_XSETREF(self->root_code, root == Py_None ? NULL : root);

    /* Touch the thread-local slot here, on this thread, so that the signal
     * handler's later access never has to allocate it. A slot left by a
     * sampler halted from another thread is released now. */
    if (tls_rearm != NULL) {
        rearm_decref(tls_rearm);
    }
    tls_rearm = r;
    r->owner = self;
    self->rearm = r;
    self->start_wall_ns = strobe_clock_wall_ns();
    self->start_cpu_ns = thread_cpu_ns(r->cpu_clock);
    self->acct.ts = r->tstate;
    self->acct.cpu_clock = r->cpu_clock;
    self->acct.last_wall_ns = self->start_wall_ns;
    self->acct.last_cpu_ns = self->start_cpu_ns;
    self->acct.last_leaf = STROBE_NO_NODE;
    self->acct.last_after = 0;
    self->acct.last_rho = -1.0;
    self->acct.last_late = 0;
    self->n_threads = 0;
    self->tick = 0;
    self->tick_wall_ns = self->start_wall_ns;
    if (r->all_threads) {
        /* The threads that exist now count from now. */
        for (PyThreadState *t = PyInterpreterState_ThreadHead(r->interp); t != NULL;
             t = PyThreadState_Next(t)) {
            thread_acct(self, t, 1);
        }
        atomic_fetch_add(&r->refs, 1); /* the all_rearm slot's */
        strobe_rearm *old = atomic_exchange(&all_rearm, r);
        if (old != NULL) {
            rearm_decref(old);
        }
    }
    publish_fire_clocks(self);
    atomic_store(&r->n_fire_used, 0);
    atomic_store(&r->fire_wall_ns, 0);
    atomic_store(&r->deadline_ns, self->start_wall_ns + self->interval_ns);
    atomic_store(&r->state, ST_WAITING);
    r->next_running = running_list;
    running_list = r;

    int rc = start_timer(r);
    if (rc == 0 && r->realtime &&
        strobe_session_set_string(&session->mechanism,
                                  STROBE_MECHANISM ", realtime timer") < 0) {
        PyErr_NoMemory();
        r->thread_started = 1;
        goto error;
    }
    if (rc != 0) {
        errno = rc;
        PyErr_SetFromErrno(PyExc_OSError);
        goto error;
    }
    r->thread_started = 1;
    Py_RETURN_NONE;

error:
    if (self->rearm != NULL) {
        sampler_halt(self);
    } else {
#ifdef STROBE_REARM_SIGNAL
        Py_CLEAR(self->saved_obj);
        rearm_signal_release();
#endif
        rearm_decref(r);
    }
    return NULL;
}

static const char *
error_message(int bit)
{
    switch (bit) {
    case ERR_NOMEM:
        return "out of memory while sampling: some samples were dropped";
    case ERR_DISPLACED:
        return "the program installed its own profile function: sampling "
               "stepped aside";
    case ERR_THREAD_GONE:
        return "the profiled thread exited before the profiler was stopped";
    case ERR_FIRE:
        return "the re-arm signal could not be sent: some samples are missing";
    case ERR_NAME:
        return "a function or file name could not be read";
    case ERR_FORKED:
        return "the process forked while profiling: this child's profile ends "
               "at the fork";
    case ERR_PENDING_FULL:
        return "the interpreter's pending-call queue was full: some samples "
               "are missing";
    }
    return "unknown sampling error";
}

static void scopes_clear(Sampler *self);
static void add_errors(strobe_session *s, int errors);

PyDoc_STRVAR(Sampler_stop_doc,
             "stop()\n--\n\n"
             "Stop sampling and return the session (a SessionData). Must be "
             "called from the thread that started the sampler.");

static PyObject *
Sampler_stop(Sampler *self, PyObject *Py_UNUSED(ignored))
{
    strobe_modstate *st = sampler_state(self);
    strobe_rearm *r = self->rearm;
    if (r == NULL) {
        PyErr_SetString(st->ProfilerError, "the profiler is not running");
        return NULL;
    }
    int forked = r->pid != atomic_load(&current_pid);
    if (!forked && PyThreadState_Get() != r->tstate) {
        PyErr_SetString(st->ProfilerError,
                        "stop() must be called from the thread that called "
                        "start()");
        return NULL;
    }
    uint64_t now_wall = strobe_clock_wall_ns();
    uint64_t now_cpu = thread_cpu_ns(r->cpu_clock);
    int state = atomic_load(&r->state);
    (void)state; /* only the signal path has a C call in flight */
    if (self->all_threads && !forked) {
        /* A last sample of every thread, now: the others are blocked where
         * they are, this one is in stop(). Without it, the time since each
         * thread's previous sample would go to where that sample left it
         * (a thread that slept since would look busy). */
        sample_threads_here(self, now_wall);
    }
    atomic_fetch_add(&r->refs, 1); /* keep r for its error flags */
    sampler_halt(self);

    strobe_session *s = self->session;
    /* The time since the last sample: a C call in progress keeps its node;
     * otherwise it goes to where the program was when it stopped us. (All
     * threads: the last sample above, taken at now_wall, has charged it.) */
    if (!forked && !self->all_threads && !self->tasks) {
#ifdef STROBE_REARM_SIGNAL
        if (state == ST_CCALL) {
            finish_ccall(self, now_wall, now_cpu);
        } else
#endif
        {
            strobe_acct *a = &self->acct;
            uint64_t dw, dc;
            gap_since(a, now_wall, now_cpu, &dw, &dc);
            uint32_t node = a->last_leaf != STROBE_NO_NODE ? a->last_leaf
                                                               : STROBE_ROOT_NODE;
            if (self->session->sample_count > 0) {
                strobe_tree_add_time(s->tree, node, dw, dc);
            }
        }
    }
    s->duration_ns = now_wall - self->start_wall_ns;
    s->cpu_ns = now_cpu > self->start_cpu_ns ? now_cpu - self->start_cpu_ns : 0;
    int errors = atomic_load(&r->errors) | (forked ? ERR_FORKED : 0);
    rearm_decref(r);
    add_errors(s, errors);
    scopes_clear(self);
    strobe_cache_clear(&self->cache);
    /* The code objects are no longer kept alive: forget their lines. */
    memset(self->lines, 0, STROBE_LINE_CACHE * sizeof(*self->lines));
    Py_CLEAR(self->root_code);
    self->session = NULL;
    return strobe_session_wrap(st, s);
}

/* ---- task scopes: add_scope(), remove_scope() ----------------------------- */

static void
scopes_clear(Sampler *self)
{
    for (size_t i = 0; i < self->n_scopes; i++) {
        Py_CLEAR(self->scopes[i].coro);
        strobe_tree_free(self->scopes[i].acct.tree);
    }
    self->n_scopes = 0;
}

/* The errors the sampler has met so far, as session errors. */
static void
add_errors(strobe_session *s, int errors)
{
    for (int bit = 1; bit <= ERR_PENDING_FULL; bit <<= 1) {
        if (errors & bit) {
            strobe_session_add_error(s, error_message(bit));
        }
    }
}

/* Checks that the sampler samples task scopes and runs on this thread. */
static int
scope_call_ok(Sampler *self)
{
    strobe_modstate *st = sampler_state(self);
    if (!self->tasks) {
        PyErr_SetString(st->ProfilerError, "this sampler has no task scopes");
        return 0;
    }
    if (self->rearm == NULL || self->rearm->pid != atomic_load(&current_pid)) {
        PyErr_SetString(st->ProfilerError, "the sampler is not running");
        return 0;
    }
    if (PyThreadState_Get() != self->rearm->tstate) {
        PyErr_SetString(st->ProfilerError,
                        "a task scope belongs to the thread that started the "
                        "sampler");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(Sampler_add_scope_doc,
             "add_scope(coro, strict=False)\n--\n\n"
             "Start sampling the asyncio task whose outermost coroutine is "
             "coro (a running sampler of task scopes, on the task's thread). "
             "Returns the scope's id for remove_scope().");

static PyObject *
Sampler_add_scope(Sampler *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"coro", "strict", NULL};
    PyObject *coro;
    int strict = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:add_scope", kwlist, &coro,
                                     &strict)) {
        return NULL;
    }
    if (!PyCoro_CheckExact(coro) && !PyGen_CheckExact(coro)) {
        PyErr_SetString(PyExc_TypeError, "coro must be a coroutine or a generator");
        return NULL;
    }
    if (!scope_call_ok(self)) {
        return NULL;
    }
    if (self->str_cr_await == NULL) {
        self->str_cr_await = PyUnicode_InternFromString("cr_await");
        self->str_gi_yieldfrom = PyUnicode_InternFromString("gi_yieldfrom");
        if (self->str_cr_await == NULL || self->str_gi_yieldfrom == NULL) {
            Py_CLEAR(self->str_cr_await);
            Py_CLEAR(self->str_gi_yieldfrom);
            return NULL;
        }
    }
    PyObject *empty = PyUnicode_FromStringAndSize("", 0);
    PyObject *aw = PyUnicode_FromString("[await]");
    PyObject *ooc = PyUnicode_FromString("[out of context]");
    int rc = empty && aw && ooc &&
             intern_strings(self, aw, empty, 0, STROBE_FRAME_SYNTHETIC,
                            &self->await_frame) == 0 &&
             intern_strings(self, ooc, empty, 0, STROBE_FRAME_SYNTHETIC,
                            &self->out_of_context_frame) == 0;
    Py_XDECREF(empty);
    Py_XDECREF(aw);
    Py_XDECREF(ooc);
    if (!rc) {
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    if (self->n_scopes == self->cap_scopes) {
        size_t ncap = self->cap_scopes ? self->cap_scopes * 2 : 8;
        if (grow((void **)&self->scopes, ncap, sizeof(*self->scopes)) < 0) {
            return PyErr_NoMemory();
        }
        self->cap_scopes = ncap;
    }
    strobe_tree *tree = strobe_tree_new();
    if (tree == NULL) {
        return PyErr_NoMemory();
    }
    strobe_scope *sc = &self->scopes[self->n_scopes++];
    memset(sc, 0, sizeof(*sc));
    sc->id = ++self->next_scope_id;
    sc->coro = Py_NewRef(coro);
    sc->strict = strict;
    sc->start_time = strobe_clock_unix_time();
    sc->start_wall_ns = strobe_clock_wall_ns();
    sc->acct.ts = self->rearm->tstate;
    sc->acct.cpu_clock = self->rearm->cpu_clock;
    sc->acct.root_frame = STROBE_NO_FRAME;
    sc->acct.last_wall_ns = sc->start_wall_ns;
    sc->acct.last_cpu_ns = thread_cpu_ns(self->rearm->cpu_clock);
    sc->acct.last_leaf = STROBE_NO_NODE;
    sc->acct.last_rho = -1.0;
    sc->acct.tree = tree;
    return PyLong_FromLong(sc->id);
}

PyDoc_STRVAR(Sampler_remove_scope_doc,
             "remove_scope(id)\n--\n\n"
             "Stop sampling a task scope and return its session (a "
             "SessionData). The sampler keeps running.");

static PyObject *
Sampler_remove_scope(Sampler *self, PyObject *arg)
{
    long id = PyLong_AsLong(arg);
    if (id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (!scope_call_ok(self)) {
        return NULL;
    }
    size_t i = 0;
    while (i < self->n_scopes && self->scopes[i].id != id) {
        i++;
    }
    if (i == self->n_scopes) {
        PyErr_SetString(sampler_state(self)->ProfilerError, "no such task scope");
        return NULL;
    }
    strobe_scope *sc = &self->scopes[i];
    /* A last sample: the time since the previous one goes where the task is
     * now (in stop(), usually: our own frames are left out). */
    uint64_t now_wall = strobe_clock_wall_ns();
    uint64_t now_cpu = thread_cpu_ns(self->rearm->cpu_clock);
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    Py_ssize_t walked = walk_codes(self, self->rearm->tstate, 0, NULL);
    if (walked >= 0) {
        sample_scope(self, sc, (size_t)walked, -1, NULL, now_wall, now_cpu);
    }
    PyErr_Restore(exc_type, exc_value, exc_tb);

    strobe_session *out = strobe_session_new();
    strobe_session view = *self->session; /* its frames and metadata... */
    view.tree = sc->acct.tree;            /* ...with the scope's tree */
    view.timeline = NULL;
    view.start_time = sc->start_time;
    view.duration_ns = now_wall - sc->start_wall_ns;
    view.sample_count = sc->acct.samples;
    view.cpu_ns = 0;
    for (size_t k = 0, n = strobe_tree_count(sc->acct.tree); k < n; k++) {
        view.cpu_ns += strobe_tree_node(sc->acct.tree, (uint32_t)k)->self_cpu_ns;
    }
    view.errors = NULL;
    view.n_errors = 0;
    if (out == NULL || strobe_session_merge_used(out, &view) < 0) {
        strobe_session_free(out);
        return PyErr_NoMemory();
    }
    add_errors(out, atomic_load(&self->rearm->errors));
    Py_CLEAR(sc->coro);
    strobe_tree_free(sc->acct.tree);
    self->scopes[i] = self->scopes[--self->n_scopes];
    return strobe_session_wrap(sampler_state(self), out);
}

PyDoc_STRVAR(Sampler_scopes_doc, "The number of task scopes being sampled.");

static PyObject *
Sampler_get_scopes(Sampler *self, void *closure)
{
    return PyLong_FromSize_t(self->n_scopes);
}

static PyObject *
Sampler_get_running(Sampler *self, void *closure)
{
    strobe_rearm *r = self->rearm;
    return PyBool_FromLong(r != NULL && r->pid == atomic_load(&current_pid));
}

static PyObject *
Sampler_get_samples(Sampler *self, void *closure)
{
    return PyLong_FromUnsignedLongLong(self->session ? self->session->sample_count : 0);
}

static PyObject *
Sampler_get_rearms(Sampler *self, void *closure)
{
    uint64_t n = self->fires_done;
    if (self->rearm != NULL) {
        n += atomic_load(&self->rearm->fires);
    }
    return PyLong_FromUnsignedLongLong(n);
}

static int
Sampler_traverse(Sampler *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->root_code);
    Py_VISIT(self->saved_obj);
    for (size_t i = 0; i < self->n_scopes; i++) {
        Py_VISIT(self->scopes[i].coro);
    }
    return 0;
}

static void
Sampler_dealloc(Sampler *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    sampler_halt(self);
    scopes_clear(self);
    free(self->scopes);
    Py_CLEAR(self->str_cr_await);
    Py_CLEAR(self->str_gi_yieldfrom);
    strobe_cache_clear(&self->cache);
    strobe_session_free(self->session);
    Py_CLEAR(self->root_code);
    Py_CLEAR(self->saved_obj);
    free(self->own_prefix);
    free(self->lines);
    free(self->stack_codes);
    free(self->stack_code_lines);
    free(self->stack_fids);
    free(self->stack_frames);
    free(self->stack_lines);
    free(self->threads);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

PyObject *
strobe_sampler_stop_all(PyObject *module, PyObject *unused)
{
    /* At interpreter exit: a profiler never stopped must not keep signalling
     * a thread whose state is about to be freed. */
    while (running_list != NULL) {
        sampler_halt(running_list->owner);
    }
    Py_RETURN_NONE;
}

PyObject *
strobe_sampler_hooked_threads(PyObject *module, PyObject *unused)
{
    /* For tests: how many threads have the sampler's hook installed (always
     * 0 on 3.12+, which samples without one). */
    long n = 0;
#ifdef STROBE_REARM_SIGNAL
    PyInterpreterState *interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL;
         t = PyThreadState_Next(t)) {
        n += t->c_profilefunc == profile_hook || t->c_tracefunc == profile_hook;
    }
#endif
    return PyLong_FromLong(n);
}

static void
after_fork_child(void)
{
    atomic_store(&current_pid, (int)getpid());
    /* The child has none of the parent's timer threads; forget the list
     * (its entries are the parent's) so nothing tries to join them. */
    running_list = NULL;
}

int
strobe_sampler_process_init(void)
{
    static int done;
    if (done) {
        return 0;
    }
    atomic_store(&current_pid, (int)getpid());
    if (pthread_atfork(NULL, NULL, after_fork_child) != 0) {
        return -1;
    }
    done = 1;
    return 0;
}

static PyMethodDef Sampler_methods[] = {
    {"start", (PyCFunction)(void (*)(void))Sampler_start, METH_FASTCALL,
     Sampler_start_doc},
    {"stop", (PyCFunction)Sampler_stop, METH_NOARGS, Sampler_stop_doc},
    {"add_scope", (PyCFunction)(void (*)(void))Sampler_add_scope,
     METH_VARARGS | METH_KEYWORDS, Sampler_add_scope_doc},
    {"remove_scope", (PyCFunction)Sampler_remove_scope, METH_O,
     Sampler_remove_scope_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Sampler_getset[] = {
    {"is_running", (getter)Sampler_get_running, NULL,
     "Whether the sampler is running in this process.", NULL},
    {"sample_count", (getter)Sampler_get_samples, NULL,
     "Samples taken so far in the current run.", NULL},
    {"rearm_count", (getter)Sampler_get_rearms, NULL,
     "Re-arm signals or pending calls sent over this sampler's life.", NULL},
    {"scope_count", (getter)Sampler_get_scopes, NULL, Sampler_scopes_doc, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Sampler_slots[] = {
    {Py_tp_doc, "Sampler(interval=0.001, own_prefix=None, estimator='split', timeline=False, "
                "all_threads=False)\n--\n\n"
                "Samples the Python stack of the thread that starts it, or of every "
                "thread (all_threads), each under a root naming the thread."},
    {Py_tp_new, Sampler_new},
    {Py_tp_init, Sampler_init},
    {Py_tp_dealloc, Sampler_dealloc},
    {Py_tp_traverse, Sampler_traverse},
    {Py_tp_methods, Sampler_methods},
    {Py_tp_getset, Sampler_getset},
    {0, NULL},
};

PyType_Spec strobe_sampler_spec = {
    .name = "stroboscope._core.Sampler",
    .basicsize = sizeof(Sampler),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Sampler_slots,
};
