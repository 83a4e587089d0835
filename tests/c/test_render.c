#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "render.h"

enum { PY = STROBE_FRAME_PYTHON, C = STROBE_FRAME_C };

static char *render_text(const strobe_session *s, const strobe_view_options *v,
                         int unicode, int color, size_t *len)
{
    strobe_text_options t = {unicode, color};
    strobe_buf b;
    char *out;

    strobe_buf_init(&b);
    CHECK(strobe_render_text(s, v, &t, &b) == 0);
    out = strobe_buf_steal(&b, len);
    CHECK(out != NULL);
    if (getenv("STROBE_TEST_SHOW"))
        fputs(out, stdout), fflush(stdout);
    return out;
}

/* Renders JSON and parses it back strictly. */
static json_t *render_json(const strobe_session *s, const strobe_view_options *v)
{
    strobe_buf b;
    json_error_t err;
    json_t *doc;

    strobe_buf_init(&b);
    CHECK(strobe_render_json(s, v, &b) == 0);
    doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (doc == NULL)
        fprintf(stderr, "bad JSON: %s (line %d col %d)\n", err.text, err.line,
                err.column);
    CHECK(doc != NULL);
    strobe_buf_free(&b);
    return doc;
}

/* Parents come before children, ids are dense, the root is first. */
static void check_json_nodes(const json_t *doc, size_t expect)
{
    const json_t *nodes = json_object_get(doc, "nodes");
    size_t i;

    CHECK(json_is_array(nodes) && json_array_size(nodes) == expect);
    for (i = 0; i < json_array_size(nodes); i++) {
        const json_t *n = json_array_get(nodes, i), *p;

        CHECK(json_integer_value(json_object_get(n, "id")) == (json_int_t)i);
        p = json_object_get(n, "parent");
        if (i == 0)
            CHECK(json_is_null(p) && json_is_null(json_object_get(n, "frame")));
        else
            CHECK(json_is_integer(p) && json_integer_value(p) < (json_int_t)i);
    }
}

static strobe_session *basic_session(void)
{
    strobe_session *s = strobe_session_new();
    uint32_t m, work, parse, loads, decode, cb, sleep_f;

    CHECK(s != NULL);
    CHECK(strobe_session_set_string(&s->target, "python app.py --fast") == 0);
    CHECK(strobe_session_set_string(&s->python_version, "3.11.7") == 0);
    CHECK(strobe_session_set_string(&s->mechanism, "signal+setprofile") == 0);
    CHECK(strobe_session_add_error(s, "timer overran 3 times") == 0);
    CHECK(strobe_session_add_error(s, "timer overran 3 times") == 0);
    CHECK(s->n_errors == 1);
    s->interval_ns = 1000000;
    s->start_time = 1700000000.25;
    m = test_frame(s, "<module>", "app.py", 1, PY);
    work = test_frame(s, "work", "app.py", 10, PY);
    parse = test_frame(s, "parse", "app.py", 20, PY);
    loads = test_frame(s, "loads", "/usr/lib/python3.11/json/__init__.py", 299, PY);
    decode = test_frame(s, "JSONDecoder.decode",
                        "/usr/lib/python3.11/json/decoder.py", 332, PY);
    cb = test_frame(s, "hook", "app.py", 30, PY);
    sleep_f = test_frame(s, "time.sleep", "", 0, C);
    {
        uint32_t s1[] = {m, work, parse, loads, decode, cb};
        uint32_t s2[] = {m, work, sleep_f};
        uint32_t s3[] = {m, work};
        uint32_t s4[] = {m, parse};

        test_sample(s, s1, 6, 600, 590);
        test_sample(s, s2, 3, 300, 1);
        test_sample(s, s3, 2, 90, 90);
        test_sample(s, s4, 2, 10, 10);
    }
    return s;
}

static const uint8_t basic_flags[] = {0, 0, 0, STROBE_FLAG_LIBRARY,
                                      STROBE_FLAG_LIBRARY, 0,
                                      STROBE_FLAG_LIBRARY};

