#include "calltree.h"

#include <string.h>

#include "alloc.h"
#include "frames.h"
#include "hash.h"

/* Child lookup goes through one table keyed by (parent, frame) rather than the
 * sibling lists: a node may have thousands of children, and this runs once
 * per stack level per sample. Slots hold node ids; 0 (the root, never a
 * child) marks an empty slot. */
struct strobe_tree {
    strobe_node *nodes;
    size_t count, cap;
    uint32_t *slots;
    size_t n_slots; /* a power of two */
    /* The previous sample's stack and its nodes: consecutive samples share
     * most of their stack, and comparing frame ids is cheaper than hashing. */
    uint32_t *path_frames, *path_nodes;
    size_t path_len, path_frames_cap, path_nodes_cap;
};

static size_t slot_of(uint32_t parent, uint32_t frame, size_t mask)
{
    return strobe_mix64(((uint64_t)parent << 32) | frame) & mask;
}

strobe_tree *strobe_tree_new(void)
{
    strobe_tree *t = strobe_calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->n_slots = 64;
    t->slots = strobe_calloc(t->n_slots, sizeof(uint32_t));
    if (t->slots == NULL ||
        strobe_array_reserve(&t->nodes, &t->cap, 64, sizeof(strobe_node)) < 0) {
        strobe_tree_free(t);
        return NULL;
    }
    memset(&t->nodes[0], 0, sizeof(strobe_node));
    t->nodes[0].parent = STROBE_NO_NODE;
    t->nodes[0].frame = STROBE_NO_FRAME;
    t->nodes[0].first_child = STROBE_NO_NODE;
    t->nodes[0].next_sibling = STROBE_NO_NODE;
    t->count = 1;
    return t;
}

void strobe_tree_free(strobe_tree *t)
{
    if (t == NULL)
        return;
    strobe_free(t->nodes);
    strobe_free(t->slots);
    strobe_free(t->path_frames);
    strobe_free(t->path_nodes);
    strobe_free(t);
}

/* Room for `extra` new nodes, in the array and in the table (kept at most
 * half full), so the walk that follows cannot fail half-way. */
static int reserve(strobe_tree *t, size_t extra)
{
    size_t need, n, i, mask;
    uint32_t *fresh;

    if (extra > (size_t)STROBE_NO_NODE - 1 - t->count)
        return -1;
    need = t->count + extra;
    if (strobe_array_reserve(&t->nodes, &t->cap, need, sizeof(strobe_node)) < 0)
        return -1;
    if (need <= t->n_slots / 2)
        return 0;
    n = t->n_slots;
    while (need > n / 2)
        n *= 2;
    fresh = strobe_calloc(n, sizeof(uint32_t));
    if (fresh == NULL)
        return -1;
    mask = n - 1;
    for (i = 1; i < t->count; i++) {
        size_t pos = slot_of(t->nodes[i].parent, t->nodes[i].frame, mask);

        while (fresh[pos] != 0)
            pos = (pos + 1) & mask;
        fresh[pos] = (uint32_t)i;
    }
    strobe_free(t->slots);
    t->slots = fresh;
    t->n_slots = n;
    return 0;
}

/* Needs one reserved node. */
static uint32_t find_or_add(strobe_tree *t, uint32_t parent, uint32_t frame,
                            int32_t line)
{
    size_t mask = t->n_slots - 1, pos = slot_of(parent, frame, mask);
    uint32_t id;
    strobe_node *n;

    while ((id = t->slots[pos]) != 0) {
        n = &t->nodes[id];
        if (n->parent == parent && n->frame == frame) {
            n->line = line;
            return id;
        }
        pos = (pos + 1) & mask;
    }
    id = (uint32_t)t->count++;
    t->slots[pos] = id;
    n = &t->nodes[id];
    memset(n, 0, sizeof(*n));
    n->parent = parent;
    n->frame = frame;
    n->line = line;
    n->first_child = STROBE_NO_NODE;
    /* Prepending keeps insertion O(1); views sort children anyway. */
    n->next_sibling = t->nodes[parent].first_child;
    t->nodes[parent].first_child = id;
    return id;
}

int strobe_tree_add_sample(strobe_tree *t, const uint32_t *frames,
                           const int32_t *lines, size_t depth, uint64_t wall_ns,
                           uint64_t cpu_ns, uint32_t *leaf_out)
{
    uint32_t cur = STROBE_ROOT_NODE;
    size_t i, shared = 0;
    strobe_node *leaf;

    /* Reserving for the whole depth is at worst one early doubling, and
     * leaves the tree untouched when memory runs out. */
    if (reserve(t, depth) < 0 ||
        strobe_array_reserve(&t->path_frames, &t->path_frames_cap, depth,
                             sizeof(uint32_t)) < 0 ||
        strobe_array_reserve(&t->path_nodes, &t->path_nodes_cap, depth,
                             sizeof(uint32_t)) < 0)
        return -1;
    while (shared < depth && shared < t->path_len &&
           t->path_frames[shared] == frames[shared])
        shared++;
    for (i = 0; i < shared; i++) {
        int32_t line = lines ? lines[i] : 0;

        cur = t->path_nodes[i];
        if (t->nodes[cur].line != line)
            t->nodes[cur].line = line;
    }
    for (; i < depth; i++) {
        cur = find_or_add(t, cur, frames[i], lines ? lines[i] : 0);
        t->path_frames[i] = frames[i];
        t->path_nodes[i] = cur;
    }
    t->path_len = depth;
    leaf = &t->nodes[cur];
    leaf->self_wall_ns += wall_ns;
    leaf->self_cpu_ns += cpu_ns;
    leaf->self_samples++;
    if (leaf_out != NULL)
        *leaf_out = cur;
    return 0;
}

int strobe_tree_add_time(strobe_tree *t, uint32_t node, uint64_t wall_ns,
                         uint64_t cpu_ns)
{
    if (node >= t->count)
        return -1;
    t->nodes[node].self_wall_ns += wall_ns;
    t->nodes[node].self_cpu_ns += cpu_ns;
    return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int strobe_tree_add_counts(strobe_tree *t, uint32_t node, uint64_t wall_ns,
                           uint64_t cpu_ns, uint64_t samples)
{
    strobe_node *n;

    if (node >= t->count)
        return -1;
    n = &t->nodes[node];
    n->self_wall_ns = add_sat(n->self_wall_ns, wall_ns);
    n->self_cpu_ns = add_sat(n->self_cpu_ns, cpu_ns);
    n->self_samples = add_sat(n->self_samples, samples);
    return 0;
}

int strobe_tree_child(strobe_tree *t, uint32_t parent, uint32_t frame,
                      int32_t line, uint32_t *child_out)
{
    if (parent >= t->count || reserve(t, 1) < 0)
        return -1;
    *child_out = find_or_add(t, parent, frame, line);
    return 0;
}

size_t strobe_tree_count(const strobe_tree *t)
{
    return t->count;
}

const strobe_node *strobe_tree_node(const strobe_tree *t, uint32_t id)
{
    if (id >= t->count)
        return NULL;
    return &t->nodes[id];
}

size_t strobe_tree_memory(const strobe_tree *t)
{
    return sizeof(*t) + t->cap * sizeof(strobe_node) +
           (t->n_slots + t->path_frames_cap + t->path_nodes_cap) *
               sizeof(uint32_t);
}
