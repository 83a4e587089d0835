/* Fails each allocation in turn (of the core and of jansson) along the whole
 * path: session, frames, tree, view, text and JSON, then the session file
 * (save, load, render the loaded session, merge, save again). Every failure must come
 * back as -1/NULL, leave the structure usable (the step is retried and the
 * final output must match a run without failures), and leak nothing (run
 * under ASan). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "render.h"
#include "session_file.h"

static unsigned long failures;

/* A failed step is retried with failures off: it must then succeed. */
#define STEP(expr)                         \
    do {                                   \
        if ((expr) < 0) {                  \
            failures++;                    \
            strobe_alloc_fail_at(0);       \
            CHECK((expr) == 0);            \
        }                                  \
    } while (0)

static int intern(strobe_session *s, const char *name, size_t name_len,
                  const char *file, uint8_t kind, uint32_t *id)
{
    return strobe_frames_intern(s->frames, name, name_len, file, strlen(file),
                                7, kind, id);
}

/* The harness's own output, kept out of reach of the failure hook. */
typedef struct collected {
    char *data;
    size_t len;
} collected;

static void collect(collected *c, const char *data, size_t n)
{
    c->data = realloc(c->data, c->len + n + 1);
    CHECK(c->data != NULL);
    memcpy(c->data + c->len, data, n);
    c->len += n;
    c->data[c->len] = '\0';
}

/* kind: 0 text, 1 JSON, 2 HTML */
static int render(const strobe_session *s, const strobe_view_options *v,
                  int kind, collected *out)
{
    strobe_text_options t = {1, 1};
    strobe_html_options h = {v->frame_flags, v->n_flags, "{\"show_all\":false}"};
    strobe_buf b;
    int rc;

    strobe_buf_init(&b);
    if (kind == 2)
        rc = strobe_render_html(s, &h, &b);
    else if (kind == 1)
        rc = strobe_render_json(s, v, &b);
    else
        rc = strobe_render_text(s, v, &t, &b);
    if (rc == 0)
        collect(out, b.data, b.len);
    else
        CHECK(b.failed);
    strobe_buf_free(&b);
    return rc;
}

static int build_view(const strobe_session *s, const strobe_view_options *v,
                      size_t *count)
{
    strobe_view view;

    if (strobe_view_build(s, v, &view) < 0) {
        CHECK(view.nodes == NULL && view.names == NULL);
        return -1;
    }
    *count = view.count;
    strobe_view_free(&view);
    return 0;
}

static int save(const strobe_session *s, collected *out)
{
    strobe_buf b;
    int rc;

    strobe_buf_init(&b);
    rc = strobe_session_save(s, &b);
    if (rc == 0)
        collect(out, b.data, b.len);
    else
        CHECK(b.failed);
    strobe_buf_free(&b);
    return rc;
}

/* jansson 2.14's lexer ignores a failed growth of its token buffer (lex_save
 * drops the byte and parsing goes on), so json_loadb can succeed, with a
 * token cut short, after one of its allocations failed. Such a load is
 * counted as failed here; allocations of our own must never be swallowed. */
static int jansson_failed;

static void *jansson_malloc(size_t n)
{
    void *p = strobe_malloc(n);

    if (p == NULL)
        jansson_failed = 1;
    return p;
}

static int load(const collected *in, strobe_session **s)
{
    strobe_load_error err;

    jansson_failed = 0;
    if (strobe_session_load(in->data, in->len, s, &err) < 0) {
        CHECK(*s == NULL && err.message[0] != '\0');
        return -1;
    }
    if (jansson_failed) {
        strobe_session_free(*s);
        *s = NULL;
        return -1;
    }
    return 0;
}

