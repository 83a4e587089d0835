/* The session file: round trips that render byte for byte as the original,
 * a 50,000-deep stack, hostile bytes, every kind of malformed input, merging,
 * and the timeline's halving. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "render.h"
#include "session_file.h"

enum { PY = STROBE_FRAME_PYTHON, C = STROBE_FRAME_C, SYN = STROBE_FRAME_SYNTHETIC };

static char *save(const strobe_session *s, size_t *len)
{
    strobe_buf b;
    char *data;

    strobe_buf_init(&b);
    CHECK(strobe_session_save(s, &b) == 0);
    data = strobe_buf_steal(&b, len);
    CHECK(data != NULL);
    return data;
}

static strobe_session *load(const char *data, size_t len)
{
    strobe_load_error err;
    strobe_session *s = (strobe_session *)&err; /* must be reset */

    if (strobe_session_load(data, len, &s, &err) < 0) {
        fprintf(stderr, "load failed: field \"%s\": %s\n", err.field, err.message);
        CHECK(0);
    }
    CHECK(s != NULL);
    return s;
}

/* Everything the renderers make of s, with and without grouping, so that two
 * sessions can be compared byte for byte. */
static char *render_all(const strobe_session *s, const uint8_t *flags,
                        size_t n_flags)
{
    strobe_view_options v = {0};
    strobe_text_options t = {1, 1};
    strobe_buf b;
    char *out;

    strobe_buf_init(&b);
    CHECK(strobe_render_text(s, &v, &t, &b) == 0);
    CHECK(strobe_render_json(s, &v, &b) == 0);
    v.frame_flags = flags;
    v.n_flags = n_flags;
    v.collapse_recursion = 1;
    t.unicode = 0;
    t.color = 0;
    CHECK(strobe_render_text(s, &v, &t, &b) == 0);
    CHECK(strobe_render_json(s, &v, &b) == 0);
    v.time_mode = STROBE_TIME_CPU;
    v.threshold = 0.01;
    CHECK(strobe_render_text(s, &v, &t, &b) == 0);
    out = strobe_buf_steal(&b, NULL);
    CHECK(out != NULL);
    return out;
}

/* save → load → save gives the same bytes, and the loaded session renders
 * exactly as the original. Returns the loaded session. */
static strobe_session *round_trip(const strobe_session *s, const uint8_t *flags,
                                  size_t n_flags)
{
    char *first, *second, *r1, *r2;
    size_t len1, len2;
    strobe_session *back;

    first = save(s, &len1);
    back = load(first, len1);
    second = save(back, &len2);
    CHECK(len1 == len2 && memcmp(first, second, len1) == 0);
    r1 = render_all(s, flags, n_flags);
    r2 = render_all(back, flags, n_flags);
    CHECK(strcmp(r1, r2) == 0);
    strobe_free(first);
    strobe_free(second);
    strobe_free(r1);
    strobe_free(r2);
    return back;
}

static uint32_t frame_n(strobe_session *s, const char *name, size_t name_len,
                        const char *file, size_t file_len, int line, int kind)
{
    uint32_t id;

    CHECK(strobe_frames_intern(s->frames, name, name_len, file, file_len, line,
                               (uint8_t)kind, &id) == 0);
    return id;
}

/* Bytes that no JSON string can carry as they are, and some that it can. */
static const char evil[] = "ev\x1b]0;pwn\x07il\x1b[31m\n\0x\xff\xed\xa0\x80"
                           "\xc2\x9b\xe2\x80\xae\xc3\xa9\x7f\"\\/</script>";
static const char surrogate[] = "lone\xed\xa0\x80surrogate";
static const char nul_name[] = "a\0b";

