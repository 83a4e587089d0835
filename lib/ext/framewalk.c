/* The frame walk, the one place that reads CPython's internal frame struct.
 *
 * Why not the public API: from 3.11 on, PyFrame_GetBack() must create a frame
 * object for every frame that has none yet. On a deep, fresh stack (a
 * recursion 900 deep, rebuilt between samples) that made each sample cost
 * ~0.2 ms and the 1 ms run 1.2x slower (tests/benchmarks/overhead.py,
 * deep-recursion). The interpreter's own frame list has everything a sample
 * needs: the code object, the last instruction, the previous frame.
 *
 * Each version's layout comes from its own internal headers, so a layout
 * change is a compile error here, not a silent misread. */
#define Py_BUILD_CORE 1
#include "framewalk.h"

#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#endif

void
strobe_walk_frames(PyThreadState *ts, int skip, strobe_frame_visit visit,
                   void *ctx)
{
#if PY_VERSION_HEX >= 0x030B0000
#if PY_VERSION_HEX >= 0x030D0000
    _PyInterpreterFrame *f = ts->current_frame;
#else
    _PyInterpreterFrame *f = ts->cframe->current_frame;
#endif
    for (; f != NULL; f = f->previous) {
#if PY_VERSION_HEX >= 0x030C0000
        /* Shim frames the interpreter pushes for C-to-Python entry points. */
        if (f->owner == FRAME_OWNED_BY_CSTACK) {
            continue;
        }
#endif
        /* A frame whose first instruction has not run yet is not a frame
         * of the program yet (its call is still being set up). */
        if (_PyFrame_IsIncomplete(f)) {
            continue;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
#if PY_VERSION_HEX >= 0x030D0000
        if (!PyCode_Check(f->f_executable)) {
            continue;
        }
        PyCodeObject *code = (PyCodeObject *)f->f_executable;
#else
        PyCodeObject *code = f->f_code;
#endif
        int lasti = _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
        if (visit(ctx, code, lasti, f)) {
            return;
        }
    }
#else
    /* 3.9, 3.10: frame objects always exist; their struct is public. */
    for (PyFrameObject *f = ts->frame; f != NULL; f = f->f_back) {
        if (skip > 0) {
            skip--;
            continue;
        }
#if PY_VERSION_HEX >= 0x030A0000
        int lasti = f->f_lasti * (int)sizeof(_Py_CODEUNIT); /* in code units */
#else
        int lasti = f->f_lasti; /* in bytes */
#endif
        if (visit(ctx, f->f_code, lasti, f)) {
            return;
        }
    }
#endif
}

/* ---- suspended coroutines ----------------------------------------------- */

const void *
strobe_gen_frame(PyObject *gen)
{
    PyGenObject *g = (PyGenObject *)gen;
#if PY_VERSION_HEX >= 0x030B0000
    /* 3.11+: the frame lives inside the generator object. */
    if (g->gi_frame_state >= FRAME_COMPLETED) {
        return NULL;
    }
    return (const void *)g->gi_iframe;
#else
    return g->gi_frame; /* NULL once finished */
#endif
}

int
strobe_gen_location(PyObject *gen, PyCodeObject **code, int *lasti)
{
    PyGenObject *g = (PyGenObject *)gen;
#if PY_VERSION_HEX >= 0x030B0000
    int8_t state = g->gi_frame_state;
    if (state >= FRAME_EXECUTING) { /* running, completed or cleared */
        return -1;
    }
    _PyInterpreterFrame *f = (_PyInterpreterFrame *)g->gi_iframe;
#if PY_VERSION_HEX >= 0x030D0000
    if (!PyCode_Check(f->f_executable)) {
        return -1;
    }
    *code = (PyCodeObject *)f->f_executable;
#else
    *code = f->f_code;
#endif
    *lasti = state == FRAME_CREATED
                 ? -1
                 : _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
    return 0;
#else
    PyFrameObject *f = g->gi_frame;
#if PY_VERSION_HEX >= 0x030A0000
    if (f == NULL || _PyFrame_IsExecuting(f)) {
#else
    if (f == NULL || g->gi_running) {
#endif
        return -1;
    }
    *code = f->f_code;
#if PY_VERSION_HEX >= 0x030A0000
    *lasti = f->f_lasti < 0 ? -1 : f->f_lasti * (int)sizeof(_Py_CODEUNIT);
#else
    *lasti = f->f_lasti;
#endif
    return 0;
#endif
}