static void test_basic(void)
{
    static const char expect[] =
        "stroboscope  python app.py --fast\n"
        "Duration 1.000 s   Samples 4 (4/s)   Interval 1.0 ms   CPU 0.691 s (69%)\n"
        "Python 3.11.7   Re-arm: signal+setprofile\n"
        "! timer overran 3 times\n"
        "\n"
        "   1.000  100.0%  <module>  app.py:1\n"
        "   0.990   99.0%  |- work  app.py:10\n"
        "   0.600   60.0%  |  |- parse  app.py:20\n"
        "   0.600   60.0%  |  |  `- [2 frames hidden]  json (loads)\n"
        "   0.600   60.0%  |  |     `- hook  app.py:30\n"
        "   0.300   30.0%  |  `- [1 frame hidden]  time (time.sleep)  [100% waiting]\n"
        "   0.010    1.0%  `- parse  app.py:20\n";
    strobe_session *s = basic_session();
    strobe_view_options v = {0};
    json_t *doc, *meta, *frames, *nodes, *n;
    char *out;
    size_t len;

    v.frame_flags = basic_flags;
    v.n_flags = sizeof(basic_flags);
    out = render_text(s, &v, 0, 0, &len);
    CHECK(strcmp(out, expect) == 0);
    strobe_free(out);

    out = render_text(s, &v, 1, 1, &len);
    CHECK(strstr(out, "\xe2\x94\x9c\xe2\x94\x80 ") != NULL); /* ├─ */
    CHECK(strstr(out, "\xe2\x94\x94\xe2\x94\x80 ") != NULL); /* └─ */
    CHECK(strstr(out, "\x1b[1mwork\x1b[0m") != NULL);        /* app code */
    CHECK(strstr(out, "\x1b[31m   1.000  100.0%") != NULL);
    CHECK(strstr(out, "\x1b[33m   0.300   30.0%") != NULL);
    CHECK(strstr(out, "\x1b[36m   0.010    1.0%") != NULL);
    strobe_free(out);

    /* threshold 5%: the 1% parse goes; by CPU, time.sleep (1 ms) goes too */
    v.threshold = 0.05;
    out = render_text(s, &v, 0, 0, &len);
    CHECK(test_count(out, "parse") == 1 && strstr(out, "hidden]  time") != NULL);
    strobe_free(out);
    v.time_mode = STROBE_TIME_CPU;
    out = render_text(s, &v, 0, 0, &len);
    CHECK(strstr(out, "hidden]  time") == NULL);
    CHECK(strstr(out, "   0.691  100.0%  <module>") != NULL);
    strobe_free(out);

    /* JSON shows what the text shows */
    doc = render_json(s, &v);
    CHECK(strcmp(json_string_value(json_object_get(doc, "format")),
                 "stroboscope-tree") == 0);
    CHECK(json_integer_value(json_object_get(doc, "version")) == 1);
    meta = json_object_get(doc, "meta");
    CHECK(json_real_value(json_object_get(meta, "duration")) == 1.0);
    CHECK(json_real_value(json_object_get(meta, "interval")) == 0.001);
    CHECK(json_real_value(json_object_get(meta, "start_time")) == 1700000000.25);
    CHECK(json_integer_value(json_object_get(meta, "sample_count")) == 4);
    CHECK(strcmp(json_string_value(json_object_get(meta, "mechanism")),
                 "signal+setprofile") == 0);
    CHECK(json_array_size(json_object_get(meta, "errors")) == 1);
    frames = json_object_get(doc, "frames");
    CHECK(json_array_size(frames) == 7);
    n = json_array_get(frames, 6);
    CHECK(strcmp(json_string_value(json_object_get(n, "kind")), "c") == 0);
    CHECK(json_is_true(json_object_get(n, "library")));
    CHECK(json_is_false(json_object_get(json_array_get(frames, 0), "library")));
    /* root, module, work, parse, group, hook */
    check_json_nodes(doc, 6);
    nodes = json_object_get(doc, "nodes");
    n = json_array_get(nodes, 4);
    CHECK(json_integer_value(json_object_get(n, "hidden_count")) == 2);
    CHECK(strcmp(json_string_value(json_object_get(n, "label")), "json") == 0);
    CHECK(json_integer_value(json_object_get(n, "frame")) == 3);
    CHECK(json_object_get(n, "recursion") == NULL);
    n = json_array_get(nodes, 0);
    CHECK(json_real_value(json_object_get(n, "total_wall")) == 1.0);
    CHECK(json_integer_value(json_object_get(n, "samples")) == 4);
    json_decref(doc);

    /* show_all: no groups, nothing under the threshold dropped */
    v.show_all = 1;
    out = render_text(s, &v, 0, 0, &len);
    CHECK(strstr(out, "hidden") == NULL && strstr(out, "JSONDecoder.decode") != NULL);
    CHECK(strstr(out, "|  `- time.sleep\n") != NULL);
    CHECK(strstr(out, "0.010") != NULL);
    strobe_free(out);
    strobe_session_free(s);
}

static void test_no_samples(void)
{
    strobe_session *s = strobe_session_new();
    strobe_view_options v = {0};
    json_t *doc;
    char *out;
    size_t len;

    CHECK(s != NULL);
    out = render_text(s, &v, 1, 0, &len);
    CHECK(strcmp(out, "stroboscope\n"
                      "Duration 0.000 s   Samples 0   CPU 0.000 s\n"
                      "\nno samples recorded\n") == 0);
    strobe_free(out);
    s->interval_ns = 100000;
    out = render_text(s, &v, 0, 0, &len);
    CHECK(strstr(out, "   Interval 100 us   ") != NULL);
    strobe_free(out);
    doc = render_json(s, &v);
    check_json_nodes(doc, 1);
    CHECK(json_is_null(json_object_get(json_object_get(doc, "meta"), "target")));
    json_decref(doc);
    strobe_session_free(s);
}