static strobe_session *hostile_session(void)
{
    strobe_session *s = strobe_session_new();
    uint32_t f[8];
    int32_t lines[5] = {3, 4, -1, 0, 2147483647};

    CHECK(s != NULL);
    s->start_time = 1700000000.123456789;
    s->interval_ns = 250000;
    CHECK(strobe_session_set_string(&s->target, "x\x1b[2Jy \xfe\xff") == 0);
    CHECK(strobe_session_set_string(&s->python_version, "3.11.7") == 0);
    CHECK(strobe_session_add_error(s, "bad\xfe\r") == 0);
    CHECK(strobe_session_add_error(s, "timer overran") == 0);
    CHECK(strobe_session_add_library_prefix(s, "/usr/lib/python3.11") == 0);
    CHECK(strobe_session_add_library_prefix(s, "/v/\xed\xb2\x80/site-packages") == 0);
    CHECK(strobe_session_add_library_prefix(s, "/usr/lib/python3.11") == 0);
    CHECK(s->n_library_prefixes == 2);
    f[0] = frame_n(s, "<module>", 8, "app.py", 6, 1, PY);
    f[1] = frame_n(s, evil, sizeof(evil) - 1, "a\nb.py", 6, 3, PY);
    f[2] = frame_n(s, surrogate, sizeof(surrogate) - 1, "/p/\xff\xfe.py", 8, 0, PY);
    f[3] = frame_n(s, nul_name, sizeof(nul_name) - 1, "", 0, 0, C);
    f[4] = frame_n(s, "", 0, "", 0, -5, SYN);
    f[5] = frame_n(s, "loads", 5, "/usr/lib/python3.11/json/__init__.py", 36, 299, PY);
    f[6] = frame_n(s, "app.py", 6, "app.py", 6, 2147483647, PY); /* shares a string */
    f[7] = frame_n(s, "unused", 6, "gone.py", 7, -2147483647 - 1, PY);
    (void)f[7];
    {
        uint32_t s1[] = {f[0], f[1], f[5], f[2], f[3]};
        uint32_t s2[] = {f[0], f[4], f[6]};
        uint32_t s3[] = {f[0], f[1], f[1], f[1]};

        CHECK(strobe_tree_add_sample(s->tree, s1, lines, 5, 600000001,
                                     590000000, NULL) == 0);
        CHECK(strobe_tree_add_sample(s->tree, s2, lines, 3, 300, 1, NULL) == 0);
        CHECK(strobe_tree_add_sample(s->tree, s3, NULL, 4, 90, 90, NULL) == 0);
        CHECK(strobe_tree_add_sample(s->tree, NULL, NULL, 0, 7, 7, NULL) == 0);
        CHECK(strobe_tree_add_counts(s->tree, 2, UINT64_C(9000000000000000000),
                                     0, 0) == 0);
    }
    s->sample_count = 4;
    s->duration_ns = UINT64_C(9000000000600000398);
    s->cpu_ns = 590000098;
    s->timeline = strobe_timeline_new(4);
    CHECK(s->timeline != NULL);
    {
        uint32_t i;

        for (i = 0; i < 11; i++)
            CHECK(strobe_timeline_add(s->timeline, i * 1000u,
                                      i % (uint32_t)strobe_tree_count(s->tree)) == 0);
    }
    return s;
}

