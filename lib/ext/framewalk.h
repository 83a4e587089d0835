/* Walks a thread's Python frames without creating frame objects. */
#ifndef STROBE_FRAMEWALK_H
#define STROBE_FRAMEWALK_H

#include "compat.h"

/* Called for each frame, innermost first; `code` is borrowed, `lasti` is the
 * byte offset of the frame's current instruction (negative if it has not
 * started). Return nonzero to stop the walk. */
typedef int (*strobe_frame_visit)(void *ctx, PyCodeObject *code, int lasti);

/* Visits the frames of `ts` (the calling thread's, or a thread that does not
 * hold the GIL while the caller does), skipping the `skip` innermost ones.
 * Runs no Python code, allocates nothing, never fails. */
void strobe_walk_frames(PyThreadState *ts, int skip, strobe_frame_visit visit,
                        void *ctx);

#endif
