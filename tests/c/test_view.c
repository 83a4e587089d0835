#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "view.h"

#define MS 1000000ull

enum { PY = STROBE_FRAME_PYTHON, C = STROBE_FRAME_C };

static void check_shape(const strobe_view *v)
{
    size_t i;

    CHECK(v->count >= 1 && v->nodes[0].parent == STROBE_NO_NODE);
    for (i = 1; i < v->count; i++) {
        const strobe_view_node *n = &v->nodes[i];

        CHECK(n->parent < i);
        if (n->first_child != STROBE_NO_NODE)
            CHECK(n->first_child == i + 1);
        if (n->next_sibling != STROBE_NO_NODE) {
            const strobe_view_node *s = &v->nodes[n->next_sibling];

            CHECK(s->parent == n->parent && n->next_sibling > i);
            CHECK(s->total_wall_ns <= n->total_wall_ns);
        }
        CHECK(n->total_wall_ns >= n->self_wall_ns);
    }
}

/* The child of `parent` for frame (groups included); STROBE_NO_NODE if none. */
static uint32_t find_child(const strobe_view *v, uint32_t parent, uint32_t frame,
                           int group)
{
    uint32_t c;

    for (c = v->nodes[parent].first_child; c != STROBE_NO_NODE;
         c = v->nodes[c].next_sibling)
        if (v->nodes[c].frame == frame &&
            (v->nodes[c].hidden_count > 0) == (group != 0))
            return c;
    return STROBE_NO_NODE;
}

static size_t n_children(const strobe_view *v, uint32_t parent)
{
    size_t n = 0;
    uint32_t c;

    for (c = v->nodes[parent].first_child; c != STROBE_NO_NODE;
         c = v->nodes[c].next_sibling)
        n++;
    return n;
}

static void test_recursion(void)
{
    strobe_session *s = strobe_session_new();
    strobe_view_options opt = {0};
    strobe_view v;
    uint32_t *stack = malloc(10001 * sizeof(uint32_t)), main_f, f, g;
    size_t i;

    CHECK(s != NULL && stack != NULL);
    main_f = test_frame(s, "main", "app.py", 1, PY);
    f = test_frame(s, "f", "app.py", 5, PY);
    g = test_frame(s, "g", "app.py", 9, PY);
    stack[0] = main_f;
    for (i = 1; i <= 10000; i++)
        stack[i] = f;
    test_sample(s, stack, 10001, 3, 3);
    stack[5001] = g; /* f x5000, then g */
    test_sample(s, stack, 5002, 1, 1);

    opt.collapse_recursion = 1;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    /* root, main, f (x10000), g under f */
    CHECK(v.count == 4);
    CHECK(v.nodes[1].frame == main_f && v.nodes[2].frame == f);
    CHECK(v.nodes[2].recursion == 10000);
    CHECK(v.nodes[2].total_wall_ns == 4 * MS && v.nodes[2].self_wall_ns == 3 * MS);
    CHECK(v.nodes[3].frame == g && v.nodes[3].parent == 2);
    CHECK(v.nodes[3].recursion == 1);
    CHECK(v.nodes[0].total_samples == 2 && v.nodes[2].total_samples == 2);
    strobe_view_free(&v);

    opt.collapse_recursion = 0;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    CHECK(v.count == 10003);
    CHECK(v.nodes[2].recursion == 1);
    strobe_view_free(&v);
    free(stack);
    strobe_session_free(s);
}