static void test_round_trip(void)
{
    static const uint8_t flags[] = {0, 0, STROBE_FLAG_LIBRARY, STROBE_FLAG_LIBRARY,
                                    STROBE_FLAG_HIDE, STROBE_FLAG_LIBRARY, 0, 0};
    strobe_session *s = hostile_session(), *back;
    strobe_frame a, b;
    char *data;
    size_t len, i;
    json_t *doc;
    json_error_t jerr;

    back = round_trip(s, flags, sizeof(flags));
    /* every field came back */
    CHECK(back->start_time == s->start_time);
    CHECK(back->duration_ns == s->duration_ns && back->cpu_ns == s->cpu_ns);
    CHECK(back->sample_count == 4 && back->interval_ns == 250000);
    CHECK(strcmp(back->target, s->target) == 0);
    CHECK(strcmp(back->python_version, "3.11.7") == 0 && back->mechanism == NULL);
    CHECK(back->n_errors == 2 && strcmp(back->errors[0], "bad\xfe\r") == 0);
    CHECK(back->n_library_prefixes == 2 &&
          strcmp(back->library_prefixes[1], "/v/\xed\xb2\x80/site-packages") == 0);
    CHECK(strobe_frames_count(back->frames) == strobe_frames_count(s->frames));
    for (i = 0; i < strobe_frames_count(s->frames); i++) {
        CHECK(strobe_frames_get(s->frames, (uint32_t)i, &a) == 0);
        CHECK(strobe_frames_get(back->frames, (uint32_t)i, &b) == 0);
        CHECK(a.name_len == b.name_len && memcmp(a.name, b.name, a.name_len) == 0);
        CHECK(a.file_len == b.file_len && memcmp(a.file, b.file, a.file_len) == 0);
        CHECK(a.first_line == b.first_line && a.kind == b.kind);
    }
    CHECK(strobe_tree_count(back->tree) == strobe_tree_count(s->tree));
    for (i = 0; i < strobe_tree_count(s->tree); i++) {
        const strobe_node *x = strobe_tree_node(s->tree, (uint32_t)i);
        const strobe_node *y = strobe_tree_node(back->tree, (uint32_t)i);

        CHECK(x->parent == y->parent && x->frame == y->frame && x->line == y->line);
        CHECK(x->first_child == y->first_child && x->next_sibling == y->next_sibling);
        CHECK(x->self_wall_ns == y->self_wall_ns && x->self_cpu_ns == y->self_cpu_ns);
        CHECK(x->self_samples == y->self_samples);
    }
    CHECK(back->timeline != NULL && back->timeline->count == s->timeline->count);
    CHECK(back->timeline->stride == 4 && back->timeline->samples == 11);
    CHECK(back->timeline->capacity == 4);
    CHECK(memcmp(back->timeline->times, s->timeline->times,
                 s->timeline->count * sizeof(uint64_t)) == 0);
    CHECK(memcmp(back->timeline->nodes, s->timeline->nodes,
                 s->timeline->count * sizeof(uint32_t)) == 0);
    /* a loaded timeline goes on recording by the same rule */
    for (i = 11; i < 40; i++) {
        CHECK(strobe_timeline_add(s->timeline, i, 1) == 0);
        CHECK(strobe_timeline_add(back->timeline, i, 1) == 0);
    }
    CHECK(back->timeline->count == s->timeline->count &&
          back->timeline->stride == s->timeline->stride);

    /* the document: each string once, the escaped forms, strict JSON */
    data = save(s, &len);
    if (getenv("STROBE_TEST_SHOW"))
        fputs(data, stdout);
    CHECK(data[len - 1] == '\n' && strchr(data, '\n') == data + len - 1);
    CHECK(test_count(data, "\"app.py\"") == 1);
    CHECK(test_count(data, "\"\"") == 1);
    CHECK(strstr(data, "[\"hex\",\"6c6f6e65eda080737572726f67617465\"]") != NULL);
    CHECK(strstr(data, "\"a\\u0000b\"") != NULL);
    CHECK(strstr(data, "\"library_prefixes\":[\"/usr/lib/python3.11\",[\"hex\",") != NULL);
    CHECK(strstr(data, "\"start_time\":1700000000.1234567") != NULL);
    CHECK(strstr(data, "\"nodes\":[[null,null,0,7,7,1],[0,0,") != NULL);
    doc = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    CHECK(doc != NULL);
    json_decref(doc);
    strobe_free(data);
    strobe_session_free(back);

    /* a session with nothing in it */
    strobe_session_free(s);
    s = strobe_session_new();
    CHECK(s != NULL);
    back = round_trip(s, NULL, 0);
    data = save(back, &len);
    CHECK(strcmp(data, "{\"format\":\"stroboscope-session\",\"version\":1,\"meta\":"
                       "{\"start_time\":0.0,\"duration_ns\":0,\"cpu_ns\":0,"
                       "\"sample_count\":0,\"interval_ns\":0,\"python_version\":null,"
                       "\"target\":null,\"mechanism\":null,\"errors\":[],"
                       "\"library_prefixes\":[]},\"strings\":[],\"frames\":[],"
                       "\"nodes\":[[null,null,0,0,0,0]],\"timeline\":null}\n") == 0);
    strobe_free(data);
    strobe_session_free(back);

    /* what the format cannot carry is refused when saving */
    s->duration_ns = UINT64_C(1) << 63;
    {
        strobe_buf sb;

        strobe_buf_init(&sb);
        CHECK(strobe_session_save(s, &sb) < 0 && sb.failed);
        strobe_buf_free(&sb);
        s->duration_ns = 0;
        s->start_time = -1;
        CHECK(strobe_session_save(s, &sb) < 0);
        strobe_buf_free(&sb);
    }
    strobe_session_free(s);
}

#define DEEP 50000

static void test_deep(void)
{
    strobe_session *s = strobe_session_new(), *back;
    uint32_t *stack = malloc(DEEP * sizeof(uint32_t)), fr[3];
    uint8_t flags[3] = {0, STROBE_FLAG_LIBRARY, 0};
    size_t i;

    CHECK(s != NULL && stack != NULL);
    fr[0] = test_frame(s, "a", "deep.py", 1, PY);
    fr[1] = test_frame(s, "b", "deep.py", 2, PY);
    fr[2] = test_frame(s, "c", "deep.py", 3, PY);
    for (i = 0; i < DEEP; i++)
        stack[i] = fr[i % 3];
    test_sample(s, stack, DEEP, 7, 7);
    stack[DEEP - 1] = fr[DEEP % 3];
    test_sample(s, stack, DEEP, 3, 3);
    back = round_trip(s, flags, 3);
    CHECK(strobe_tree_count(back->tree) == DEEP + 2);
    strobe_session_free(back);
    strobe_session_free(s);
    free(stack);
}