static void test_hostile(void)
{
    static const char evil[] = "ev\x1b]0;pwn\x07il\x1b[31m\n\0x\xff\xed\xa0\x80"
                               "\xc2\x9b\xe2\x80\xae\xc3\xa9\x7f";
    static const char evil_hex[] = "65761b5d303b70776e07696c1b5b33316d0a0078"
                                   "ffeda080c29be280aec3a97f";
    strobe_session *s = strobe_session_new();
    strobe_view_options v = {0};
    uint32_t f, stack[1];
    json_t *doc, *fr;
    const char *name;
    char *out;
    size_t len, i;

    CHECK(s != NULL);
    CHECK(strobe_frames_intern(s->frames, evil, sizeof(evil) - 1, "a\nb.py", 6,
                               3, PY, &f) == 0);
    CHECK(strobe_session_set_string(&s->target, "x\x1b[2Jy") == 0);
    CHECK(strobe_session_add_error(s, "bad\xfe\r") == 0);
    stack[0] = f;
    test_sample(s, stack, 1, 5, 5);

    out = render_text(s, &v, 1, 0, &len);
    CHECK(len == strlen(out));
    for (i = 0; i < len; i++)
        CHECK(out[i] == '\n' || ((unsigned char)out[i] >= 0x20 && out[i] != 0x7f));
    CHECK(strstr(out, "ev\\x1b]0;pwn\\x07il\\x1b[31m\\x0a\\x00x\\xff\\xed\\xa0\\x80"
                      "\\u009b\\u202e\xc3\xa9\\x7f  a\\x0ab.py:3") != NULL);
    CHECK(strstr(out, "stroboscope  x\\x1b[2Jy\n") != NULL);
    CHECK(strstr(out, "! bad\\xfe\\x0d\n") != NULL);
    strobe_free(out);
    /* with colour on, every ESC is one of ours */
    out = render_text(s, &v, 1, 1, &len);
    CHECK(strstr(out, "\x1b]") == NULL && strstr(out, "\x1b[2J") == NULL);
    strobe_free(out);

    doc = render_json(s, &v);
    fr = json_array_get(json_object_get(doc, "frames"), 0);
    name = json_string_value(json_object_get(fr, "name"));
    CHECK(name != NULL);
    CHECK(json_string_length(json_object_get(fr, "name")) == sizeof(evil) - 1 - 4 + 12);
    CHECK(memcmp(name, "ev\x1b]0;pwn\x07il\x1b[31m\n\0x\xef\xbf\xbd", 23) == 0);
    CHECK(strcmp(json_string_value(json_object_get(fr, "name_hex")), evil_hex) == 0);
    CHECK(json_object_get(fr, "file_hex") == NULL);
    CHECK(strcmp(json_string_value(json_object_get(fr, "file")), "a\nb.py") == 0);
    CHECK(strcmp(json_string_value(json_array_get(
                     json_object_get(json_object_get(doc, "meta"), "errors"), 0)),
                 "bad\xef\xbf\xbd\r") == 0);
    json_decref(doc);
    strobe_session_free(s);
}

/* Returns the HTML page's payload: the text between the data block's tags,
 * checked to be the only place the profiled program's bytes can be. */
static char *html_payload(const char *page, size_t len)
{
    static const char open_tag[] = "<script id=\"strobe-data\" type=\"application/json\">";
    const char *start = strstr(page, open_tag), *end;
    char *out;

    CHECK(start != NULL && strlen(page) == len);
    start += sizeof(open_tag) - 1;
    end = strstr(start, "</script>");
    CHECK(end != NULL);
    out = malloc((size_t)(end - start) + 1);
    CHECK(out != NULL);
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return out;
}

