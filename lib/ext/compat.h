/* Everything that differs between CPython versions, in one place.
 *
 * Re-arming the sampler is the one job the public C API cannot do (see
 * docs/engine.md for the measurements behind each choice):
 *
 *   3.9 - 3.11  "signal+setprofile": a timer thread sends a real-time signal to
 *               the profiled thread; the C handler, running on that thread,
 *               writes the thread's profile function and use_tracing flag
 *               directly (PyEval_SetProfile is not async-signal-safe). The hook
 *               fires on the next call/return/c_call/c_return, samples, and
 *               clears the profile function again.
 *   3.12 +      "pending-call": the legacy profile hook is built on
 *               sys.monitoring there, so installing it re-instruments code each
 *               time. Instead the timer queues a pending call that any thread
 *               may run (_PyEval_AddPendingCall with the main-thread-only flag
 *               off); it runs at the next eval-breaker check of whichever
 *               thread holds the GIL, and samples the profiled thread's stack
 *               there. Nothing is instrumented, ever.
 */
#ifndef STROBE_COMPAT_H
#define STROBE_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#ifdef Py_GIL_DISABLED
#define STROBE_FREE_THREADED 1
#endif

#if PY_VERSION_HEX >= 0x030C0000
#define STROBE_REARM_PENDING 1
#define STROBE_MECHANISM "pending-call"
#else
#define STROBE_REARM_SIGNAL 1
#define STROBE_MECHANISM "signal+setprofile"
#endif

#ifdef STROBE_REARM_SIGNAL
/* Arm the hook of `ts` from a signal handler running on that same thread.
 * Writes only plain fields: no allocation, no locks, no refcounts, so it is
 * async-signal-safe. The hook goes into the profile slot (call, return and C
 * call events: the first of them is the sample, so a C call being started is
 * seen and timed) and, with_lines (a re-send: nothing fired for a while) and
 * when nobody uses it, the trace slot too: its line events fire inside loops
 * that call nothing, which would otherwise run unsampled until they end. c_profileobj/c_traceobj are left alone on purpose: if the
 * signal lands inside the program's own sys.setprofile() or sys.settrace() on
 * this thread, that call finishes afterwards and wins, and we never pair its
 * object with our function. The flag written is what _PyEval_SetProfile
 * computes. */
static inline void
strobe_compat_arm(PyThreadState *ts, Py_tracefunc func, int with_lines)
{
    ts->c_profilefunc = func;
    if (with_lines && ts->c_tracefunc == NULL) {
        ts->c_tracefunc = func;
    }
#if PY_VERSION_HEX >= 0x030B0000
    /* 3.11: _PyCFrame.use_tracing is or'ed into the opcode, hence 255. */
    ts->cframe->use_tracing = 255;
#elif PY_VERSION_HEX >= 0x030A0000
    ts->cframe->use_tracing = 1;
#else
    ts->use_tracing = 1;
#endif
}

/* Whether the interpreter will actually call the hook: the flag may have been
 * lost if the signal landed while the eval loop was copying it into a new
 * CFrame (3.10, 3.11). The timer thread reads this to decide whether to send
 * the signal again; a stale read only costs one extra signal. */
static inline int
strobe_compat_armed_effective(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030A0000
    return ts->cframe != NULL && ts->cframe->use_tracing != 0;
#else
    return ts->use_tracing != 0;
#endif
}

/* Clear the hook from inside the hook itself. The interpreter recomputes
 * use_tracing from the profile and trace functions when the hook returns
 * (call_trace), so only the function pointers need clearing. */
static inline void
strobe_compat_disarm_in_hook(PyThreadState *ts, Py_tracefunc func)
{
    if (ts->c_profilefunc == func) {
        ts->c_profilefunc = NULL;
    }
    if (ts->c_tracefunc == func) {
        ts->c_tracefunc = NULL;
    }
}

/* The thread whose state holds the GIL, without asserting (may be NULL). */
static inline PyThreadState *
strobe_compat_gil_holder(void)
{
    return _PyThreadState_UncheckedGet();
}
#endif /* STROBE_REARM_SIGNAL */

#ifdef STROBE_REARM_PENDING
/* Private but exported (PyAPI_FUNC, for _testinternalcapi); declared in the
 * internal headers, which we do not include. The last argument is
 * `mainthreadonly` on 3.12 and a flags word on 3.13 where 0 means the same:
 * any thread of the interpreter may run the call. Py_AddPendingCall would
 * target the main thread only. */
#if PY_VERSION_HEX >= 0x030D0000
PyAPI_FUNC(int) _PyEval_AddPendingCall(PyInterpreterState *interp,
                                       int (*func)(void *), void *arg,
                                       int flags);
#else
PyAPI_FUNC(int) _PyEval_AddPendingCall(PyInterpreterState *interp,
                                       int (*func)(void *), void *arg,
                                       int mainthreadonly);
#endif

static inline int
strobe_compat_add_pending_call(PyInterpreterState *interp, int (*func)(void *),
                               void *arg)
{
    return _PyEval_AddPendingCall(interp, func, arg, 0);
}
#endif /* STROBE_REARM_PENDING */

#if PY_VERSION_HEX < 0x030A0000
/* 3.10 added PyModule_AddObjectRef; this is its documented behaviour. */
static inline int
PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *value)
{
    Py_XINCREF(value);
    int rc = PyModule_AddObject(m, name, value);
    if (rc < 0) {
        Py_XDECREF(value);
    }
    return rc;
}
#endif

#if PY_VERSION_HEX >= 0x030D0000 && defined(STROBE_REARM_SIGNAL)
/* Only the signal path uses them, and only before 3.12. */
PyAPI_FUNC(int) _PyEval_SetProfile(PyThreadState *, Py_tracefunc, PyObject *);
PyAPI_FUNC(int) _PyEval_SetTrace(PyThreadState *, Py_tracefunc, PyObject *);
#endif

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *
Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#endif

/* Whether the interpreter is shutting down: a thread of ours must not take
 * the GIL then. Public from 3.13, exported before. */
static inline int
strobe_compat_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/* The qualified name of a code object (borrowed). Before 3.11 code objects
 * have no qualname; the plain name is the best that needs no user code. */
static inline PyObject *
strobe_compat_code_qualname(PyCodeObject *co)
{
#if PY_VERSION_HEX >= 0x030B0000
    return co->co_qualname;
#else
    return co->co_name;
#endif
}

#endif