/* A big name round trips; an input above the limit is refused unread. */
static void test_huge(void)
{
    size_t n = 3u << 20, len;
    char *name = malloc(n), *data;
    strobe_session *s = strobe_session_new(), *back;
    strobe_load_error err;
    uint32_t f;

    CHECK(name != NULL && s != NULL);
    for (len = 0; len < n; len++)
        name[len] = (char)(len * 7 % 251 + 1); /* controls and invalid UTF-8 */
    f = frame_n(s, name, n, "big.py", 6, 1, PY);
    test_sample(s, &f, 1, 1, 1);
    back = round_trip(s, NULL, 0);
    strobe_session_free(back);
    strobe_session_free(s);
    free(name);

    /* never touched: the size alone decides */
    data = malloc(16);
    CHECK(data != NULL);
    s = (strobe_session *)data;
    CHECK(strobe_session_load(data, STROBE_SESSION_MAX_BYTES + 1, &s, &err) < 0);
    CHECK(s == NULL && err.field[0] == '\0');
    CHECK(strstr(err.message, "more than the limit of 268435456") != NULL);
    free(data);
}

/* ---- malformed input --------------------------------------------------- */

static const char base_doc[] =
    "{\"format\":\"stroboscope-session\",\"version\":1,"
    "\"meta\":{\"start_time\":1.5,\"duration_ns\":10,\"cpu_ns\":5,"
    "\"sample_count\":2,\"interval_ns\":1000000,\"python_version\":\"3.11.7\","
    "\"target\":null,\"mechanism\":\"signal\",\"errors\":[\"e1\"],"
    "\"library_prefixes\":[\"/usr/lib\"]},"
    "\"strings\":[\"main\",\"app.py\",[\"hex\",\"ff00\"]],"
    "\"frames\":[[0,1,1,0],[2,1,5,1]],"
    "\"nodes\":[[null,null,0,0,0,0],[0,0,3,5,4,1],[1,1,7,5,1,1]],"
    "\"timeline\":{\"capacity\":4,\"stride\":1,\"samples\":2,"
    "\"times\":[0,5],\"nodes\":[1,2]}}";

static void expect_error(const char *data, size_t len, const char *field,
                         const char *message)
{
    strobe_session *s = (strobe_session *)&s;
    strobe_load_error err;

    if (strobe_session_load(data, len, &s, &err) == 0) {
        fprintf(stderr, "loaded, but expected %s: %s\n", field, message);
        CHECK(0);
    }
    CHECK(s == NULL);
    if (strcmp(err.field, field) != 0 || strstr(err.message, message) == NULL) {
        fprintf(stderr, "expected field \"%s\" / \"%s\", got \"%s\" / \"%s\"\n",
                field, message, err.field, err.message);
        CHECK(0);
    }
    /* printable ASCII only */
    for (len = 0; err.field[len] != '\0'; len++)
        CHECK(err.field[len] >= 0x20 && err.field[len] < 0x7f);
    for (len = 0; err.message[len] != '\0'; len++)
        CHECK(err.message[len] >= 0x20 && err.message[len] < 0x7f);
}

/* base_doc with its only occurrence of `from` replaced by `to`. */
static void expect_edit(const char *from, const char *to, const char *field,
                        const char *message)
{
    const char *at = strstr(base_doc, from);
    size_t flen = strlen(from), tlen = strlen(to), blen = strlen(base_doc);
    char *doc = malloc(blen - flen + tlen + 1);

    CHECK(at != NULL && strstr(at + 1, from) == NULL && doc != NULL);
    memcpy(doc, base_doc, (size_t)(at - base_doc));
    memcpy(doc + (at - base_doc), to, tlen);
    strcpy(doc + (at - base_doc) + tlen, at + flen);
    expect_error(doc, strlen(doc), field, message);
    free(doc);
}

