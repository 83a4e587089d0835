/* A session: the frame table, the call tree and the metadata of one run.
 * A session loaded from a file renders exactly as a live one does. */
#ifndef STROBE_SESSION_H
#define STROBE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "calltree.h"
#include "frames.h"
#include "timeline.h"

/* The most errors and library prefixes a session keeps (merges stop adding
 * there; files with more are refused). Both lists are compared one by one. */
#define STROBE_SESSION_MAX_LIST 4096u

typedef struct strobe_session {
    strobe_frames *frames;
    strobe_tree *tree;

    double start_time;     /* seconds since the epoch */
    uint64_t duration_ns;  /* wall time from start to stop */
    uint64_t cpu_ns;       /* CPU time of the profiled thread(s) */
    uint64_t sample_count;
    uint64_t interval_ns;  /* the requested interval */

    char *python_version;  /* owned strings, may be NULL */
    char *target;          /* command line / target description */
    char *mechanism;       /* how sampling was re-armed, e.g. "signal+setprofile" */

    char **errors;         /* things that went wrong while sampling (owned) */
    size_t n_errors;

    char **library_prefixes; /* path prefixes of library code, filled by the
                                Python layer (sys.prefix, site-packages...) */
    size_t n_library_prefixes;

    strobe_timeline *timeline; /* owned; NULL when not recorded */
} strobe_session;

/* Creates an empty session (with an empty frame table and tree). */
strobe_session *strobe_session_new(void);
void strobe_session_free(strobe_session *s);
/* Replace an owned string field with a copy of value (NULL clears it).
 * 0 / -1 on allocation failure. */
int strobe_session_set_string(char **field, const char *value);
/* Appends a copy of msg to errors, unless the same message is there already. */
int strobe_session_add_error(strobe_session *s, const char *msg);
/* Appends a copy of prefix to library_prefixes, unless it is there already. */
int strobe_session_add_library_prefix(strobe_session *s, const char *prefix);

/* Adds src's samples into dst (Session.combine): src's frames are interned
 * into dst's table, each src node is mapped (in id order) to dst's child for
 * (mapped parent, mapped frame) and its self times and sample count are
 * added there. duration, cpu and sample_count are summed (saturating),
 * start_time becomes the earlier one (0 counts as unset), errors and library
 * prefixes are unioned (up to STROBE_SESSION_MAX_LIST each), the other
 * strings and interval_ns are kept from dst unless unset there (NULL / 0).
 * Timelines are concatenated when both sessions have one (src's times shifted
 * to start where dst's end, see docs/session-format.md), and dropped
 * otherwise. src may be dst.
 * 0, or -1 when memory ran out (or src is inconsistent): dst's counters,
 * metadata and timeline are then unchanged, but dst may have gained some of
 * src's frames and empty nodes; merging the same src again after a failure
 * gives the same result as one successful merge. */
int strobe_session_merge(strobe_session *dst, const strobe_session *src);

/* strobe_session_merge(), interning only the frames src's tree uses (a task
 * scope's tree shares its sampler's frame table with other scopes). */
int strobe_session_merge_used(strobe_session *dst, const strobe_session *src);

#endif
