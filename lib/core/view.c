#include "view.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"

#define GROUP_NAMES_MAX 4

/* The distinct library names met in one group, in first-seen order. They
 * point into the frame table, which outlives the build. */
typedef struct group_info {
    const char *name[GROUP_NAMES_MAX];
    size_t len[GROUP_NAMES_MAX];
    unsigned n;
    int more;
} group_info;

typedef struct builder {
    const strobe_view_options *opt;
    const strobe_frames *frames;
    strobe_view_node *nodes;
    size_t count, cap;
    /* (parent, frame, is_group) -> view node; 0 marks an empty slot, as the
     * root is never anybody's child. */
    uint32_t *slots;
    size_t n_slots;
    group_info *groups;
    size_t n_groups, groups_cap;
} builder;

typedef struct sort_entry {
    uint64_t total;
    uint32_t parent, frame, is_group, id;
} sort_entry;

static uint64_t total_of(const strobe_view_node *n, strobe_time_mode mode)
{
    return mode == STROBE_TIME_CPU ? n->total_cpu_ns : n->total_wall_ns;
}

static int is_hidden(const strobe_view_options *opt, uint32_t frame)
{
    uint8_t flags;

    if (opt->show_all || opt->frame_flags == NULL || frame >= opt->n_flags)
        return 0;
    flags = opt->frame_flags[frame];
    return !(flags & STROBE_FLAG_SHOW) &&
           (flags & (STROBE_FLAG_LIBRARY | STROBE_FLAG_HIDE)) != 0;
}

static size_t slot_of(uint32_t parent, uint32_t frame, int is_group,
                      size_t mask)
{
    uint64_t h = strobe_mix64(((uint64_t)parent << 32) | frame);

    return (is_group ? strobe_mix64(h) : h) & mask;
}

static int is_sep(char c)
{
    return c == '/' || c == '\\';
}

static int component_is(const char *p, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(p, word, n) == 0;
}

/* The short "library name" of a frame, for group labels:
 * - C functions and frames without a file: the name up to the first '.'
 *   ("time.sleep" -> "time");
 * - under site-packages/ or dist-packages/: the component after it
 *   (".../site-packages/requests/api.py" -> "requests");
 * - under a "pythonX.Y" directory (the standard library): the component after
 *   it ("/usr/lib/python3.11/json/decoder.py" -> "json");
 * - otherwise the file's base name, or its directory for __init__.py;
 * a trailing ".py" is dropped. */
static void short_name(const strobe_frame *f, const char **out, size_t *out_len)
{
    const char *s = f->file, *site = NULL, *std = NULL, *last = NULL,
               *prev = NULL, *best;
    size_t n = f->file_len, i = 0, site_len = 0, std_len = 0, last_len = 0,
           prev_len = 0, best_len;
    int after_site = 0, after_std = 0;

    if (f->kind != STROBE_FRAME_PYTHON || n == 0) {
        const char *dot = memchr(f->name, '.', f->name_len);

        *out = f->name;
        *out_len = dot != NULL && f->kind != STROBE_FRAME_SYNTHETIC
                       ? (size_t)(dot - f->name)
                       : f->name_len;
        return;
    }
    while (i < n) {
        size_t start;

        while (i < n && is_sep(s[i]))
            i++;
        if (i == n)
            break;
        start = i;
        while (i < n && !is_sep(s[i]))
            i++;
        prev = last;
        prev_len = last_len;
        last = s + start;
        last_len = i - start;
        if (after_site) {
            site = last;
            site_len = last_len;
        }
        if (after_std) {
            std = last;
            std_len = last_len;
        }
        after_site = component_is(last, last_len, "site-packages") ||
                     component_is(last, last_len, "dist-packages");
        /* The first "pythonX.Y" directory is the standard library's. */
        after_std = std == NULL && last_len > 6 &&
                    memcmp(last, "python", 6) == 0 && last[6] >= '0' &&
                    last[6] <= '9';
    }
    if (site != NULL) {
        best = site;
        best_len = site_len;
    } else if (std != NULL) {
        best = std;
        best_len = std_len;
    } else if (last != NULL && prev != NULL &&
               component_is(last, last_len, "__init__.py")) {
        best = prev;
        best_len = prev_len;
    } else if (last != NULL) {
        best = last;
        best_len = last_len;
    } else {
        best = s;
        best_len = n;
    }
    if (best_len > 3 && memcmp(best + best_len - 3, ".py", 3) == 0)
        best_len -= 3;
    *out = best;
    *out_len = best_len;
}