static void test_malformed(void)
{
    static const char pickle[] = "\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00}"
                                 "\x94(\x8c\x06format\x94K\x01u.";
    static const struct edit {
        const char *from, *to, *field, *message;
    } edits[] = {
        {"stroboscope-session", "stroboscope-tree", "format", "not a session file"},
        {"\"format\":\"stroboscope-session\",", "", "format", "missing"},
        {"\"format\":\"stroboscope-session\"", "\"format\":7", "format",
         "expected a string, got an integer"},
        {"\"version\":1", "\"version\":2", "version", "unsupported version 2"},
        {"\"version\":1", "\"version\":\"1\"", "version", "expected an integer, got a string"},
        {"\"version\":1", "\"version\":1.0", "version", "got a real number"},
        {"\"version\":1", "\"version\":-1", "version", "negative"},
        {"\"version\":1,", "\"version\":1,\"extra\":1,", "extra", "unknown key"},
        {"\"version\":1,", "\"version\":1,\"\\u001b[31m\":1,", "?[31m", "unknown key"},
        {",\"timeline\":{\"capacity\":4,\"stride\":1,\"samples\":2,"
         "\"times\":[0,5],\"nodes\":[1,2]}", "", "timeline", "missing"},
        {"\"version\":1,", "\"version\":1,\"version\":1,", "", "duplicate object key"},
        {"{\"start_time\":1.5,\"duration_ns\":10,\"cpu_ns\":5,\"sample_count\":2,"
         "\"interval_ns\":1000000,\"python_version\":\"3.11.7\",\"target\":null,"
         "\"mechanism\":\"signal\",\"errors\":[\"e1\"],\"library_prefixes\":"
         "[\"/usr/lib\"]}", "[]", "meta", "expected an object, got an array"},
        {"\"start_time\":1.5", "\"start_time\":\"now\"", "meta.start_time",
         "expected a number, got a string"},
        {"\"start_time\":1.5", "\"start_time\":-1.5", "meta.start_time", "negative"},
        {"\"start_time\":1.5", "\"start_time\":NaN", "", "invalid token"},
        {"\"start_time\":1.5", "\"start_time\":Infinity", "", "invalid token"},
        {"\"start_time\":1.5", "\"start_time\":1e999", "", "real number overflow"},
        {"\"duration_ns\":10", "\"duration_ns\":-10", "meta.duration_ns",
         "negative number -10"},
        {"\"duration_ns\":10", "\"duration_ns\":10.0", "meta.duration_ns", "real number"},
        {"\"duration_ns\":10", "\"duration_ns\":1e3", "meta.duration_ns", "real number"},
        {"\"duration_ns\":10", "\"duration_ns\":99999999999999999999", "",
         "too big integer"},
        {"\"duration_ns\":10,", "", "meta.duration_ns", "missing"},
        {"\"cpu_ns\":5", "\"cpu_ns\":null", "meta.cpu_ns", "expected an integer, got null"},
        {"\"sample_count\":2", "\"sample_count\":true", "meta.sample_count", "got true"},
        {"\"interval_ns\":1000000", "\"interval_ns\":[]", "meta.interval_ns", "got an array"},
        {"\"target\":null", "\"target\":\"a\\u0000b\"", "meta.target", "NUL"},
        {"\"target\":null", "\"target\":[\"hex\",\"610062\"]", "meta.target", "NUL"},
        {"\"target\":null", "\"target\":3", "meta.target", "expected a string or"},
        {"\"mechanism\":\"signal\"", "\"mechanism\":\"\\ud800\"", "", "invalid Unicode"},
        {"\"errors\":[\"e1\"]", "\"errors\":[\"e1\",\"e1\"]", "meta.errors[1]", "duplicate"},
        {"\"errors\":[\"e1\"]", "\"errors\":[1]", "meta.errors[0]", "expected a string"},
        {"\"errors\":[\"e1\"]", "\"errors\":{}", "meta.errors", "expected an array"},
        {"\"library_prefixes\":[\"/usr/lib\"]", "\"library_prefixes\":[[\"hex\"]]",
         "meta.library_prefixes[0]", "expected a string or"},
        {"\"library_prefixes\":[\"/usr/lib\"]},", "\"library_prefixes\":[],\"x\":0},",
         "meta.x", "unknown key"},
        {"[\"main\",\"app.py\",[\"hex\",\"ff00\"]]", "{}", "strings", "expected an array"},
        {"[\"hex\",\"ff00\"]", "[\"hex\",\"ff0\"]", "strings[2]", "odd number"},
        {"[\"hex\",\"ff00\"]", "[\"hex\",\"FF00\"]", "strings[2]", "lowercase hex digit at offset 0"},
        {"[\"hex\",\"ff00\"]", "[\"hex\",\"ff0g\"]", "strings[2]", "offset 3"},
        {"[\"hex\",\"ff00\"]", "[\"hexx\",\"ff00\"]", "strings[2]", "expected a string or"},
        {"[\"hex\",\"ff00\"]", "[\"hex\",\"ff00\",1]", "strings[2]", "expected a string or"},
        {"[\"hex\",\"ff00\"]", "null", "strings[2]", "got null"},
        {"\"frames\":[[0,1,1,0]", "\"frames\":[[0,7,1,0]", "frames[0][1]",
         "string 7 out of range (3 strings)"},
        {"\"frames\":[[0,1,1,0]", "\"frames\":[[-1,1,1,0]", "frames[0][0]", "negative"},
        {"\"frames\":[[0,1,1,0]", "\"frames\":[[0,1,2147483648,0]", "frames[0][2]",
         "too large"},
        {"\"frames\":[[0,1,1,0]", "\"frames\":[[0,1,-2147483649,0]", "frames[0][2]",
         "is below"},
        {"[2,1,5,1]", "[2,1,5,3]", "frames[1][3]", "3 is too large (at most 2)"},
        {"[2,1,5,1]", "[2,1,5]", "frames[1]", "expected 4 entries"},
        {"[2,1,5,1]", "[0,1,1,0]", "frames[1]", "duplicate of frame 0"},
        {"[2,1,5,1]", "\"x\"", "frames[1]", "expected an array, got a string"},
        {"[[0,1,1,0],[2,1,5,1]]", "7", "frames", "expected an array"},
        {"[[null,null,0,0,0,0],[0,0,3,5,4,1],[1,1,7,5,1,1]]", "[]", "nodes", "empty"},
        {"[null,null,0,0,0,0]", "[0,null,0,0,0,0]", "nodes[0][0]", "node 0 is the root"},
        {"[null,null,0,0,0,0]", "[null,0,0,0,0,0]", "nodes[0][1]", "node 0 is the root"},
        {"[null,null,0,0,0,0]", "[null,null,4,0,0,0]", "nodes[0][2]", "root's line"},
        {"[0,0,3,5,4,1]", "[1,0,3,5,4,1]", "nodes[1][0]", "parent 1 is not an earlier node"},
        {"[1,1,7,5,1,1]", "[7,1,7,5,1,1]", "nodes[2][0]", "parent 7 is not an earlier node"},
        {"[1,1,7,5,1,1]", "[null,1,7,5,1,1]", "nodes[2][0]", "got null"},
        {"[0,0,3,5,4,1]", "[0,9,3,5,4,1]", "nodes[1][1]", "frame 9 out of range (2 frames)"},
        {"[0,0,3,5,4,1]", "[0,0,3,5,-4,1]", "nodes[1][4]", "negative"},
        {"[0,0,3,5,4,1]", "[0,0,3,5,4,1.0]", "nodes[1][5]", "real number"},
        {"[0,0,3,5,4,1]", "[0,0,3,9223372036854775808,4,1]", "", "too big integer"},
        {"[0,0,3,5,4,1]", "[0,0,3,5,4]", "nodes[1]", "expected 6 entries"},
        {"[0,0,3,5,4,1]", "[0,0,3,5,4,1,0]", "nodes[1]", "expected 6 entries"},
        {"[1,1,7,5,1,1]", "[0,0,7,5,1,1]", "nodes[2]", "duplicate of node 1"},
        {"\"capacity\":4", "\"capacity\":1", "timeline.capacity", "below 2"},
        {"\"capacity\":4", "\"capacity\":1099511627776", "timeline.capacity", "too large"},
        {"\"capacity\":4", "\"capacity\":1", "timeline.capacity", "below"},
        {"\"stride\":1", "\"stride\":3", "timeline.stride", "not a power of two"},
        {"\"stride\":1", "\"stride\":0", "timeline.stride", "not a power of two"},
        {"\"samples\":2", "\"samples\":1", "timeline.samples", "fewer samples"},
        {"\"times\":[0,5]", "\"times\":[5,0]", "timeline.times[1]", "before the previous"},
        {"\"times\":[0,5]", "\"times\":[0,-5]", "timeline.times[1]", "negative"},
        {"\"times\":[0,5]", "\"times\":[0]", "timeline.nodes", "2 entries, but 1 times"},
        {"\"times\":[0,5],\"nodes\":[1,2]", "\"times\":[0,5,6,7,8],\"nodes\":[1,2,1,1,1]",
         "timeline.times", "more than the capacity"},
        {"\"nodes\":[1,2]", "\"nodes\":[1,3]", "timeline.nodes[1]",
         "node 3 out of range (3 nodes)"},
        {"\"nodes\":[1,2]", "\"nodes\":[1,2],\"more\":0", "timeline.more", "unknown key"},
        {"{\"capacity\":4,\"stride\":1,\"samples\":2,\"times\":[0,5],\"nodes\":[1,2]}",
         "[]", "timeline", "expected an object"},
        {"\"nodes\":[1,2]}}", "\"nodes\":[1,2]}} x", "", "end of file expected"},
        {"\"nodes\":[1,2]}}", "\"nodes\":[1,2]}", "", "line 1, column"},
    };
    size_t i, n = strlen(base_doc);
    char *deep;
    strobe_session *s;

    /* the base document itself is fine */
    s = load(base_doc, n);
    CHECK(strobe_tree_count(s->tree) == 3 && s->timeline->count == 2);
    strobe_session_free(s);

    for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++)
        expect_edit(edits[i].from, edits[i].to, edits[i].field, edits[i].message);
    expect_error("", 0, "", "empty input");
    expect_error(NULL, 0, "", "empty input");
    expect_error("[]", 2, "", "expected an object, got an array");
    expect_error("{}", 2, "format", "missing");
    expect_error("null", 4, "", "'[' or '{' expected");
    expect_error("   ", 3, "", "expected near end of file (line 1, column");
    expect_error(pickle, sizeof(pickle) - 1, "", "unable to decode byte 0x80");
    expect_error("{\"format\"\0:1}", 13, "", "line 1, column");
    /* truncated anywhere */
    for (i = 1; i < n; i += 7)
        expect_error(base_doc, i, "", "(line 1, column ");
    /* jansson stops at depth 2048: a clean error, not a crash */
    deep = malloc(20000);
    CHECK(deep != NULL);
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    expect_error(deep, 20000, "", "maximum parsing depth reached");
    free(deep);
}