static void test_grouping(void)
{
    strobe_session *s = strobe_session_new();
    strobe_view_options opt = {0};
    strobe_view v;
    uint8_t flags[16] = {0};
    uint32_t app, loads, decode, req, cb, sleep_f, inner;
    uint32_t g, c;

    CHECK(s != NULL);
    app = test_frame(s, "main", "/home/u/app.py", 1, PY);
    loads = test_frame(s, "loads", "/usr/lib/python3.11/json/__init__.py", 299, PY);
    decode = test_frame(s, "JSONDecoder.decode",
                        "/usr/lib/python3.11/json/decoder.py", 332, PY);
    req = test_frame(s, "get",
                     "/venv/lib/python3.11/site-packages/requests/api.py", 62, PY);
    cb = test_frame(s, "callback", "/home/u/app.py", 20, PY);
    sleep_f = test_frame(s, "time.sleep", "", 0, C);
    inner = test_frame(s, "inner", "/home/u/app.py", 30, PY);
    flags[loads] = flags[decode] = flags[req] = flags[sleep_f] =
        STROBE_FLAG_LIBRARY;
    opt.frame_flags = flags;
    opt.n_flags = sizeof(flags);

    {
        uint32_t s1[] = {app, loads, decode, req, cb, inner};
        uint32_t s2[] = {app, loads, sleep_f};
        uint32_t s3[] = {app, loads, decode, cb};

        test_sample(s, s1, 6, 50, 40);
        test_sample(s, s2, 3, 30, 0);
        test_sample(s, s3, 4, 20, 20);
    }
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    /* root, main, [group], callback, inner */
    CHECK(v.count == 5);
    g = find_child(&v, 1, loads, 1);
    CHECK(g == 2);
    /* loads, decode, get, time.sleep: four call-tree nodes folded */
    CHECK(v.nodes[g].hidden_count == 4);
    CHECK(strcmp(v.names[v.nodes[g].group_names], "json, requests, time") == 0);
    CHECK(v.nodes[g].total_wall_ns == 100 * MS && v.nodes[g].self_wall_ns == 30 * MS);
    /* callback is reached through two hidden runs and merges into one node */
    c = find_child(&v, g, cb, 0);
    CHECK(c == 3 && v.nodes[c].total_wall_ns == 70 * MS);
    CHECK(v.nodes[c].total_samples == 2);
    CHECK(find_child(&v, c, inner, 0) == 4);
    CHECK(v.nodes[1].group_names == STROBE_NO_NAME);
    strobe_view_free(&v);

    /* show_all: nothing hidden */
    opt.show_all = 1;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    CHECK(v.count == 9 && v.n_names == 0);
    CHECK(find_child(&v, 1, loads, 0) == 2);
    strobe_view_free(&v);
    opt.show_all = 0;

    /* SHOW wins over LIBRARY; HIDE hides app code */
    flags[decode] |= STROBE_FLAG_SHOW;
    flags[cb] = STROBE_FLAG_HIDE;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    g = find_child(&v, 1, loads, 1);
    CHECK(g != STROBE_NO_NODE);
    c = find_child(&v, g, decode, 0);
    CHECK(c != STROBE_NO_NODE);
    /* decode -> [get, callback hidden] -> inner */
    g = find_child(&v, c, req, 1);
    CHECK(g != STROBE_NO_NODE && v.nodes[g].hidden_count == 2);
    CHECK(strcmp(v.names[v.nodes[g].group_names], "requests, app") == 0);
    CHECK(find_child(&v, g, inner, 0) != STROBE_NO_NODE);
    /* decode -> callback alone: a group of one */
    g = find_child(&v, c, cb, 1);
    CHECK(g != STROBE_NO_NODE && v.nodes[g].hidden_count == 1);
    strobe_view_free(&v);

    /* frames past n_flags have no flags */
    opt.n_flags = 2;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    CHECK(find_child(&v, 1, loads, 1) == 2);
    CHECK(find_child(&v, 2, decode, 0) != STROBE_NO_NODE);
    strobe_view_free(&v);
    strobe_session_free(s);
}