static void group_add_name(builder *b, uint32_t group, uint32_t frame)
{
    group_info *g = &b->groups[group];
    strobe_frame f;
    const char *name;
    size_t len;
    unsigned j;

    if (strobe_frames_get(b->frames, frame, &f) < 0)
        return;
    short_name(&f, &name, &len);
    if (len == 0)
        return;
    for (j = 0; j < g->n; j++)
        if (g->len[j] == len && memcmp(g->name[j], name, len) == 0)
            return;
    if (g->n == GROUP_NAMES_MAX) {
        g->more = 1;
        return;
    }
    g->name[g->n] = name;
    g->len[g->n] = len;
    g->n++;
}

/* Room for one more node (and group), the table kept at most half full. */
static int reserve_node(builder *b)
{
    size_t n, i, mask;
    uint32_t *fresh;

    if (b->count >= STROBE_NO_NODE - 1 ||
        strobe_array_reserve(&b->nodes, &b->cap, b->count + 1,
                             sizeof(strobe_view_node)) < 0 ||
        strobe_array_reserve(&b->groups, &b->groups_cap, b->n_groups + 1,
                             sizeof(group_info)) < 0)
        return -1;
    if (b->count + 1 <= b->n_slots / 2)
        return 0;
    n = b->n_slots ? b->n_slots * 2 : 64;
    fresh = strobe_calloc(n, sizeof(uint32_t));
    if (fresh == NULL)
        return -1;
    mask = n - 1;
    for (i = 1; i < b->count; i++) {
        const strobe_view_node *v = &b->nodes[i];
        size_t pos = slot_of(v->parent, v->frame, v->hidden_count > 0, mask);

        while (fresh[pos] != 0)
            pos = (pos + 1) & mask;
        fresh[pos] = (uint32_t)i;
    }
    strobe_free(b->slots);
    b->slots = fresh;
    b->n_slots = n;
    return 0;
}

/* Finds or creates the child of `parent` keyed by (frame, is_group). A group
 * is told apart from a visible node by hidden_count > 0, which never returns
 * to 0. */
static int child(builder *b, uint32_t parent, uint32_t frame, int is_group,
                 int32_t line, uint32_t *out, int *created)
{
    size_t mask, pos;
    uint32_t id;
    strobe_view_node *v;

    if (reserve_node(b) < 0)
        return -1;
    mask = b->n_slots - 1;
    pos = slot_of(parent, frame, is_group, mask);
    while ((id = b->slots[pos]) != 0) {
        v = &b->nodes[id];
        if (v->parent == parent && v->frame == frame &&
            (v->hidden_count > 0) == (is_group != 0)) {
            *out = id;
            *created = 0;
            return 0;
        }
        pos = (pos + 1) & mask;
    }
    id = (uint32_t)b->count++;
    b->slots[pos] = id;
    v = &b->nodes[id];
    memset(v, 0, sizeof(*v));
    v->parent = parent;
    v->frame = frame;
    v->line = line;
    v->recursion = 1;
    v->first_child = STROBE_NO_NODE;
    v->next_sibling = STROBE_NO_NODE;
    v->group_names = STROBE_NO_NAME;
    if (is_group) {
        v->hidden_count = 1;
        v->group_names = (uint32_t)b->n_groups;
        memset(&b->groups[b->n_groups], 0, sizeof(group_info));
        b->n_groups++;
    }
    *out = id;
    *created = 1;
    return 0;
}

/* Maps every call-tree node to a view node, parents first, and adds its self
 * time there. `run` counts the levels of direct recursion folded so far. */
static int has_focus(const strobe_view_options *opt, uint32_t frame)
{
    return opt->frame_flags != NULL && frame < opt->n_flags &&
           (opt->frame_flags[frame] & STROBE_FLAG_FOCUS) != 0;
}