/* ---- merge -------------------------------------------------------------- */

static void sample_names(strobe_session *s, const char *const *names, size_t depth,
                         unsigned wall, unsigned cpu)
{
    uint32_t frames[8];
    size_t i;

    for (i = 0; i < depth; i++)
        frames[i] = test_frame(s, names[i], names[i][0] == 'l' ? "/lib/x.py" : "m.py",
                               (int)i + 1, PY);
    test_sample(s, frames, depth, wall, cpu);
}

static const char *const st1[] = {"main", "a", "b"};
static const char *const st2[] = {"main", "c"};
static const char *const st3[] = {"main", "a", "lib"};
static const char *const st4[] = {"main", "d", "e", "f"};
static const char *const st5[] = {"other"};

static strobe_session *session_a(void)
{
    strobe_session *s = strobe_session_new();

    CHECK(s != NULL);
    s->start_time = 2000.5;
    s->interval_ns = 1000000;
    CHECK(strobe_session_add_error(s, "shared") == 0);
    CHECK(strobe_session_add_error(s, "only a") == 0);
    CHECK(strobe_session_add_library_prefix(s, "/lib") == 0);
    sample_names(s, st1, 3, 10, 9);
    sample_names(s, st1, 3, 10, 9);
    sample_names(s, st2, 2, 5, 5);
    sample_names(s, st3, 3, 2, 2);
    return s;
}