/* Everything, start to end; returns the text and JSON output. */
static char *scenario(void)
{
    static const char *const libs[] = {
        "/usr/lib/python3.11/json/decoder.py",
        "/v/site-packages/requests/api.py",
        "/v/site-packages/urllib3/pool.py",
        "/v/dist-packages/six.py",
        "/usr/lib/python3.11/re/__init__.py",
    };
    strobe_session *s = NULL, *loaded = NULL;
    strobe_view_options v = {0};
    collected saved = {NULL, 0};
    uint8_t flags[64] = {0};
    uint32_t f[16], deep[80];
    collected out = {NULL, 0};
    size_t i, count;

    while ((s = strobe_session_new()) == NULL) {
        failures++;
        strobe_alloc_fail_at(0);
    }
    STEP(strobe_session_set_string(&s->target, "prog --x"));
    STEP(strobe_session_set_string(&s->python_version, "3.12.1"));
    STEP(strobe_session_set_string(&s->mechanism, "signal"));
    STEP(strobe_session_set_string(&s->mechanism, "signal+setprofile"));
    STEP(strobe_session_add_error(s, "one"));
    STEP(strobe_session_add_error(s, "two\xff"));
    STEP(strobe_session_add_library_prefix(s, "/usr/lib/python3.11"));
    STEP(strobe_session_add_library_prefix(s, "/v/\xed\xa0\x80"));
    while ((s->timeline = strobe_timeline_new(8)) == NULL) {
        failures++;
        strobe_alloc_fail_at(0);
    }
    STEP(intern(s, "main", 4, "app.py", 0, &f[0]));
    STEP(intern(s, "bad\0\x1b[1m\xed\xa0\x80", 10, "app.py", 0, &f[1]));
    STEP(intern(s, "cb", 2, "app.py", 0, &f[2]));
    STEP(intern(s, "time.sleep", 10, "", 1, &f[3]));
    for (i = 0; i < 5; i++) {
        STEP(intern(s, "lib", 3, libs[i], 0, &f[4 + i]));
        flags[f[4 + i]] = STROBE_FLAG_LIBRARY;
    }
    flags[f[3]] = STROBE_FLAG_LIBRARY;
    /* enough frames to grow the frame table and its hash tables */
    for (i = 0; i < 60; i++) {
        char name[16];
        uint32_t id;

        snprintf(name, sizeof(name), "gen%zu", i);
        STEP(intern(s, name, strlen(name), "gen.py", 0, &id));
    }
    {
        uint32_t s1[] = {f[0], f[1], f[4], f[5], f[6], f[7], f[8], f[2]};
        uint32_t s2[] = {f[0], f[1], f[1], f[1], f[3]};
        uint32_t s3[] = {f[0], f[2]};

        STEP(strobe_tree_add_sample(s->tree, s1, NULL, 8, 5000000, 4000000, NULL));
        STEP(strobe_tree_add_sample(s->tree, s2, NULL, 5, 3000000, 0, NULL));
        STEP(strobe_tree_add_sample(s->tree, s3, NULL, 2, 100000, 100000, NULL));
    }
    /* a deep stack grows the tree's arrays and tables several times */
    for (i = 0; i < 80; i++)
        deep[i] = f[i % 3];
    STEP(strobe_tree_add_sample(s->tree, deep, NULL, 80, 2000000, 2000000, NULL));
    s->sample_count = 4;
    s->duration_ns = 10100000;
    s->cpu_ns = 6100000;
    s->interval_ns = 1000000;

    v.frame_flags = flags;
    v.n_flags = sizeof(flags);
    v.collapse_recursion = 1;
    v.threshold = 0.005;
    STEP(build_view(s, &v, &count));
    STEP(render(s, &v, 0, &out));
    STEP(render(s, &v, 1, &out));
    STEP(render(s, &v, 2, &out));
    v.show_all = 1;
    STEP(render(s, &v, 0, &out));

    for (i = 0; i < 20; i++)
        STEP(strobe_timeline_add(s->timeline, i * 1000, (uint32_t)(i % 5)));
    STEP(save(s, &saved));
    STEP(load(&saved, &loaded));
    STEP(render(loaded, &v, 0, &out));
    STEP(render(loaded, &v, 1, &out));
    STEP(render(loaded, &v, 2, &out));
    STEP(strobe_session_merge(loaded, s));
    STEP(save(loaded, &out));
    strobe_session_free(loaded);
    free(saved.data);
    strobe_session_free(s);
    return out.data;
}

int main(void)
{
    char *reference, *got;
    unsigned long n, total;

    json_set_alloc_funcs(jansson_malloc, strobe_free);
    strobe_alloc_fail_at(0);
    reference = scenario();
    total = strobe_alloc_count();
    CHECK(failures == 0 && total > 100);
    for (n = 1; n <= total; n++) {
        unsigned long before = failures;

        strobe_alloc_fail_at(n);
        got = scenario();
        if (failures != before + 1)
            fprintf(stderr, "allocation %lu: %lu failures\n", n,
                    failures - before);
        CHECK(failures == before + 1);
        if (strcmp(got, reference) != 0) {
            fprintf(stderr, "output differs after failing allocation %lu\n", n);
            CHECK(0);
        }
        free(got);
    }
    printf("%lu allocations, each failed in turn\n", total);
    free(reference);
    return 0;
}