static void test_html(void)
{
    static const char evil[] = "</script><script>alert(1)</script><!--x\xe2\x80\xa8y"
                               "\xe2\x80\xa9&amp;>";
    strobe_session *s = basic_session();
    strobe_html_options h = {basic_flags, sizeof(basic_flags), "{\"threshold\":1.5}"};
    strobe_buf b;
    json_t *doc;
    json_error_t err;
    uint32_t f, stack[1];
    char *page, *payload;
    size_t len;

    CHECK(strobe_frames_intern(s->frames, evil, sizeof(evil) - 1, "<!--f.py", 8, 1,
                               PY, &f) == 0);
    stack[0] = f;
    test_sample(s, stack, 1, 5, 5);
    CHECK(strobe_session_set_string(&s->target, "python </script> \xe2\x80\xa8") == 0);

    strobe_buf_init(&b);
    CHECK(strobe_render_html(s, &h, &b) == 0);
    page = strobe_buf_steal(&b, &len);
    CHECK(page != NULL);
    CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    payload = html_payload(page, len);
    /* nothing in the payload can end the script block or open a comment */
    CHECK(strchr(payload, '<') == NULL && strchr(payload, '>') == NULL);
    CHECK(strstr(payload, "\xe2\x80\xa8") == NULL && strstr(payload, "\xe2\x80\xa9") == NULL);
    doc = json_loads(payload, JSON_REJECT_DUPLICATES, &err);
    CHECK(doc != NULL);
    CHECK(strcmp(json_string_value(json_object_get(doc, "format")), "stroboscope-report") == 0);
    /* one library flag a frame: loads, decode and time.sleep */
    CHECK(strcmp(json_string_value(json_object_get(doc, "library")), "00011010") == 0);
    CHECK(json_real_value(json_object_get(json_object_get(doc, "options"), "threshold")) == 1.5);
    {
        const json_t *sess = json_object_get(doc, "session");
        const json_t *strings = json_object_get(sess, "strings");
        size_t i, found = 0;

        for (i = 0; i < json_array_size(strings); i++)
            if (strcmp(json_string_value(json_array_get(strings, i)), evil) == 0)
                found++;
        CHECK(found == 1); /* the escapes decode back to the exact name */
        CHECK(strcmp(json_string_value(json_object_get(json_object_get(sess, "meta"), "target")),
                     "python </script> \xe2\x80\xa8") == 0);
    }
    json_decref(doc);
    free(payload);
    strobe_free(page);

    /* no options: an empty object */
    strobe_buf_init(&b);
    h.options_json = NULL;
    CHECK(strobe_render_html(s, &h, &b) == 0 && !b.failed);
    CHECK(strstr(b.data, "\"options\":{},\"session\":{") != NULL);
    strobe_buf_free(&b);
    strobe_session_free(s);
}

#define DEEP 50000

static void test_deep(void)
{
    strobe_session *s = strobe_session_new();
    strobe_view_options v = {0};
    uint32_t *stack = malloc(DEEP * sizeof(uint32_t)), fr[3];
    json_t *doc;
    char *out;
    size_t len, i;

    CHECK(s != NULL && stack != NULL);
    fr[0] = test_frame(s, "a", "deep.py", 1, PY);
    fr[1] = test_frame(s, "b", "deep.py", 2, PY);
    fr[2] = test_frame(s, "c", "deep.py", 3, PY);
    for (i = 0; i < DEEP; i++)
        stack[i] = fr[i % 3];
    test_sample(s, stack, DEEP, 7, 7);
    stack[DEEP - 1] = fr[DEEP % 3]; /* a sibling at the bottom */
    test_sample(s, stack, DEEP, 3, 3);
    v.collapse_recursion = 1;

    out = render_text(s, &v, 1, 0, &len);
    printf("50000-deep text: %zu bytes (%.1f a level)\n", len, (double)len / DEEP);
    CHECK(len < 200 * DEEP);
    CHECK(test_count(out, "\n") == 3 + DEEP + 1);
    CHECK(strstr(out, "[depth 50000] ") != NULL);
    CHECK(strstr(out, "[depth 49] ") == NULL && strstr(out, "[depth 50] ") != NULL);
    strobe_free(out);
    /* colour codes add about 25 bytes a line */
    out = render_text(s, &v, 0, 1, &len);
    CHECK(len < 256 * DEEP);
    strobe_free(out);

    doc = render_json(s, &v);
    check_json_nodes(doc, DEEP + 2);
    json_decref(doc);
    strobe_session_free(s);

    /* direct recursion 10,000 deep is one line */
    s = strobe_session_new();
    CHECK(s != NULL);
    fr[0] = test_frame(s, "fib", "r.py", 1, PY);
    for (i = 0; i < 10000; i++)
        stack[i] = fr[0];
    test_sample(s, stack, 10000, 1, 1);
    out = render_text(s, &v, 0, 0, &len);
    CHECK(strstr(out, "\n   0.001  100.0%  fib  r.py:1 (recursion x10000)\n") != NULL);
    CHECK(test_count(out, "fib") == 1);
    strobe_free(out);
    out = render_text(s, &v, 1, 0, &len);
    CHECK(strstr(out, "(recursion \xc3\x97" "10000)") != NULL);
    strobe_free(out);
    doc = render_json(s, &v);
    check_json_nodes(doc, 2);
    CHECK(json_integer_value(json_object_get(
              json_array_get(json_object_get(doc, "nodes"), 1), "recursion")) == 10000);
    json_decref(doc);
    free(stack);
    strobe_session_free(s);
}

int main(void)
{
    test_basic();
    test_no_samples();
    test_hostile();
    test_html();
    test_deep();
    return 0;
}