/* B's samples; into an existing session, they are what a merge must give. */
static void add_b(strobe_session *s)
{
    CHECK(strobe_session_add_error(s, "shared") == 0);
    CHECK(strobe_session_add_error(s, "only b") == 0);
    CHECK(strobe_session_add_library_prefix(s, "/lib") == 0);
    CHECK(strobe_session_add_library_prefix(s, "/lib2") == 0);
    sample_names(s, st1, 3, 1, 1);
    sample_names(s, st4, 4, 7, 3);
    sample_names(s, st5, 1, 4, 4);
    sample_names(s, st3, 3, 3, 3);
}

static void test_merge(void)
{
    strobe_session *a = session_a(), *b = strobe_session_new(), *both = session_a();
    strobe_session *empty = strobe_session_new();
    char *r1, *r2;
    size_t nodes_a;

    CHECK(b != NULL && empty != NULL);
    b->start_time = 1000.25;
    CHECK(strobe_session_set_string(&b->target, "prog b") == 0);
    CHECK(strobe_session_set_string(&b->mechanism, "signal") == 0);
    add_b(b);
    add_b(both);
    nodes_a = strobe_tree_count(a->tree); /* root main a b c lib */
    CHECK(nodes_a == 6);
    CHECK(strobe_session_merge(a, b) == 0);
    /* + d e f other */
    CHECK(strobe_tree_count(a->tree) == nodes_a + 4);
    CHECK(strobe_tree_count(a->tree) == strobe_tree_count(both->tree));
    CHECK(a->sample_count == 8 && a->duration_ns == 42000000 && a->cpu_ns == 36000000);
    CHECK(a->start_time == 1000.25 && a->interval_ns == 1000000);
    CHECK(a->n_errors == 3 && strcmp(a->errors[2], "only b") == 0);
    CHECK(a->n_library_prefixes == 2);
    CHECK(strcmp(a->target, "prog b") == 0 && a->python_version == NULL);
    /* the same as having recorded all the samples in one session */
    both->start_time = 1000.25;
    CHECK(strobe_session_set_string(&both->target, "prog b") == 0);
    CHECK(strobe_session_set_string(&both->mechanism, "signal") == 0);
    r1 = render_all(a, NULL, 0);
    r2 = render_all(both, NULL, 0);
    CHECK(strcmp(r1, r2) == 0);
    strobe_free(r1);
    strobe_free(r2);

    /* into an empty session: a copy; then into itself: everything doubles */
    CHECK(strobe_session_merge(empty, a) == 0);
    r1 = render_all(a, NULL, 0);
    r2 = render_all(empty, NULL, 0);
    CHECK(strcmp(r1, r2) == 0);
    strobe_free(r1);
    strobe_free(r2);
    CHECK(strobe_session_merge(empty, empty) == 0);
    CHECK(strobe_tree_count(empty->tree) == strobe_tree_count(a->tree));
    CHECK(empty->sample_count == 16 && empty->duration_ns == 84000000);
    CHECK(strobe_tree_node(empty->tree, 3)->self_wall_ns ==
          2 * strobe_tree_node(a->tree, 3)->self_wall_ns);
    CHECK(empty->n_errors == 3);
    strobe_session_free(empty);
    strobe_session_free(both);

    /* timelines: concatenated, src after dst, nodes mapped */
    strobe_session_free(a);
    a = session_a();
    strobe_session_free(b);
    b = strobe_session_new();
    CHECK(b != NULL);
    add_b(b);
    a->timeline = strobe_timeline_new(8);
    b->timeline = strobe_timeline_new(8);
    CHECK(a->timeline != NULL && b->timeline != NULL);
    {
        uint32_t i;
        const strobe_timeline *tl;

        for (i = 0; i < 6; i++)
            CHECK(strobe_timeline_add(a->timeline, i * 5000000u, 3) == 0);
        for (i = 0; i < 4; i++)
            CHECK(strobe_timeline_add(b->timeline, i * 1000u, 2 + i) == 0);
        CHECK(strobe_session_merge(a, b) == 0);
        tl = a->timeline;
        /* 6 + 4 > 8: both thinned to stride 2 */
        CHECK(tl != NULL && tl->stride == 2 && tl->count == 5 && tl->samples == 10);
        CHECK(tl->times[2] == 20000000 && tl->nodes[2] == 3);
        /* b starts where a's 27 ms ended; b's node 2 ("a") is a's node 2,
         * b's node 4 ("d") is new in a */
        CHECK(tl->times[3] == 27000000 && tl->nodes[3] == 2);
        CHECK(tl->times[4] == 27002000);
        CHECK(strobe_tree_node(a->tree, tl->nodes[4])->frame ==
              strobe_tree_node(a->tree, 6)->frame);
        strobe_session_free(round_trip(a, NULL, 0));
    }
    /* only one side has a timeline: dropped */
    strobe_timeline_free(b->timeline);
    b->timeline = NULL;
    CHECK(strobe_session_merge(a, b) == 0 && a->timeline == NULL);
    strobe_session_free(a);
    strobe_session_free(b);
}

