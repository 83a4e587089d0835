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
};

typedef struct Sampler Sampler;

#define STROBE_LINE_CACHE 4096 /* a power of two */

/* What the timer thread, the signal handler and the pending call share. It
 * outlives the Sampler while a pending call still points at it. */
typedef struct strobe_rearm {
    atomic_int refs;
    atomic_int state;
    atomic_uint_fast64_t deadline_ns;
    atomic_uint_fast64_t fire_wall_ns; /* when the timer last re-armed */
    atomic_uint_fast64_t fire_cpu_ns;
    atomic_int stopping;
    atomic_int errors;
    atomic_uint_fast64_t fires; /* re-arm requests sent, re-sends included */

    Sampler *owner;          /* NULL once stopped; touched with the GIL held */
    PyThreadState *tstate;   /* the profiled thread */
    PyInterpreterState *interp;
    pid_t pid;
    pid_t tid;
    clockid_t cpu_clock;     /* the profiled thread's CPU clock */
    uint64_t interval_ns;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int thread_started;

    struct strobe_rearm *next_running; /* list of running samplers (GIL) */
} strobe_rearm;

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
    uint64_t last_wall_ns, last_cpu_ns; /* time of the previous sample */
    uint32_t last_leaf;                 /* where it left the program */
    int last_after;                     /* its after_event */
    double last_rho;                    /* its stack's CPU density, or -1 */
    int last_late;                      /* it ended a blocking call */
    uint32_t ccall_node;                /* ST_CCALL: the C function's node */
    uint32_t ccall_caller;              /* ST_CCALL: the caller's leaf */
    uint64_t ccall_deadline;            /* ST_CCALL: end of its sample + interval */

    Py_tracefunc saved_func; /* profile function installed before start() */
    PyObject *saved_obj;

    PyCodeObject **stack_codes; /* scratch: the walk, leaf first */
    int32_t *stack_code_lines;
    struct strobe_line_slot {
        PyCodeObject *code;
        int lasti;
        int32_t line;
    } *lines;                /* STROBE_LINE_CACHE slots, see line_of() */
    uint32_t *stack_frames;  /* scratch: the sample, root first */
    int32_t *stack_lines;
    size_t stack_cap;
};

static _Thread_local strobe_rearm *tls_rearm;
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
visit_frame(void *arg, PyCodeObject *co, int lasti)
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
    w->n++;
    if ((PyObject *)co == s->root_code) {
        w->reached_root = 1; /* the program's outermost frame */
        return 1;
    }
    return 0;
}

/* Walks the stack of `ts` from its innermost frame (less `skip`) to the
 * outermost, or to root_code, and leaves it root-first in the scratch arrays
 * as frame ids, without stroboscope's own frames. With a root_code, a stack
 * that does not reach it (the runner's own code, before or after the
 * program) is empty. Frames are interned only once the stack is kept.
 * Returns the depth, or -1. */
static Py_ssize_t
walk_stack(Sampler *s, PyThreadState *ts, int skip)
{
    walk_ctx w = {s, 0, 0, 0};
    strobe_walk_frames(ts, skip, visit_frame, &w);
    if (w.failed) {
        return -1;
    }
    if (s->root_code != NULL && !w.reached_root) {
        return 0;
    }
    /* Leaf-first codes to root-first frame ids. */
    size_t n = 0;
    for (size_t i = w.n; i-- > 0;) {
        strobe_cache_entry *e = code_entry(s, s->stack_codes[i]);
        if (e == NULL || (e->flags & STROBE_CACHE_OWN)) {
            continue;
        }
        s->stack_frames[n] = e->frame;
        s->stack_lines[n] = line_of(s, s->stack_codes[i], s->stack_code_lines[i]);
        n++;
    }
    return (Py_ssize_t)n;
}

/* Where the program is right after the event that took a sample: the part
 * of the next gap before the re-arm is shared with this stack. */
typedef enum { AFTER_SAME, AFTER_CALLER, AFTER_CALLEE } after_event;

/* Charges the time since the previous sample (see the top of this file) to
 * the stack in the scratch arrays and makes this sample the previous one.
 * With AFTER_CALLEE the scratch stack holds depth + 1 frames, the last being
 * the function just called (charged to its caller). */