static int fold_tree(builder *b, const strobe_tree *tree, uint32_t *map,
                     uint32_t *run)
{
    size_t i, n = strobe_tree_count(tree);
    const strobe_view_options *opt = b->opt;

    for (i = 0; i < n; i++) {
        const strobe_node *tn = strobe_tree_node(tree, (uint32_t)i);
        uint32_t v;
        strobe_view_node *vn;

        if (i == 0) {
            v = 0;
            run[0] = 1;
        } else if (map[tn->parent] == STROBE_NO_NODE ||
                   (opt->focus && tn->parent == 0 && !has_focus(opt, tn->frame))) {
            map[i] = STROBE_NO_NODE; /* not in focus, nor its subtree */
            continue;
        } else {
            uint32_t p = map[tn->parent];
            int hidden = is_hidden(opt, tn->frame), created;

            run[i] = 1;
            if (opt->collapse_recursion && p != 0 && b->nodes[p].hidden_count == 0 &&
                b->nodes[p].frame == tn->frame) {
                v = p;
                run[i] = run[tn->parent] + 1;
                if (run[i] > b->nodes[v].recursion)
                    b->nodes[v].recursion = run[i];
            } else if (hidden && b->nodes[p].hidden_count > 0) {
                v = p;
                b->nodes[v].hidden_count++;
                group_add_name(b, b->nodes[v].group_names, tn->frame);
            } else {
                if (child(b, p, tn->frame, hidden, tn->line, &v, &created) < 0)
                    return -1;
                if (hidden) {
                    if (!created)
                        b->nodes[v].hidden_count++;
                    group_add_name(b, b->nodes[v].group_names, tn->frame);
                }
            }
        }
        map[i] = v;
        vn = &b->nodes[v];
        vn->self_wall_ns += tn->self_wall_ns;
        vn->self_cpu_ns += tn->self_cpu_ns;
        vn->total_samples += tn->self_samples;
    }
    return 0;
}

