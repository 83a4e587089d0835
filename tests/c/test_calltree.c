#include <stdlib.h>

#include "calltree.h"
#include "check.h"
#include "clock.h"

#define DEEP 10000

static void check_structure(const strobe_tree *t)
{
    size_t i, n = strobe_tree_count(t), links = 0;

    for (i = 1; i < n; i++) {
        const strobe_node *node = strobe_tree_node(t, (uint32_t)i);

        CHECK(node->parent < i);
    }
    /* Every node but the root is on exactly one sibling list. */
    for (i = 0; i < n; i++) {
        uint32_t c = strobe_tree_node(t, (uint32_t)i)->first_child;

        while (c != STROBE_NO_NODE) {
            CHECK(strobe_tree_node(t, c)->parent == i);
            links++;
            c = strobe_tree_node(t, c)->next_sibling;
        }
    }
    CHECK(links == n - 1);
}

int main(void)
{
    strobe_tree *t = strobe_tree_new();
    uint32_t stack[3] = {7, 8, 9}, *deep;
    int32_t lines[3] = {10, 20, 30};
    uint32_t leaf, leaf2, child;
    const strobe_node *n;
    size_t i;
    uint64_t t0, t1;

    CHECK(t != NULL);
    CHECK(strobe_tree_count(t) == 1);
    n = strobe_tree_node(t, STROBE_ROOT_NODE);
    CHECK(n->parent == STROBE_NO_NODE && n->frame == UINT32_MAX);
    CHECK(strobe_tree_node(t, 1) == NULL);

    CHECK(strobe_tree_add_sample(t, stack, lines, 3, 100, 50, &leaf) == 0);
    CHECK(leaf == 3 && strobe_tree_count(t) == 4);
    CHECK(strobe_tree_add_sample(t, stack, NULL, 3, 100, 50, &leaf2) == 0);
    CHECK(leaf2 == leaf && strobe_tree_count(t) == 4);
    n = strobe_tree_node(t, leaf);
    CHECK(n->self_wall_ns == 200 && n->self_cpu_ns == 100 &&
          n->self_samples == 2 && n->frame == 9 && n->line == 0);
    CHECK(strobe_tree_node(t, 1)->self_samples == 0);
    CHECK(strobe_tree_add_sample(t, stack, lines, 2, 5, 5, &leaf) == 0);
    CHECK(leaf == 2 && strobe_tree_node(t, 2)->line == 20);
    /* the previous path is reused only while the frames agree */
    {
        uint32_t s4[4] = {7, 8, 9, 10}, s5[2] = {7, 9};
        int32_t l4[4] = {11, 21, 31, 41};

        CHECK(strobe_tree_add_sample(t, s4, l4, 4, 0, 0, &leaf) == 0);
        CHECK(leaf == 4 && strobe_tree_node(t, 4)->parent == 3);
        CHECK(strobe_tree_node(t, 1)->line == 11);
        CHECK(strobe_tree_node(t, 3)->line == 31);
        CHECK(strobe_tree_add_sample(t, s5, NULL, 2, 0, 0, &leaf) == 0);
        CHECK(leaf == 5 && strobe_tree_node(t, 5)->parent == 1);
        CHECK(strobe_tree_add_sample(t, stack, lines, 2, 0, 0, &leaf) == 0);
        CHECK(leaf == 2 && strobe_tree_node(t, 1)->line == 10);
        CHECK(strobe_tree_add_sample(t, s4, l4, 3, 0, 0, &leaf) == 0);
        CHECK(leaf == 3 && strobe_tree_node(t, 2)->line == 21);
    }
    /* depth 0 charges the root */
    CHECK(strobe_tree_add_sample(t, NULL, NULL, 0, 1, 1, &leaf) == 0);
    CHECK(leaf == 0 && strobe_tree_node(t, 0)->self_samples == 1);
    CHECK(strobe_tree_add_time(t, 3, 1000, 0) == 0);
    CHECK(strobe_tree_node(t, 3)->self_wall_ns == 1200);
    CHECK(strobe_tree_node(t, 3)->self_samples == 3);
    CHECK(strobe_tree_add_time(t, 99, 1, 1) == -1);
    CHECK(strobe_tree_child(t, 1, 8, 0, &child) == 0 && child == 2);
    CHECK(strobe_tree_child(t, 1, 11, 0, &child) == 0 && child == 6);
    CHECK(strobe_tree_child(t, 99, 11, 0, &child) == -1);

    /* Thousands of children under one node: lookups stay hashed. */
    for (i = 0; i < 20000; i++) {
        uint32_t s2[2] = {7, (uint32_t)(1000 + i)};

        CHECK(strobe_tree_add_sample(t, s2, NULL, 2, 1, 1, NULL) == 0);
    }
    CHECK(strobe_tree_count(t) == 7 + 20000);

    /* A 10,000-deep stack, sampled repeatedly: the hot path. */
    deep = malloc(DEEP * sizeof(uint32_t));
    CHECK(deep != NULL);
    for (i = 0; i < DEEP; i++)
        deep[i] = (uint32_t)(i % 3);
    CHECK(strobe_tree_add_sample(t, deep, NULL, DEEP, 1, 1, &leaf) == 0);
    CHECK(strobe_tree_count(t) == 7 + 20000 + DEEP);
    t0 = strobe_clock_wall_ns();
    for (i = 0; i < 200; i++)
        CHECK(strobe_tree_add_sample(t, deep, NULL, DEEP, 1, 1, &leaf2) == 0);
    t1 = strobe_clock_wall_ns();
    printf("10000-deep sample: %.1f us (%.2f ns a frame)\n",
           (double)(t1 - t0) / 200 / 1000, (double)(t1 - t0) / 200 / DEEP);
    CHECK(leaf2 == leaf && strobe_tree_node(t, leaf)->self_samples == 201);
    /* alternating stacks defeat the path cache: every level is hashed */
    t0 = strobe_clock_wall_ns();
    for (i = 0; i < 200; i++) {
        deep[0] = (uint32_t)(i % 2 ? 0 : 3);
        CHECK(strobe_tree_add_sample(t, deep, NULL, DEEP, 1, 1, &leaf2) == 0);
    }
    t1 = strobe_clock_wall_ns();
    printf("10000-deep, alternating: %.2f ns a frame\n",
           (double)(t1 - t0) / 200 / DEEP);
    CHECK(strobe_tree_count(t) == 7 + 20000 + 2 * DEEP);
    check_structure(t);
    CHECK(strobe_tree_memory(t) > strobe_tree_count(t) * sizeof(strobe_node));
    CHECK(strobe_tree_memory(t) < strobe_tree_count(t) * 200);
    free(deep);
    strobe_tree_free(t);
    strobe_tree_free(NULL);
    return 0;
}
