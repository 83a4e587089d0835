#include "session.h"

#include <string.h>

#include "alloc.h"

strobe_session *strobe_session_new(void)
{
    strobe_session *s = strobe_calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->frames = strobe_frames_new();
    s->tree = strobe_tree_new();
    if (s->frames == NULL || s->tree == NULL) {
        strobe_session_free(s);
        return NULL;
    }
    return s;
}

void strobe_session_free(strobe_session *s)
{
    size_t i;

    if (s == NULL)
        return;
    strobe_frames_free(s->frames);
    strobe_tree_free(s->tree);
    strobe_free(s->python_version);
    strobe_free(s->target);
    strobe_free(s->mechanism);
    for (i = 0; i < s->n_errors; i++)
        strobe_free(s->errors[i]);
    strobe_free(s->errors);
    for (i = 0; i < s->n_library_prefixes; i++)
        strobe_free(s->library_prefixes[i]);
    strobe_free(s->library_prefixes);
    strobe_timeline_free(s->timeline);
    strobe_free(s);
}

int strobe_session_set_string(char **field, const char *value)
{
    char *copy = NULL;

    if (value != NULL) {
        copy = strobe_memdup0(value, strlen(value));
        if (copy == NULL)
            return -1;
    }
    strobe_free(*field);
    *field = copy;
    return 0;
}

/* Appends a copy of item to the list, unless the same string is there
 * already. Such lists are short and rarely grow, so growing one at a time
 * keeps the count the capacity. */
static int add_unique(char ***list, size_t *n, const char *item)
{
    char **grown, *copy;
    size_t i;

    for (i = 0; i < *n; i++)
        if (strcmp((*list)[i], item) == 0)
            return 0;
    copy = strobe_memdup0(item, strlen(item));
    if (copy == NULL)
        return -1;
    grown = strobe_realloc(*list, (*n + 1) * sizeof(char *));
    if (grown == NULL) {
        strobe_free(copy);
        return -1;
    }
    *list = grown;
    grown[(*n)++] = copy;
    return 0;
}

int strobe_session_add_error(strobe_session *s, const char *msg)
{
    return add_unique(&s->errors, &s->n_errors, msg);
}