/* ---- timeline ----------------------------------------------------------- */

static void test_timeline(void)
{
    strobe_timeline *tl = strobe_timeline_new(1024);
    size_t memory, n, i, cap;
    uint64_t k, stride;

    CHECK(tl != NULL);
    memory = strobe_timeline_memory(tl);
    CHECK(memory >= 1024 * 12 && memory < 1024 * 12 + 256);
    for (k = 0; k < 1000000; k++) {
        CHECK(strobe_timeline_add(tl, k * 1000, (uint32_t)(k % 7)) == 0);
        CHECK(tl->count <= 1024);
    }
    CHECK(strobe_timeline_memory(tl) == memory);
    CHECK(tl->samples == 1000000);
    /* the smallest power of two with ceil(N / S) <= 1024 */
    CHECK(tl->stride == 1024 && tl->count == 977);
    for (i = 0; i < tl->count; i++) {
        CHECK(tl->times[i] == i * tl->stride * 1000);
        CHECK(tl->nodes[i] == i * tl->stride % 7);
    }
    /* the whole run is covered: the last entry within one stride of the end */
    CHECK(tl->times[tl->count - 1] + tl->stride * 1000 >= 999999 * 1000);
    strobe_timeline_free(tl);

    /* the rule, checked exhaustively on small timelines */
    for (cap = 2; cap <= 9; cap++) {
        tl = strobe_timeline_new(cap);
        CHECK(tl != NULL && tl->capacity == cap);
        for (n = 1; n <= 300; n++) {
            CHECK(strobe_timeline_add(tl, n - 1, 0) == 0);
            for (stride = 1; (n + stride - 1) / stride > cap; stride *= 2)
                ;
            CHECK(tl->stride == stride && tl->count == (n + stride - 1) / stride);
            for (i = 0; i < tl->count; i++)
                CHECK(tl->times[i] == i * stride);
        }
        strobe_timeline_free(tl);
    }
    tl = strobe_timeline_new(0);
    CHECK(tl != NULL && tl->capacity == STROBE_TIMELINE_DEFAULT_CAPACITY);
    strobe_timeline_free(tl);
}

int main(void)
{
    test_round_trip();
    test_deep();
    test_huge();
    test_malformed();
    test_merge();
    test_timeline();
    return 0;
}
