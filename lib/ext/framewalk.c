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
        if (visit(ctx, code, lasti)) {
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
        if (visit(ctx, f->f_code, lasti)) {
            return;
        }
    }
#endif
}
