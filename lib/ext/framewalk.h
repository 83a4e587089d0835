/* Walks a thread's Python frames without creating frame objects. */
#ifndef STROBE_FRAMEWALK_H
#define STROBE_FRAMEWALK_H

#include "compat.h"

/* Called for each frame, innermost first; `code` is borrowed, `lasti` is the
 * byte offset of the frame's current instruction (negative if it has not
 * started), `frame` identifies the frame (compare it with strobe_gen_frame();
 * never dereference it). Return nonzero to stop the walk. */
typedef int (*strobe_frame_visit)(void *ctx, PyCodeObject *code, int lasti,
                                  const void *frame);

/* Visits the frames of `ts` (the calling thread's, or a thread that does not
 * hold the GIL while the caller does), skipping the `skip` innermost ones.
 * Runs no Python code, allocates nothing, never fails. */
void strobe_walk_frames(PyThreadState *ts, int skip, strobe_frame_visit visit,
                        void *ctx);


/* The frame a coroutine or generator runs in, as a walk of its thread shows
 * it while it runs (the visit's `frame`); NULL once it has finished. */
const void *strobe_gen_frame(PyObject *gen);

/* Where a coroutine or generator that is not running stands: its code and
 * the byte offset of its current instruction (negative if it has not
 * started). 0, or -1 when it is running or finished. Reads the object's C
 * structs only. */
int strobe_gen_location(PyObject *gen, PyCodeObject **code, int *lasti);

#endif
