#include "timeline.h"

#include "alloc.h"

/* Room for `alloc` entries in both arrays; the timeline is unchanged when
 * this fails. */
static int grow(strobe_timeline *tl, size_t alloc)
{
    uint64_t *times;
    uint32_t *nodes;

    if (alloc <= tl->alloc)
        return 0;
    if (alloc > SIZE_MAX / sizeof(uint64_t))
        return -1;
    times = strobe_realloc(tl->times, alloc * sizeof(uint64_t));
    if (times == NULL)
        return -1;
    tl->times = times;
    nodes = strobe_realloc(tl->nodes, alloc * sizeof(uint32_t));
    if (nodes == NULL)
        return -1; /* times is merely bigger than it needs to be */
    tl->nodes = nodes;
    tl->alloc = alloc;
    return 0;
}

strobe_timeline *strobe_timeline_new(size_t capacity)
{
    if (capacity == 0)
        capacity = STROBE_TIMELINE_DEFAULT_CAPACITY;
    return strobe_timeline_new_sized(capacity, capacity);
}

strobe_timeline *strobe_timeline_new_sized(size_t capacity, size_t reserve)
{
    strobe_timeline *tl;

    if (capacity == 0)
        capacity = STROBE_TIMELINE_DEFAULT_CAPACITY;
    if (capacity < 2)
        capacity = 2;
    if (reserve > capacity)
        reserve = capacity;
    tl = strobe_calloc(1, sizeof(*tl));
    if (tl == NULL)
        return NULL;
    tl->capacity = capacity;
    tl->stride = 1;
    if (grow(tl, reserve) < 0) {
        strobe_timeline_free(tl);
        return NULL;
    }
    return tl;
}

void strobe_timeline_free(strobe_timeline *tl)
{
    if (tl == NULL)
        return;
    strobe_free(tl->times);
    strobe_free(tl->nodes);
    strobe_free(tl);
}

/* Keeps positions 0, 2, 4, ...: the samples whose number is a multiple of
 * twice the stride. */
static void halve(strobe_timeline *tl)
{
    size_t i, j = 0;

    for (i = 0; i < tl->count; i += 2, j++) {
        tl->times[j] = tl->times[i];
        tl->nodes[j] = tl->nodes[i];
    }
    tl->count = j;
    tl->stride *= 2;
}

int strobe_timeline_add(strobe_timeline *tl, uint64_t t_ns, uint32_t node)
{
    uint64_t k = tl->samples;

    if (k % tl->stride != 0) {
        tl->samples++;
        return 0;
    }
    if (tl->count == tl->alloc && tl->alloc < tl->capacity) {
        size_t want = tl->alloc < 8 ? 16 : tl->alloc * 2;

        if (want > tl->capacity || tl->alloc > tl->capacity / 2)
            want = tl->capacity;
        if (grow(tl, want) < 0)
            return -1;
    }
    if (tl->count >= tl->capacity) {
        if (tl->stride >= STROBE_TIMELINE_MAX_STRIDE) {
            tl->samples++;
            return 0;
        }
        halve(tl);
        if (k % tl->stride != 0) {
            tl->samples++;
            return 0;
        }
    }
    tl->times[tl->count] = t_ns;
    tl->nodes[tl->count] = node;
    tl->count++;
    tl->samples++;
    return 0;
}

size_t strobe_timeline_memory(const strobe_timeline *tl)
{
    if (tl == NULL)
        return 0;
    return sizeof(*tl) + tl->alloc * (sizeof(uint64_t) + sizeof(uint32_t));
}