static void
account(Sampler *s, uint64_t now_wall, uint64_t now_cpu, size_t depth,
        after_event after)
{
    strobe_rearm *r = s->rearm;
    strobe_tree *tree = s->session->tree;
    uint64_t dw = now_wall > s->last_wall_ns ? now_wall - s->last_wall_ns : 0;
    uint64_t dc = now_cpu > s->last_cpu_ns ? now_cpu - s->last_cpu_ns : 0;
    uint64_t pw = 0, pc = 0; /* the previous stack's part of this gap */
    uint64_t fw = atomic_load(&r->fire_wall_ns);
    uint64_t fc = atomic_load(&r->fire_cpu_ns);
    int fired_in_gap = fw > s->last_wall_ns && fw <= now_wall &&
                       fc >= s->last_cpu_ns && fc <= now_cpu;
    /* CPU density (CPU / wall) of the new stack over [fire, now], the part
     * of the gap that surely belongs to it. */
    double rho_new = -1.0;
    int late = 0;
    if (fired_in_gap) {
        if (now_wall - fw >= 20000) {
            rho_new = (double)(now_cpu - fc) / (double)(now_wall - fw);
        } else {
            rho_new = 1.0; /* it ran bytecode right at the re-arm: computing */
        }
        /* A sample that comes late ends a blocking call (or a long C call):
         * right after it the program moves on, like after a return. */
        late = now_wall - fw > r->interval_ns;
    }
    if (s->split_estimator && s->last_leaf != STROBE_NO_NODE && fired_in_gap) {
        uint64_t w = fw - s->last_wall_ns; /* who ran here is unknown */
        uint64_t c = fc - s->last_cpu_ns;
        if (rho_new >= 0 && s->last_rho >= 0 && fabs(s->last_rho - rho_new) > 0.5) {
            /* One stack computed, the other waited: the CPU burnt in the
             * unknown part says how long the computing one ran. */
            double x = ((double)c - rho_new * (double)w) / (s->last_rho - rho_new);
            x = x < 0 ? 0 : x > (double)w ? (double)w : x;
            pw = (uint64_t)x;
            pc = (uint64_t)(s->last_rho * x);
            pc = pc > c ? c : pc;
        } else if (s->last_after == AFTER_SAME && !s->last_late) {
            /* Sampled mid-run: the change is anywhere in the unknown part. */
            pw = w / 2;
            pc = c / 2;
        }
        /* After a call or a return the program moves on at once: the
         * unknown part is the new stack's. */
        if (pw || pc) {
            strobe_tree_add_time(tree, s->last_leaf, pw, pc);
        }
    }
    uint32_t leaf = STROBE_NO_NODE;
    if (strobe_tree_add_sample(tree, s->stack_frames, s->stack_lines, depth,
                               dw - pw, dc - pc, &leaf) < 0) {
        atomic_fetch_or(&r->errors, ERR_NOMEM);
        leaf = STROBE_NO_NODE;
    } else {
        s->session->sample_count++;
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
    s->last_wall_ns = now_wall;
    s->last_cpu_ns = now_cpu;
    s->last_leaf = leaf;
    s->last_after = after;
    s->last_rho = rho_new;
    s->last_late = late;
}

/* Sampling is over for this interval: count the next deadline from now. */
static void
schedule_next(strobe_rearm *r)
{
    atomic_store(&r->deadline_ns, strobe_clock_wall_ns() + r->interval_ns);
    atomic_store(&r->state, ST_WAITING);
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
    strobe_rearm *r = tls_rearm;
    if (r == NULL || r->pid != atomic_load(&current_pid)) {
        return;
    }
    int st = atomic_load(&r->state);
    if (st != ST_FIRED && st != ST_ARMED) {
        return;
    }
    PyThreadState *ts = r->tstate;
    if (ts->c_profilefunc == NULL || ts->c_profilefunc == profile_hook) {
        strobe_compat_arm(ts, profile_hook);
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
    if (syscall(SYS_tgkill, r->pid, r->tid, rearm_signo) != 0) {
        return errno == ESRCH ? ERR_THREAD_GONE : ERR_FIRE;
    }
    return 0;
}

static void
finish_ccall(Sampler *s, uint64_t now_wall, uint64_t now_cpu)
{
    /* Everything since c_call was spent inside that C function. */
    uint64_t dw = now_wall > s->last_wall_ns ? now_wall - s->last_wall_ns : 0;
    uint64_t dc = now_cpu > s->last_cpu_ns ? now_cpu - s->last_cpu_ns : 0;
    strobe_tree_add_time(s->session->tree, s->ccall_node, dw, dc);
    s->last_wall_ns = now_wall;
    s->last_cpu_ns = now_cpu;
    s->last_leaf = s->ccall_caller;
    s->last_after = 1; /* AFTER_CALLER: the C function has returned */
    s->last_rho = dw ? (double)dc / (double)dw : -1.0;
    s->last_late = 0;
}

static int
profile_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    PyThreadState *ts = PyThreadState_Get();
    strobe_rearm *r = tls_rearm;
    if (r == NULL || r->tstate != ts || r->owner == NULL ||
        r->pid != atomic_load(&current_pid)) {
        strobe_compat_disarm_in_hook(ts);
        return 0;
    }
    Sampler *s = r->owner;
    int st = atomic_load(&r->state);
    uint64_t now_wall = strobe_clock_wall_ns();
    uint64_t now_cpu = thread_cpu_ns(r->cpu_clock);

    if (st == ST_CCALL) {
        finish_ccall(s, now_wall, now_cpu);
        strobe_compat_disarm_in_hook(ts);
        if (now_wall >= s->ccall_deadline) {
            /* The C call outlasted an interval: its return is this interval's
             * sample (measured exactly), and the next counts from here. */
            s->session->sample_count++;
            if (s->session->timeline != NULL) {
                strobe_timeline_add(s->session->timeline,
                                    now_wall - s->start_wall_ns, s->ccall_node);
            }
            schedule_next(r);
        } else {
            /* The next deadline still counts from the end of the c_call
             * sample: time spent in a short C call is not added to it. */
            atomic_store(&r->deadline_ns, s->ccall_deadline);
            atomic_store(&r->state, ST_WAITING);
        }
        return 0;
    }
    if (st != ST_ARMED) {
        strobe_compat_disarm_in_hook(ts);
        return 0;
    }
    /* On call the time belongs to the caller; on return to the callee; on
     * c_call to the caller; on c_return to the caller with the C function as
     * the leaf. */
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    Py_ssize_t depth = walk_stack(s, ts, 0);
    int keep_armed = 0;
    if (depth >= 0) {
        uint32_t cid;
        int is_c = (what == PyTrace_C_CALL || what == PyTrace_C_RETURN ||
                    what == PyTrace_C_EXCEPTION) &&
                   !is_own_cfunc(s, arg);
        if (what == PyTrace_C_CALL && is_c) {
            account(s, now_wall, now_cpu, (size_t)depth, AFTER_SAME);
            /* Stay armed through this C call: its c_return says how long it
             * took, with the C function as the leaf (time.sleep, a lock). */
            if (s->last_leaf != STROBE_NO_NODE && cfunc_frame(s, arg, &cid) == 0 &&
                strobe_tree_child(s->session->tree, s->last_leaf, cid, 0,
                                  &s->ccall_node) == 0) {
                s->ccall_caller = s->last_leaf;
                keep_armed = 1;
            }
        } else if (what == PyTrace_CALL && depth > 0) {
            /* The callee has not run yet: its caller gets the time. */
            account(s, now_wall, now_cpu, (size_t)depth - 1, AFTER_CALLEE);
        } else if (what == PyTrace_RETURN) {
            account(s, now_wall, now_cpu, (size_t)depth, AFTER_CALLER);
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
            account(s, now_wall, now_cpu, (size_t)depth, after);
        }
    }
    PyErr_Restore(exc_type, exc_value, exc_tb);
    if (keep_armed) {
        s->ccall_deadline = strobe_clock_wall_ns() + r->interval_ns;
        atomic_store(&r->state, ST_CCALL);
        return 0;
    }
    strobe_compat_disarm_in_hook(ts);
    schedule_next(r);
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
        Py_ssize_t depth = walk_stack(s, r->tstate, 0);
        if (depth >= 0) {
            account(s, now_wall, now_cpu, (size_t)depth, AFTER_SAME);
        }
        PyErr_Restore(exc_type, exc_value, exc_tb);
        schedule_next(r);
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
            atomic_store(&r->fire_wall_ns, now);
            atomic_store(&r->fire_cpu_ns, thread_cpu_ns(r->cpu_clock));
            atomic_store(&r->state, ST_FIRED);
            int err = fire(r);
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
            /* A flag lost to the eval loop's C-frame switch (see
             * strobe_compat_armed_effective) is common on code that enters
             * nested eval loops often (generators driven from C): re-send
             * after one interval, then back off. */
            backoff = r->interval_ns;
            resend_at = now + backoff;
            wait_until(r, now + r->interval_ns);
        } else if (st == ST_OFF || st == ST_IDLE) {
            wait_until(r, now + 100000000u);
        } else {
#ifdef STROBE_REARM_SIGNAL
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
                 * the eval loop entering a new frame: send it again. */
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
    return NULL;
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
    static char *kwlist[] = {"interval", "own_prefix", "estimator", "timeline", NULL};
    double interval = 0.001;
    const char *own_prefix = NULL;
    const char *estimator = "split";
    int timeline = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|dzsp:Sampler", kwlist,
                                     &interval, &own_prefix, &estimator, &timeline)) {
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
    self->last_leaf = STROBE_NO_NODE;
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
    self->last_leaf = STROBE_NO_NODE;
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
    if (pthread_getcpuclockid(pthread_self(), &r->cpu_clock) != 0) {
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
    self->last_wall_ns = self->start_wall_ns;
    self->last_cpu_ns = self->start_cpu_ns;
    self->last_leaf = STROBE_NO_NODE;
    self->last_after = 0;
    self->last_rho = -1.0;
    atomic_store(&r->fire_wall_ns, 0);
    atomic_store(&r->fire_cpu_ns, 0);
    atomic_store(&r->deadline_ns, self->start_wall_ns + self->interval_ns);
    atomic_store(&r->state, ST_WAITING);
    r->next_running = running_list;
    running_list = r;

    int rc = pthread_create(&r->thread, NULL, timer_main, r);
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
    atomic_fetch_add(&r->refs, 1); /* keep r for its error flags */
    sampler_halt(self);

    strobe_session *s = self->session;
    /* The time since the last sample: a C call in progress keeps its node;
     * otherwise it goes to where the program was when it stopped us. */
    if (!forked) {
#ifdef STROBE_REARM_SIGNAL
        if (state == ST_CCALL) {
            finish_ccall(self, now_wall, now_cpu);
        } else
#endif
        {
            uint64_t dw = now_wall > self->last_wall_ns ? now_wall - self->last_wall_ns : 0;
            uint64_t dc = now_cpu > self->last_cpu_ns ? now_cpu - self->last_cpu_ns : 0;
            uint32_t node = self->last_leaf != STROBE_NO_NODE ? self->last_leaf
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
    for (int bit = 1; bit <= ERR_PENDING_FULL; bit <<= 1) {
        if (errors & bit) {
            strobe_session_add_error(s, error_message(bit));
        }
    }
    strobe_cache_clear(&self->cache);
    /* The code objects are no longer kept alive: forget their lines. */
    memset(self->lines, 0, STROBE_LINE_CACHE * sizeof(*self->lines));
    Py_CLEAR(self->root_code);
    self->session = NULL;
    return strobe_session_wrap(st, s);
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
    return 0;
}

static void
Sampler_dealloc(Sampler *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    sampler_halt(self);
    strobe_cache_clear(&self->cache);
    strobe_session_free(self->session);
    Py_CLEAR(self->root_code);
    Py_CLEAR(self->saved_obj);
    free(self->own_prefix);
    free(self->lines);
    free(self->stack_codes);
    free(self->stack_code_lines);
    free(self->stack_frames);
    free(self->stack_lines);
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
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Sampler_getset[] = {
    {"is_running", (getter)Sampler_get_running, NULL,
     "Whether the sampler is running in this process.", NULL},
    {"sample_count", (getter)Sampler_get_samples, NULL,
     "Samples taken so far in the current run.", NULL},
    {"rearm_count", (getter)Sampler_get_rearms, NULL,
     "Re-arm signals or pending calls sent over this sampler's life.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Sampler_slots[] = {
    {Py_tp_doc, "Sampler(interval=0.001, own_prefix=None, estimator='split', timeline=False)\n--\n\n"
                "Samples the Python stack of the thread that starts it."},
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
