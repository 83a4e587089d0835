/* The call tree: samples fold into it as they arrive, so its size grows with
 * the number of distinct stacks, not with the number of samples.
 *
 * Node 0 is a virtual root (frame STROBE_NO_FRAME); the outermost frame of
 * every stack is one of its children. A child always has a larger id than its
 * parent, so a pass over ids in reverse visits children before parents (totals
 * are computed that way, without recursion). A node is keyed by (parent,
 * frame); `line` is the line of the latest sample that passed through it. */
#ifndef STROBE_CALLTREE_H
#define STROBE_CALLTREE_H

#include <stddef.h>
#include <stdint.h>

#define STROBE_NO_NODE UINT32_MAX
#define STROBE_ROOT_NODE 0u

typedef struct strobe_node {
    uint32_t parent;       /* STROBE_NO_NODE for the root */
    uint32_t frame;        /* frame id; STROBE_NO_FRAME for the root */
    int32_t line;          /* current line, 0 when unknown */
    uint32_t first_child;  /* STROBE_NO_NODE when none */
    uint32_t next_sibling; /* STROBE_NO_NODE when none */
    uint64_t self_wall_ns; /* time with this node as the leaf */
    uint64_t self_cpu_ns;
    uint64_t self_samples;
} strobe_node;

typedef struct strobe_tree strobe_tree;

strobe_tree *strobe_tree_new(void);
void strobe_tree_free(strobe_tree *t);

/* Folds one stack into the tree. frames[0] / lines[0] is the outermost frame,
 * frames[depth-1] the leaf. The weight goes to the leaf's self time; the leaf
 * node id is stored in *leaf_out (may be NULL). depth 0 charges the root.
 * 0 on success, -1 on allocation failure (the tree is left consistent). */
int strobe_tree_add_sample(strobe_tree *t, const uint32_t *frames,
                           const int32_t *lines, size_t depth, uint64_t wall_ns,
                           uint64_t cpu_ns, uint32_t *leaf_out);
/* Adds time (no sample count) to an existing node's self time. */
int strobe_tree_add_time(strobe_tree *t, uint32_t node, uint64_t wall_ns,
                         uint64_t cpu_ns);
/* Adds time and a sample count to an existing node's self counters,
 * saturating at UINT64_MAX; for loaders and merges. -1 if node is out of
 * range. */
int strobe_tree_add_counts(strobe_tree *t, uint32_t node, uint64_t wall_ns,
                           uint64_t cpu_ns, uint64_t samples);
/* Finds or creates the child of `parent` for `frame`; for loaders and views. */
int strobe_tree_child(strobe_tree *t, uint32_t parent, uint32_t frame,
                      int32_t line, uint32_t *child_out);
size_t strobe_tree_count(const strobe_tree *t);
/* NULL if id is out of range. Valid until the next call that adds nodes. */
const strobe_node *strobe_tree_node(const strobe_tree *t, uint32_t id);
/* Bytes held by the tree (for the memory benchmark and metadata). */
size_t strobe_tree_memory(const strobe_tree *t);

#endif