static void test_labels(void)
{
    static const char *const files[] = {
        "/opt/x/dist-packages/six.py",
        "C:\\Python311\\Lib\\site-packages\\numpy\\core\\numeric.py",
        "/srv/lib/foo/__init__.py",
        "/srv/lib/bar.py",
        "/usr/lib/python3.12/threading.py",
        "/opt/x/dist-packages/six.py", /* seen already */
        "<frozen importlib._bootstrap>",
    };
    strobe_session *s = strobe_session_new();
    strobe_view_options opt = {0};
    strobe_view v;
    uint8_t flags[16];
    uint32_t stack[8];
    size_t i;

    CHECK(s != NULL);
    memset(flags, STROBE_FLAG_LIBRARY, sizeof(flags));
    stack[0] = test_frame(s, "main", "app.py", 1, PY);
    flags[stack[0]] = 0;
    for (i = 0; i < 7; i++) {
        char name[8];

        snprintf(name, sizeof(name), "f%zu", i);
        stack[i + 1] = test_frame(s, name, files[i], 1, PY);
    }
    opt.frame_flags = flags;
    opt.n_flags = sizeof(flags);
    test_sample(s, stack, 8, 1, 1);
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    CHECK(v.count == 3 && v.nodes[2].hidden_count == 7);
    CHECK(strcmp(v.names[0], "six, numpy, foo, bar, ...") == 0);
    strobe_view_free(&v);

    /* the first four only */
    strobe_session_free(s);
    s = strobe_session_new();
    CHECK(s != NULL);
    stack[0] = test_frame(s, "main", "app.py", 1, PY);
    stack[1] = test_frame(s, "f", files[4], 1, PY);
    stack[2] = test_frame(s, "f", files[6], 1, PY);
    stack[3] = test_frame(s, "str.join", "", 0, C);
    stack[4] = test_frame(s, "g", "", 0, STROBE_FRAME_SYNTHETIC);
    test_sample(s, stack, 5, 1, 1);
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    CHECK(strcmp(v.names[0],
                 "threading, <frozen importlib._bootstrap>, str, g") == 0);
    strobe_view_free(&v);
    strobe_session_free(s);
}

static void test_threshold_and_order(void)
{
    strobe_session *s = strobe_session_new();
    strobe_view_options opt = {0};
    strobe_view v;
    uint32_t m, a, b, c, d;

    CHECK(s != NULL);
    m = test_frame(s, "main", "app.py", 1, PY);
    a = test_frame(s, "a", "app.py", 2, PY);
    b = test_frame(s, "b", "app.py", 3, PY);
    c = test_frame(s, "c", "app.py", 4, PY);
    d = test_frame(s, "d", "app.py", 5, PY);
    {
        uint32_t s1[] = {m, a}, s2[] = {m, b}, s3[] = {m, c}, s4[] = {m, b, d};

        test_sample(s, s1, 2, 300, 10);
        test_sample(s, s2, 2, 500, 500);
        test_sample(s, s3, 2, 10, 10);
        test_sample(s, s4, 2, 300, 300); /* a tie with a: frame id decides */
        test_sample(s, s4, 3, 5, 5);
    }
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    CHECK(v.count == 6);
    CHECK(v.nodes[2].frame == b && v.nodes[2].total_wall_ns == 805 * MS);
    CHECK(v.nodes[3].frame == d);
    CHECK(v.nodes[4].frame == a && v.nodes[5].frame == c);
    CHECK(v.nodes[0].total_wall_ns == 1115 * MS);
    strobe_view_free(&v);

    /* 2% of 1115 ms is 22.3 ms: c (10) and d (5) go, the root keeps it all */
    opt.threshold = 0.02;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    CHECK(v.count == 4);
    CHECK(v.nodes[0].total_wall_ns == 1115 * MS);
    CHECK(v.nodes[2].frame == b && v.nodes[2].first_child == STROBE_NO_NODE);
    CHECK(n_children(&v, 1) == 2);
    strobe_view_free(&v);

    /* by CPU: a has 10 ms of 825, under 2% */
    opt.time_mode = STROBE_TIME_CPU;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    check_shape(&v);
    CHECK(v.count == 3 && v.nodes[2].frame == b);
    strobe_view_free(&v);

    opt.show_all = 1;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    CHECK(v.count == 6);
    strobe_view_free(&v);

    /* a threshold above everything leaves the root */
    opt.show_all = 0;
    opt.threshold = 2.0;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    CHECK(v.count == 1 && v.nodes[0].first_child == STROBE_NO_NODE);
    strobe_view_free(&v);
    strobe_session_free(s);
}

static void test_empty(void)
{
    strobe_session *s = strobe_session_new();
    strobe_view_options opt = {0};
    strobe_view v;

    CHECK(s != NULL);
    opt.threshold = 0.01;
    CHECK(strobe_view_build(s, &opt, &v) == 0);
    CHECK(v.count == 1 && v.nodes[0].total_wall_ns == 0);
    strobe_view_free(&v);
    strobe_view_free(&v);
    strobe_session_free(s);
}

int main(void)
{
    test_recursion();
    test_grouping();
    test_labels();
    test_threshold_and_order();
    test_empty();
    return 0;
}
