/* The timeline: which leaf node each sample landed on, and when. Optional
 * (a session without one has timeline == NULL) and bounded: the capacity is
 * fixed when the timeline is made, and a full timeline halves its resolution
 * instead of growing, so it always covers the whole run evenly.
 *
 * The rule: samples are numbered 0, 1, 2, ... in the order they are offered.
 * Sample k is recorded when k is a multiple of `stride` (1 at first). When a
 * sample is to be recorded and the timeline is full, the entries at odd
 * positions are dropped (positions 0, 2, 4, ... stay: the samples whose number
 * is a multiple of 2 * stride), stride doubles, and the sample is tested again
 * against the new stride. After N samples the timeline therefore holds
 * exactly samples 0, S, 2S, ... below N, where S is the smallest power of two
 * with ceil(N / S) <= capacity. */
#ifndef STROBE_TIMELINE_H
#define STROBE_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

/* 65,536 entries: 768 KiB. */
#define STROBE_TIMELINE_DEFAULT_CAPACITY 65536u
/* The largest capacity a session file may ask for (16 Mi entries). */
#define STROBE_TIMELINE_MAX_CAPACITY (1u << 24)
/* Stride stops doubling here: 2^62 samples are never reached. */
#define STROBE_TIMELINE_MAX_STRIDE (UINT64_C(1) << 62)

typedef struct strobe_timeline {
    uint64_t *times;   /* ns since the start of profiling, non-decreasing */
    uint32_t *nodes;   /* the sample's leaf node id in the session's tree */
    size_t count;      /* entries held */
    size_t capacity;   /* entries at most (>= 2) */
    size_t alloc;      /* entries allocated (capacity, or fewer once loaded) */
    uint64_t stride;   /* a power of two: every stride-th sample is kept */
    uint64_t samples;  /* samples offered so far, recorded or skipped */
} strobe_timeline;

/* A timeline of `capacity` entries (0: the default; at least 2), allocated
 * at once so that strobe_timeline_add never allocates. NULL on failure. */
strobe_timeline *strobe_timeline_new(size_t capacity);
/* For loaders and merges: the same, but only `reserve` entries (at most
 * capacity) are allocated now; strobe_timeline_add grows the arrays up to the
 * capacity when it needs to. */
strobe_timeline *strobe_timeline_new_sized(size_t capacity, size_t reserve);
void strobe_timeline_free(strobe_timeline *tl);
/* Offers one sample (t_ns since the start, its leaf node). 0, or -1 when
 * memory ran out (only a timeline allocated below its capacity, i.e. one
 * loaded from a file, allocates here; nothing changes then). */
int strobe_timeline_add(strobe_timeline *tl, uint64_t t_ns, uint32_t node);
/* Bytes held by the timeline. */
size_t strobe_timeline_memory(const strobe_timeline *tl);

#endif