int strobe_session_add_library_prefix(strobe_session *s, const char *prefix)
{
    return add_unique(&s->library_prefixes, &s->n_library_prefixes, prefix);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A string list being merged: dst's strings (borrowed) followed by copies of
 * src's strings that dst lacks (owned from index n_kept on). */
typedef struct merged_list {
    char **items;
    size_t n, n_kept;
} merged_list;

static void merged_list_discard(merged_list *m)
{
    size_t i;

    for (i = m->n_kept; i < m->n; i++)
        strobe_free(m->items[i]);
    strobe_free(m->items);
    m->items = NULL;
    m->n = m->n_kept = 0;
}

static int merged_list_build(merged_list *m, char *const *have, size_t n_have,
                             char *const *add, size_t n_add)
{
    size_t i, j;

    m->n = m->n_kept = 0;
    m->items = strobe_malloc((n_have + n_add) * sizeof(char *));
    if (m->items == NULL)
        return -1;
    for (i = 0; i < n_have; i++)
        m->items[i] = have[i];
    m->n = m->n_kept = n_have;
    for (i = 0; i < n_add && m->n < STROBE_SESSION_MAX_LIST; i++) {
        for (j = 0; j < m->n; j++)
            if (strcmp(m->items[j], add[i]) == 0)
                break;
        if (j < m->n)
            continue;
        m->items[m->n] = strobe_memdup0(add[i], strlen(add[i]));
        if (m->items[m->n] == NULL) {
            merged_list_discard(m);
            return -1;
        }
        m->n++;
    }
    return 0;
}

/* Swaps the merged list in; old's strings now belong to the new array. */
static void merged_list_commit(merged_list *m, char ***items, size_t *n)
{
    strobe_free(*items);
    *items = m->items;
    *n = m->n;
    m->items = NULL;
    m->n = m->n_kept = 0;
}

/* Entries of tl kept at stride `stride` (a multiple of tl->stride). */
static size_t kept_at(const strobe_timeline *tl, uint64_t stride)
{
    uint64_t step = stride / tl->stride;

    return (size_t)((tl->count + step - 1) / step);
}

/* dst's timeline followed by src's, src's times shifted by `offset` and its
 * nodes mapped through nmap (n_map entries); both thinned to one stride so
 * that the result fits dst's capacity. new timeline, NULL on failure. */
static strobe_timeline *concat_timelines(const strobe_timeline *a,
                                         const strobe_timeline *b,
                                         const uint32_t *nmap, size_t n_map,
                                         uint64_t offset)
{
    strobe_timeline *tl;
    uint64_t stride = a->stride > b->stride ? a->stride : b->stride, step;
    size_t na, nb, i;

    if (stride == 0 || (stride & (stride - 1)) != 0 || a->stride == 0 ||
        b->stride == 0)
        return NULL;
    for (;;) {
        na = kept_at(a, stride);
        nb = kept_at(b, stride);
        if (na + nb <= a->capacity || stride >= STROBE_TIMELINE_MAX_STRIDE)
            break;
        stride *= 2;
    }
    if (na + nb > a->capacity)
        return NULL;
    tl = strobe_timeline_new_sized(a->capacity, na + nb);
    if (tl == NULL)
        return NULL;
    step = stride / a->stride;
    for (i = 0; i < a->count; i += step) {
        tl->times[tl->count] = a->times[i];
        tl->nodes[tl->count++] = a->nodes[i];
    }
    step = stride / b->stride;
    for (i = 0; i < b->count; i += step) {
        if (b->nodes[i] >= n_map) {
            strobe_timeline_free(tl);
            return NULL;
        }
        tl->times[tl->count] = add_sat(b->times[i], offset);
        tl->nodes[tl->count++] = nmap[b->nodes[i]];
    }
    tl->stride = stride;
    tl->samples = add_sat(a->samples, b->samples);
    return tl;
}

static int copy_if_unset(char **mine, const char *theirs, char **copy)
{
    *copy = NULL;
    if (*mine != NULL || theirs == NULL)
        return 0;
    *copy = strobe_memdup0(theirs, strlen(theirs));
    return *copy == NULL ? -1 : 0;
}

static int merge(strobe_session *dst, const strobe_session *src, int used_only);

/* Interns src's frame `id` into dst's table. */
static int intern_frame(strobe_session *dst, const strobe_session *src,
                        uint32_t id, uint32_t *out)
{
    strobe_frame f;

    if (strobe_frames_get(src->frames, id, &f) < 0)
        return -1;
    return strobe_frames_intern(dst->frames, f.name, f.name_len, f.file,
                                f.file_len, f.first_line, f.kind, out);
}

int strobe_session_merge(strobe_session *dst, const strobe_session *src)
{
    return merge(dst, src, 0);
}

int strobe_session_merge_used(strobe_session *dst, const strobe_session *src)
{
    return merge(dst, src, 1);
}

static int merge(strobe_session *dst, const strobe_session *src, int used_only)
{
    size_t n_frames = strobe_frames_count(src->frames);
    size_t n_nodes = strobe_tree_count(src->tree), i;
    uint32_t *fmap = NULL, *nmap = NULL;
    merged_list errors = {NULL, 0, 0}, prefixes = {NULL, 0, 0};
    char *strings[3] = {NULL, NULL, NULL};
    strobe_timeline *timeline = NULL;
    int rc = -1;

    /* Everything that can fail comes first; the counters and metadata only
     * change once nothing can fail any more. */
    fmap = strobe_malloc(n_frames * sizeof(uint32_t));
    nmap = strobe_malloc(n_nodes * sizeof(uint32_t));
    if (fmap == NULL || nmap == NULL)
        goto cleanup;
    for (i = 0; i < n_frames; i++) {
        fmap[i] = STROBE_NO_FRAME;
        if (!used_only && intern_frame(dst, src, (uint32_t)i, &fmap[i]) < 0)
            goto cleanup;
    }
    nmap[0] = STROBE_ROOT_NODE;
    for (i = 1; i < n_nodes; i++) {
        const strobe_node *n = strobe_tree_node(src->tree, (uint32_t)i);

        if (n->parent >= i || n->frame >= n_frames)
            goto cleanup;
        if (fmap[n->frame] == STROBE_NO_FRAME &&
            intern_frame(dst, src, n->frame, &fmap[n->frame]) < 0)
            goto cleanup;
        if (strobe_tree_child(dst->tree, nmap[n->parent], fmap[n->frame],
                              n->line, &nmap[i]) < 0)
            goto cleanup;
    }
    if (merged_list_build(&errors, dst->errors, dst->n_errors, src->errors,
                          src->n_errors) < 0 ||
        merged_list_build(&prefixes, dst->library_prefixes,
                          dst->n_library_prefixes, src->library_prefixes,
                          src->n_library_prefixes) < 0 ||
        copy_if_unset(&dst->python_version, src->python_version, &strings[0]) < 0 ||
        copy_if_unset(&dst->target, src->target, &strings[1]) < 0 ||
        copy_if_unset(&dst->mechanism, src->mechanism, &strings[2]) < 0)
        goto cleanup;
    if (dst->timeline != NULL && src->timeline != NULL) {
        const strobe_timeline *a = dst->timeline;
        uint64_t offset = dst->duration_ns;

        if (a->count > 0 && a->times[a->count - 1] > offset)
            offset = a->times[a->count - 1];
        timeline = concat_timelines(a, src->timeline, nmap, n_nodes, offset);
        if (timeline == NULL)
            goto cleanup;
    }

    /* Nothing fails from here on. src may be dst: read src's counters before
     * writing each one, and swap the timeline in last. */
    for (i = 0; i < n_nodes; i++) {
        const strobe_node *n = strobe_tree_node(src->tree, (uint32_t)i);

        strobe_tree_add_counts(dst->tree, nmap[i], n->self_wall_ns,
                               n->self_cpu_ns, n->self_samples);
    }
    /* 0 is "not set": a fresh session used to collect others. */
    if (dst->start_time == 0 ||
        (src->start_time != 0 && src->start_time < dst->start_time))
        dst->start_time = src->start_time;
    dst->duration_ns = add_sat(dst->duration_ns, src->duration_ns);
    dst->cpu_ns = add_sat(dst->cpu_ns, src->cpu_ns);
    dst->sample_count = add_sat(dst->sample_count, src->sample_count);
    if (dst->interval_ns == 0)
        dst->interval_ns = src->interval_ns;
    if (strings[0] != NULL)
        dst->python_version = strings[0];
    if (strings[1] != NULL)
        dst->target = strings[1];
    if (strings[2] != NULL)
        dst->mechanism = strings[2];
    strings[0] = strings[1] = strings[2] = NULL;
    merged_list_commit(&errors, &dst->errors, &dst->n_errors);
    merged_list_commit(&prefixes, &dst->library_prefixes,
                       &dst->n_library_prefixes);
    strobe_timeline_free(dst->timeline);
    dst->timeline = timeline;
    timeline = NULL;
    rc = 0;
cleanup:
    strobe_free(fmap);
    strobe_free(nmap);
    merged_list_discard(&errors);
    merged_list_discard(&prefixes);
    for (i = 0; i < 3; i++)
        strobe_free(strings[i]);
    strobe_timeline_free(timeline);
    return rc;
}