static int compare_entries(const void *a, const void *b)
{
    const sort_entry *x = a, *y = b;

    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    if (x->frame != y->frame)
        return x->frame < y->frame ? -1 : 1;
    if (x->is_group != y->is_group)
        return x->is_group < y->is_group ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static char *group_label(const group_info *g)
{
    strobe_buf label;
    unsigned j;
    size_t k;

    strobe_buf_init(&label);
    for (j = 0; j < g->n; j++) {
        if (j > 0)
            strobe_buf_puts(&label, ", ");
        /* Labels are C strings: a NUL inside a name would cut them short. */
        for (k = 0; k < g->len[j]; k++)
            strobe_buf_append(&label, g->name[j][k] ? &g->name[j][k] : "?", 1);
    }
    if (g->more)
        strobe_buf_puts(&label, ", ...");
    return strobe_buf_steal(&label, NULL);
}

/* Drops nodes under the threshold, sorts children and renumbers the kept
 * nodes densely in pre-order into out. */
static int finish(builder *b, strobe_view *out)
{
    const strobe_view_options *opt = b->opt;
    size_t count = b->count, n_kept = 0, i, k, next = 0, depth = 0;
    uint8_t *keep = NULL;
    uint32_t *first = NULL, *n_children = NULL, *new_id = NULL, *stack = NULL;
    sort_entry *entries = NULL;
    strobe_view_node *nodes = NULL;
    double limit;
    int rc = -1;

    /* Totals bottom-up: a child's id is always larger than its parent's. */
    for (i = 0; i < count; i++) {
        b->nodes[i].total_wall_ns = b->nodes[i].self_wall_ns;
        b->nodes[i].total_cpu_ns = b->nodes[i].self_cpu_ns;
    }
    for (i = count - 1; i > 0; i--) {
        strobe_view_node *v = &b->nodes[i], *p = &b->nodes[v->parent];

        p->total_wall_ns += v->total_wall_ns;
        p->total_cpu_ns += v->total_cpu_ns;
        p->total_samples += v->total_samples;
    }

    keep = strobe_malloc(count);
    first = strobe_malloc(count * sizeof(uint32_t));
    n_children = strobe_calloc(count, sizeof(uint32_t));
    new_id = strobe_malloc(count * sizeof(uint32_t));
    stack = strobe_malloc(count * sizeof(uint32_t));
    entries = strobe_malloc(count * sizeof(sort_entry));
    if (!keep || !first || !n_children || !new_id || !stack || !entries)
        goto cleanup;

    limit = opt->threshold * (double)total_of(&b->nodes[0], opt->time_mode);
    keep[0] = 1;
    for (i = 1; i < count; i++) {
        const strobe_view_node *v = &b->nodes[i];

        keep[i] = keep[v->parent] &&
                  (opt->show_all ||
                   !((double)total_of(v, opt->time_mode) < limit));
        if (keep[i]) {
            sort_entry *e = &entries[n_kept++];

            e->total = total_of(v, opt->time_mode);
            e->parent = v->parent;
            e->frame = v->frame;
            e->is_group = v->hidden_count > 0;
            e->id = (uint32_t)i;
        }
    }
    qsort(entries, n_kept, sizeof(sort_entry), compare_entries);
    for (k = 0; k < n_kept; k++) {
        if (n_children[entries[k].parent]++ == 0)
            first[entries[k].parent] = (uint32_t)k;
    }

    nodes = strobe_malloc((n_kept + 1) * sizeof(strobe_view_node));
    if (nodes == NULL)
        goto cleanup;
    stack[depth++] = 0;
    while (depth > 0) {
        uint32_t old = stack[--depth], c;

        new_id[old] = (uint32_t)next;
        nodes[next] = b->nodes[old];
        if (old != 0)
            nodes[next].parent = new_id[b->nodes[old].parent];
        nodes[next].first_child = STROBE_NO_NODE;
        nodes[next].next_sibling = STROBE_NO_NODE;
        next++;
        /* Reversed, so the largest child is popped (and numbered) first. */
        for (c = n_children[old]; c > 0; c--)
            stack[depth++] = entries[first[old] + c - 1].id;
    }

    /* Pre-order: the first child directly follows its parent, and siblings
     * come in sorted order, so links follow from a walk over new ids. */
    for (i = 1; i < next; i++) {
        uint32_t p = nodes[i].parent;

        if (nodes[p].first_child == STROBE_NO_NODE)
            nodes[p].first_child = (uint32_t)i;
        /* stack[] now records the last child seen of each new parent id. */
        else
            nodes[stack[p]].next_sibling = (uint32_t)i;
        stack[p] = (uint32_t)i;
    }

    out->names = strobe_calloc(b->n_groups ? b->n_groups : 1, sizeof(char *));
    if (out->names == NULL)
        goto cleanup;
    out->nodes = nodes;
    out->count = next;
    nodes = NULL;
    for (i = 0; i < out->count; i++) {
        strobe_view_node *v = &out->nodes[i];

        if (v->hidden_count == 0)
            continue;
        out->names[out->n_names] = group_label(&b->groups[v->group_names]);
        if (out->names[out->n_names] == NULL)
            goto cleanup;
        v->group_names = (uint32_t)out->n_names++;
    }
    rc = 0;
cleanup:
    strobe_free(keep);
    strobe_free(first);
    strobe_free(n_children);
    strobe_free(new_id);
    strobe_free(stack);
    strobe_free(entries);
    strobe_free(nodes);
    return rc;
}

int strobe_view_build(const strobe_session *s, const strobe_view_options *opt,
                      strobe_view *out)
{
    builder b;
    size_t n = strobe_tree_count(s->tree);
    uint32_t *map = NULL, *run = NULL;
    int created, rc = -1;
    uint32_t root;

    memset(out, 0, sizeof(*out));
    memset(&b, 0, sizeof(b));
    b.opt = opt;
    b.frames = s->frames;
    /* The root is node 0 of the view; it is keyed under no parent. */
    if (child(&b, STROBE_NO_NODE, STROBE_NO_FRAME, 0, 0, &root, &created) < 0)
        goto cleanup;
    b.nodes[0].parent = STROBE_NO_NODE;
    b.nodes[0].recursion = 0;
    map = strobe_malloc(n * sizeof(uint32_t));
    run = strobe_malloc(n * sizeof(uint32_t));
    if (map == NULL || run == NULL)
        goto cleanup;
    if (fold_tree(&b, s->tree, map, run) < 0 || finish(&b, out) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (rc < 0)
        strobe_view_free(out);
    strobe_free(map);
    strobe_free(run);
    strobe_free(b.nodes);
    strobe_free(b.slots);
    strobe_free(b.groups);
    return rc;
}

void strobe_view_free(strobe_view *v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < v->n_names; i++)
        strobe_free(v->names[i]);
    strobe_free(v->names);
    strobe_free(v->nodes);
    memset(v, 0, sizeof(*v));
}
