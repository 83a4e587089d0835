#include "session_file.h"

#include <inttypes.h>
#include <jansson.h>

#include "jsonbuf.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"
#include "utf8.h"

/* jansson's default real precision (17 digits) reads back to the same double. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)
#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define MAX_KIND STROBE_FRAME_SYNTHETIC

/* ---- saving ------------------------------------------------------------ */

/* Dumps one value into out and drops it (steals v). */
static int dump(json_t *v, strobe_buf *out)
{
    return strobe_json_dump(v, DUMP_FLAGS, out);
}

static int is_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, len;
    uint32_t cp;

    while (i < n) {
        len = strobe_utf8_next(p + i, n - i, &cp);
        if (len == 0)
            return 0;
        i += len;
    }
    return 1;
}

/* Bytes as the file carries them: a JSON string when they are valid UTF-8,
 * else ["hex", "<lowercase hex>"]. new reference */
static json_t *bytes_value(const char *s, size_t n)
{
    json_t *arr;

    if (s == NULL)
        return json_null();
    if (is_utf8(s, n))
        return json_stringn(s, n);
    arr = json_array();
    /* json_array_append_new steals even on failure (and fails on NULL) */
    if (arr == NULL || json_array_append_new(arr, json_string("hex")) < 0 ||
        json_array_append_new(arr, strobe_json_hex(s, n)) < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *cbytes_value(const char *s)
{
    return bytes_value(s, s != NULL ? strlen(s) : 0);
}

static json_t *list_value(char *const *items, size_t n)
{
    json_t *arr = json_array();
    size_t i;

    if (arr == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (json_array_append_new(arr, cbytes_value(items[i])) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *meta_object(const strobe_session *s)
{
    json_t *meta = json_object();
    int bad = 0;

    if (meta == NULL)
        return NULL;
    /* json_object_set_new steals even on failure */
    bad |= json_object_set_new(meta, "start_time", json_real(s->start_time));
    bad |= json_object_set_new(meta, "duration_ns",
                               json_integer((json_int_t)s->duration_ns));
    bad |= json_object_set_new(meta, "cpu_ns", json_integer((json_int_t)s->cpu_ns));
    bad |= json_object_set_new(meta, "sample_count",
                               json_integer((json_int_t)s->sample_count));
    bad |= json_object_set_new(meta, "interval_ns",
                               json_integer((json_int_t)s->interval_ns));
    bad |= json_object_set_new(meta, "python_version",
                               cbytes_value(s->python_version));
    bad |= json_object_set_new(meta, "target", cbytes_value(s->target));
    bad |= json_object_set_new(meta, "mechanism", cbytes_value(s->mechanism));
    bad |= json_object_set_new(meta, "errors", list_value(s->errors, s->n_errors));
    bad |= json_object_set_new(meta, "library_prefixes",
                               list_value(s->library_prefixes,
                                          s->n_library_prefixes));
    if (bad) {
        json_decref(meta);
        return NULL;
    }
    return meta;
}

/* The string table: each distinct byte string once, in order of first use. */
typedef struct str_entry {
    const char *p;
    size_t len;
    uint64_t hash;
} str_entry;

typedef struct str_table {
    str_entry *items;
    size_t n;
    uint32_t *slots; /* index + 1; 0 is empty */
    size_t n_slots;  /* a power of two, at least twice n */
} str_table;

static int str_table_init(str_table *t, size_t max_items)
{
    size_t n = 16;

    t->n = 0;
    t->n_slots = 0;
    while (n / 2 < max_items) {
        if (n > SIZE_MAX / 2 / sizeof(uint32_t))
            return -1;
        n *= 2;
    }
    t->items = strobe_malloc(max_items * sizeof(str_entry));
    t->slots = strobe_calloc(n, sizeof(uint32_t));
    if (t->items == NULL || t->slots == NULL)
        return -1;
    t->n_slots = n;
    return 0;
}

static void str_table_free(str_table *t)
{
    strobe_free(t->items);
    strobe_free(t->slots);
}

/* Room was made for every string by str_table_init. */
static uint32_t str_table_add(str_table *t, const char *p, size_t len)
{
    uint64_t h = strobe_fnv1a(STROBE_FNV_OFFSET, p, len);
    size_t mask = t->n_slots - 1, pos = h & mask;
    uint32_t slot;

    while ((slot = t->slots[pos]) != 0) {
        const str_entry *e = &t->items[slot - 1];

        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->p, p, len) == 0))
            return slot - 1;
        pos = (pos + 1) & mask;
    }
    t->items[t->n].p = p;
    t->items[t->n].len = len;
    t->items[t->n].hash = h;
    t->slots[pos] = (uint32_t)(++t->n);
    return (uint32_t)(t->n - 1);
}

/* What the loader would refuse, the writer refuses too. */
static int savable(const strobe_session *s)
{
    const strobe_timeline *tl = s->timeline;
    size_t i, n = strobe_tree_count(s->tree);

    if (!isfinite(s->start_time) || s->start_time < 0 ||
        s->duration_ns > INT64_MAX || s->cpu_ns > INT64_MAX ||
        s->sample_count > INT64_MAX || s->interval_ns > INT64_MAX ||
        s->n_errors > STROBE_SESSION_MAX_LIST ||
        s->n_library_prefixes > STROBE_SESSION_MAX_LIST)
        return 0;
    for (i = 0; i < n; i++) {
        const strobe_node *node = strobe_tree_node(s->tree, (uint32_t)i);

        if (node->self_wall_ns > INT64_MAX || node->self_cpu_ns > INT64_MAX ||
            node->self_samples > INT64_MAX)
            return 0;
    }
    if (tl == NULL)
        return 1;
    if (tl->capacity < 2 || tl->capacity > STROBE_TIMELINE_MAX_CAPACITY ||
        tl->count > tl->capacity || tl->stride == 0 ||
        tl->stride > STROBE_TIMELINE_MAX_STRIDE ||
        (tl->stride & (tl->stride - 1)) != 0 || tl->samples > INT64_MAX ||
        tl->samples < tl->count)
        return 0;
    for (i = 0; i < tl->count; i++) {
        if (tl->times[i] > INT64_MAX || tl->nodes[i] >= n ||
            (i > 0 && tl->times[i] < tl->times[i - 1]))
            return 0;
    }
    return 1;
}

static void save_timeline(const strobe_timeline *tl, strobe_buf *out)
{
    size_t i;

    strobe_buf_printf(out,
                      "{\"capacity\":%zu,\"stride\":%" PRIu64
                      ",\"samples\":%" PRIu64 ",\"times\":[",
                      tl->capacity, tl->stride, tl->samples);
    for (i = 0; i < tl->count; i++)
        strobe_buf_printf(out, i > 0 ? ",%" PRIu64 : "%" PRIu64, tl->times[i]);
    strobe_buf_puts(out, "],\"nodes\":[");
    for (i = 0; i < tl->count; i++)
        strobe_buf_printf(out, i > 0 ? ",%" PRIu32 : "%" PRIu32, tl->nodes[i]);
    strobe_buf_puts(out, "]}");
}

int strobe_session_save(const strobe_session *s, strobe_buf *out)
{
    size_t n_frames = strobe_frames_count(s->frames);
    size_t n_nodes = strobe_tree_count(s->tree), i;
    str_table strings = {NULL, 0, NULL, 0};
    uint32_t *refs = NULL; /* name and file string ids of each frame */
    int rc = -1;

    if (!savable(s) || n_frames > SIZE_MAX / 2 / sizeof(uint32_t))
        goto cleanup;
    refs = strobe_malloc(2 * n_frames * sizeof(uint32_t));
    if (refs == NULL || str_table_init(&strings, 2 * n_frames) < 0)
        goto cleanup;
    for (i = 0; i < n_frames; i++) {
        strobe_frame f;

        if (strobe_frames_get(s->frames, (uint32_t)i, &f) < 0 || f.kind > MAX_KIND)
            goto cleanup;
        refs[2 * i] = str_table_add(&strings, f.name, f.name_len);
        refs[2 * i + 1] = str_table_add(&strings, f.file, f.file_len);
    }

    strobe_buf_puts(out, "{\"format\":\"" STROBE_SESSION_FORMAT "\",\"version\":");
    strobe_buf_printf(out, "%d,\"meta\":", STROBE_SESSION_VERSION);
    if (dump(meta_object(s), out) < 0)
        goto cleanup;
    strobe_buf_puts(out, ",\"strings\":[");
    for (i = 0; i < strings.n; i++) {
        if (i > 0)
            strobe_buf_puts(out, ",");
        if (dump(bytes_value(strings.items[i].p, strings.items[i].len), out) < 0)
            goto cleanup;
    }
    strobe_buf_puts(out, "],\"frames\":[");
    for (i = 0; i < n_frames; i++) {
        strobe_frame f;

        strobe_frames_get(s->frames, (uint32_t)i, &f);
        strobe_buf_printf(out, "%s[%" PRIu32 ",%" PRIu32 ",%" PRId32 ",%u]",
                          i > 0 ? "," : "", refs[2 * i], refs[2 * i + 1],
                          f.first_line, (unsigned)f.kind);
    }
    strobe_buf_puts(out, "],\"nodes\":[");
    for (i = 0; i < n_nodes; i++) {
        const strobe_node *n = strobe_tree_node(s->tree, (uint32_t)i);

        if (i == 0)
            strobe_buf_puts(out, "[null,null,");
        else
            strobe_buf_printf(out, ",[%" PRIu32 ",%" PRIu32 ",", n->parent,
                              n->frame);
        strobe_buf_printf(out, "%" PRId32 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]",
                          i == 0 ? 0 : n->line, n->self_wall_ns, n->self_cpu_ns,
                          n->self_samples);
    }
    strobe_buf_puts(out, "],\"timeline\":");
    if (s->timeline == NULL)
        strobe_buf_puts(out, "null");
    else
        save_timeline(s->timeline, out);
    strobe_buf_puts(out, "}\n");
    if (!out->failed)
        rc = 0;
cleanup:
    if (rc < 0)
        out->failed = 1;
    strobe_free(refs);
    str_table_free(&strings);
    return rc;
}

/* ---- loading ----------------------------------------------------------- */

/* Bytes of a string in the file; `owned` is set when they were decoded from
 * the hex form (then p == owned). */
typedef struct bytes {
    const char *p;
    size_t len;
    char *owned;
} bytes;

static void set_field(strobe_load_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_message(strobe_load_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_field(strobe_load_error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->field, sizeof(err->field), fmt, ap);
    va_end(ap);
}

static void set_message(strobe_load_error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

/* Keys from the file and jansson's quotes of the input may hold anything:
 * the error is printable ASCII (each other byte becomes '?'). */
static void make_printable(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return "null";
    }
}

/* The checkers below write err->message only; the caller, who knows where
 * it is, then names the field (paths are only formatted on failure). */

static int check_type(const json_t *v, json_type type, strobe_load_error *err)
{
    static const char *const names[] = {"an object", "an array", "a string",
                                        "an integer"};

    if (v == NULL) {
        set_message(err, "missing");
        return -1;
    }
    if (json_typeof(v) != type) {
        set_message(err, "expected %s, got %s",
                    type <= JSON_INTEGER ? names[type] : "?", type_name(v));
        return -1;
    }
    return 0;
}

static int check_int(const json_t *v, json_int_t min, json_int_t max,
                     json_int_t *out, strobe_load_error *err)
{
    json_int_t x;

    if (check_type(v, JSON_INTEGER, err) < 0)
        return -1;
    x = json_integer_value(v);
    if (x < min) {
        if (min == 0)
            set_message(err, "negative number %" JSON_INTEGER_FORMAT, x);
        else
            set_message(err, "%" JSON_INTEGER_FORMAT " is below %" JSON_INTEGER_FORMAT,
                        x, min);
        return -1;
    }
    if (x > max) {
        set_message(err, "%" JSON_INTEGER_FORMAT " is too large (at most %"
                         JSON_INTEGER_FORMAT ")", x, max);
        return -1;
    }
    *out = x;
    return 0;
}

static int check_u64(const json_t *v, uint64_t *out, strobe_load_error *err)
{
    json_int_t x;

    if (check_int(v, 0, INT64_MAX, &x, err) < 0)
        return -1;
    *out = (uint64_t)x;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A string of the file: "text" or ["hex", "<lowercase hex>"]. */
static int check_bytes(const json_t *v, bytes *out, strobe_load_error *err)
{
    const json_t *tag, *hex;
    const char *h;
    size_t n, i;

    out->owned = NULL;
    if (json_is_string(v)) {
        out->p = json_string_value(v);
        out->len = json_string_length(v);
        return 0;
    }
    tag = json_array_get(v, 0);
    hex = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(tag) ||
        strcmp(json_string_value(tag), "hex") != 0 ||
        json_string_length(tag) != 3 || !json_is_string(hex)) {
        set_message(err, "expected a string or [\"hex\", \"<hex digits>\"], got %s",
                    v == NULL ? "nothing" : type_name(v));
        return -1;
    }
    h = json_string_value(hex);
    n = json_string_length(hex);
    if (n % 2 != 0) {
        set_message(err, "odd number of hex digits");
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (hex_digit(h[i]) < 0) {
            set_message(err, "not a lowercase hex digit at offset %zu", i);
            return -1;
        }
    }
    out->owned = strobe_malloc(n / 2 + 1);
    if (out->owned == NULL) {
        set_message(err, "out of memory");
        return -1;
    }
    for (i = 0; i < n / 2; i++)
        out->owned[i] = (char)(hex_digit(h[2 * i]) << 4 | hex_digit(h[2 * i + 1]));
    out->owned[n / 2] = '\0';
    out->p = out->owned;
    out->len = n / 2;
    return 0;
}

/* A C string of the metadata: no NUL inside. *out is a new copy. */
static int check_cstring(const json_t *v, char **out, strobe_load_error *err)
{
    bytes b;

    *out = NULL;
    if (check_bytes(v, &b, err) < 0)
        return -1;
    if (memchr(b.p, '\0', b.len) != NULL)
        set_message(err, "contains a NUL byte");
    else if ((*out = strobe_memdup0(b.p, b.len)) == NULL)
        set_message(err, "out of memory");
    strobe_free(b.owned);
    return *out == NULL ? -1 : 0;
}

/* Every key of obj is one of `keys` (NULL-terminated), and each is there. */
static int check_keys(const json_t *obj, const char *const *keys,
                      const char *where, strobe_load_error *err)
{
    const char *key;
    const json_t *value;
    size_t i;

    json_object_foreach ((json_t *)obj, key, value) {
        for (i = 0; keys[i] != NULL; i++)
            if (strcmp(keys[i], key) == 0)
                break;
        if (keys[i] == NULL) {
            set_field(err, "%s%s", where, key);
            set_message(err, "unknown key");
            return -1;
        }
    }
    for (i = 0; keys[i] != NULL; i++) {
        if (json_object_get(obj, keys[i]) == NULL) {
            set_field(err, "%s%s", where, keys[i]);
            set_message(err, "missing");
            return -1;
        }
    }
    return 0;
}

static int load_list(strobe_session *s, const json_t *arr, const char *name,
                     int prefixes, strobe_load_error *err)
{
    size_t i, before;
    char *item = NULL;
    int rc;

    if (check_type(arr, JSON_ARRAY, err) < 0) {
        set_field(err, "meta.%s", name);
        return -1;
    }
    if (json_array_size(arr) > STROBE_SESSION_MAX_LIST) {
        set_field(err, "meta.%s", name);
        set_message(err, "%zu entries, more than the limit of %u",
                    json_array_size(arr), STROBE_SESSION_MAX_LIST);
        return -1;
    }
    for (i = 0; i < json_array_size(arr); i++) {
        if (check_cstring(json_array_get(arr, i), &item, err) < 0) {
            set_field(err, "meta.%s[%zu]", name, i);
            return -1;
        }
        before = prefixes ? s->n_library_prefixes : s->n_errors;
        rc = prefixes ? strobe_session_add_library_prefix(s, item)
                      : strobe_session_add_error(s, item);
        strobe_free(item);
        if (rc < 0) {
            set_message(err, "out of memory");
            return -1;
        }
        if ((prefixes ? s->n_library_prefixes : s->n_errors) == before) {
            set_field(err, "meta.%s[%zu]", name, i);
            set_message(err, "duplicate of an earlier entry");
            return -1;
        }
    }
    return 0;
}

static int load_meta(strobe_session *s, const json_t *meta, strobe_load_error *err)
{
    static const char *const keys[] = {
        "start_time", "duration_ns", "cpu_ns", "sample_count", "interval_ns",
        "python_version", "target", "mechanism", "errors", "library_prefixes",
        NULL};
    static const char *const string_keys[] = {"python_version", "target",
                                              "mechanism"};
    char **string_fields[3];
    const json_t *v;
    size_t i;

    string_fields[0] = &s->python_version;
    string_fields[1] = &s->target;
    string_fields[2] = &s->mechanism;
    if (check_type(meta, JSON_OBJECT, err) < 0) {
        set_field(err, "meta");
        return -1;
    }
    if (check_keys(meta, keys, "meta.", err) < 0)
        return -1;
    v = json_object_get(meta, "start_time");
    if (!json_is_number(v)) {
        set_field(err, "meta.start_time");
        set_message(err, "expected a number, got %s", type_name(v));
        return -1;
    }
    s->start_time = json_number_value(v);
    if (s->start_time < 0) { /* jansson never makes NaN or infinities */
        set_field(err, "meta.start_time");
        set_message(err, "negative number");
        return -1;
    }
    if (check_u64(json_object_get(meta, "duration_ns"), &s->duration_ns, err) < 0) {
        set_field(err, "meta.duration_ns");
        return -1;
    }
    if (check_u64(json_object_get(meta, "cpu_ns"), &s->cpu_ns, err) < 0) {
        set_field(err, "meta.cpu_ns");
        return -1;
    }
    if (check_u64(json_object_get(meta, "sample_count"), &s->sample_count, err) < 0) {
        set_field(err, "meta.sample_count");
        return -1;
    }
    if (check_u64(json_object_get(meta, "interval_ns"), &s->interval_ns, err) < 0) {
        set_field(err, "meta.interval_ns");
        return -1;
    }
    for (i = 0; i < 3; i++) {
        v = json_object_get(meta, string_keys[i]);
        if (!json_is_null(v) && check_cstring(v, string_fields[i], err) < 0) {
            set_field(err, "meta.%s", string_keys[i]);
            return -1;
        }
    }
    if (load_list(s, json_object_get(meta, "errors"), "errors", 0, err) < 0 ||
        load_list(s, json_object_get(meta, "library_prefixes"),
                  "library_prefixes", 1, err) < 0)
        return -1;
    return 0;
}

static int load_frames(strobe_session *s, const json_t *arr, const bytes *strings,
                       size_t n_strings, strobe_load_error *err)
{
    size_t i, n;

    if (check_type(arr, JSON_ARRAY, err) < 0) {
        set_field(err, "frames");
        return -1;
    }
    n = json_array_size(arr);
    for (i = 0; i < n; i++) {
        const json_t *row = json_array_get(arr, i);
        json_int_t v[4];
        uint32_t id;
        int j;

        if (check_type(row, JSON_ARRAY, err) == 0 && json_array_size(row) != 4)
            set_message(err, "expected 4 entries [name, file, first_line, kind], "
                             "got %zu", json_array_size(row));
        if (!json_is_array(row) || json_array_size(row) != 4) {
            set_field(err, "frames[%zu]", i);
            return -1;
        }
        for (j = 0; j < 4; j++) {
            json_int_t min = j == 2 ? INT32_MIN : 0;
            json_int_t max = j < 2 ? (json_int_t)n_strings - 1
                                   : j == 2 ? INT32_MAX : MAX_KIND;

            const json_t *x = json_array_get(row, (size_t)j);

            if (check_int(x, min, max, &v[j], err) < 0) {
                if (j < 2 && json_is_integer(x) && json_integer_value(x) >= 0)
                    set_message(err, "string %" JSON_INTEGER_FORMAT
                                     " out of range (%zu strings)",
                                json_integer_value(x), n_strings);
                set_field(err, "frames[%zu][%d]", i, j);
                return -1;
            }
        }
        if (strobe_frames_intern(s->frames, strings[v[0]].p, strings[v[0]].len,
                                 strings[v[1]].p, strings[v[1]].len,
                                 (int32_t)v[2], (uint8_t)v[3], &id) < 0) {
            set_message(err, "out of memory");
            return -1;
        }
        if (id != i) {
            set_field(err, "frames[%zu]", i);
            set_message(err, "duplicate of frame %" PRIu32, id);
            return -1;
        }
    }
    return 0;
}

static int load_nodes(strobe_session *s, const json_t *arr, strobe_load_error *err)
{
    size_t i, n, n_frames = strobe_frames_count(s->frames);

    if (check_type(arr, JSON_ARRAY, err) < 0) {
        set_field(err, "nodes");
        return -1;
    }
    n = json_array_size(arr);
    if (n == 0) {
        set_field(err, "nodes");
        set_message(err, "empty: node 0, the root, is required");
        return -1;
    }
    if (n > STROBE_NO_NODE - 1) {
        set_field(err, "nodes");
        set_message(err, "too many nodes");
        return -1;
    }
    for (i = 0; i < n; i++) {
        const json_t *row = json_array_get(arr, i);
        json_int_t v[3];
        uint64_t counts[3];
        uint32_t id = 0;
        int j;

        if (check_type(row, JSON_ARRAY, err) == 0 && json_array_size(row) != 6)
            set_message(err, "expected 6 entries [parent, frame, line, "
                             "self_wall_ns, self_cpu_ns, self_samples], got %zu",
                        json_array_size(row));
        if (!json_is_array(row) || json_array_size(row) != 6) {
            set_field(err, "nodes[%zu]", i);
            return -1;
        }
        for (j = 0; j < 2 && i == 0; j++) {
            if (!json_is_null(json_array_get(row, (size_t)j))) {
                set_field(err, "nodes[0][%d]", j);
                set_message(err, "node 0 is the root: expected null, got %s",
                            type_name(json_array_get(row, (size_t)j)));
                return -1;
            }
        }
        for (j = i == 0 ? 2 : 0; j < 3; j++) {
            const json_t *x = json_array_get(row, (size_t)j);
            json_int_t min = j == 2 ? INT32_MIN : 0;
            json_int_t max = j == 0 ? (json_int_t)i - 1
                             : j == 1 ? (json_int_t)n_frames - 1
                                      : i == 0 ? 0 : INT32_MAX;

            if (check_int(x, min, max, &v[j], err) < 0) {
                if (json_is_integer(x) && json_integer_value(x) >= 0) {
                    if (j == 0)
                        set_message(err, "parent %" JSON_INTEGER_FORMAT
                                         " is not an earlier node",
                                    json_integer_value(x));
                    else if (j == 1)
                        set_message(err, "frame %" JSON_INTEGER_FORMAT
                                         " out of range (%zu frames)",
                                    json_integer_value(x), n_frames);
                    else if (i == 0)
                        set_message(err, "the root's line must be 0");
                }
                set_field(err, "nodes[%zu][%d]", i, j);
                return -1;
            }
        }
        for (j = 0; j < 3; j++) {
            if (check_u64(json_array_get(row, (size_t)j + 3), &counts[j], err) < 0) {
                set_field(err, "nodes[%zu][%d]", i, j + 3);
                return -1;
            }
        }
        if (i > 0) {
            if (strobe_tree_child(s->tree, (uint32_t)v[0], (uint32_t)v[1],
                                  (int32_t)v[2], &id) < 0) {
                set_message(err, "out of memory");
                return -1;
            }
            if (id != i) {
                set_field(err, "nodes[%zu]", i);
                set_message(err, "duplicate of node %" PRIu32
                                 " (same parent and frame)", id);
                return -1;
            }
        }
        strobe_tree_add_counts(s->tree, id, counts[0], counts[1], counts[2]);
    }
    return 0;
}

static int load_timeline(strobe_session *s, const json_t *obj, strobe_load_error *err)
{
    static const char *const keys[] = {"capacity", "stride", "samples",
                                       "times", "nodes", NULL};
    const json_t *times, *nodes;
    strobe_timeline *tl;
    json_int_t capacity, node_max = (json_int_t)strobe_tree_count(s->tree) - 1;
    uint64_t stride, samples;
    size_t i, n;

    if (json_is_null(obj))
        return 0;
    if (check_type(obj, JSON_OBJECT, err) < 0) {
        set_field(err, "timeline");
        return -1;
    }
    if (check_keys(obj, keys, "timeline.", err) < 0)
        return -1;
    if (check_int(json_object_get(obj, "capacity"), 2,
                  STROBE_TIMELINE_MAX_CAPACITY, &capacity, err) < 0) {
        set_field(err, "timeline.capacity");
        return -1;
    }
    set_field(err, "timeline.stride");
    if (check_u64(json_object_get(obj, "stride"), &stride, err) < 0)
        return -1;
    if (stride == 0 || stride > STROBE_TIMELINE_MAX_STRIDE ||
        (stride & (stride - 1)) != 0) {
        set_message(err, "%" PRIu64 " is not a power of two up to 2^62", stride);
        return -1;
    }
    times = json_object_get(obj, "times");
    nodes = json_object_get(obj, "nodes");
    if (check_type(times, JSON_ARRAY, err) < 0) {
        set_field(err, "timeline.times");
        return -1;
    }
    if (check_type(nodes, JSON_ARRAY, err) < 0) {
        set_field(err, "timeline.nodes");
        return -1;
    }
    n = json_array_size(times);
    if (n > (size_t)capacity) {
        set_field(err, "timeline.times");
        set_message(err, "%zu entries, more than the capacity", n);
        return -1;
    }
    if (json_array_size(nodes) != n) {
        set_field(err, "timeline.nodes");
        set_message(err, "%zu entries, but %zu times", json_array_size(nodes), n);
        return -1;
    }
    set_field(err, "timeline.samples");
    if (check_u64(json_object_get(obj, "samples"), &samples, err) < 0)
        return -1;
    if (samples < n) {
        set_message(err, "fewer samples than entries (%zu)", n);
        return -1;
    }
    /* Only what the file holds is allocated, whatever the capacity says. */
    err->field[0] = '\0';
    tl = strobe_timeline_new_sized((size_t)capacity, n);
    if (tl == NULL) {
        set_message(err, "out of memory");
        return -1;
    }
    s->timeline = tl;
    tl->stride = stride;
    tl->samples = samples;
    for (i = 0; i < n; i++) {
        json_int_t node;

        if (check_u64(json_array_get(times, i), &tl->times[i], err) < 0) {
            set_field(err, "timeline.times[%zu]", i);
            return -1;
        }
        if (i > 0 && tl->times[i] < tl->times[i - 1]) {
            set_field(err, "timeline.times[%zu]", i);
            set_message(err, "%" PRIu64 " is before the previous time",
                        tl->times[i]);
            return -1;
        }
        if (check_int(json_array_get(nodes, i), 0, node_max, &node, err) < 0) {
            if (json_is_integer(json_array_get(nodes, i)) &&
                json_integer_value(json_array_get(nodes, i)) >= 0)
                set_message(err, "node %" JSON_INTEGER_FORMAT
                                 " out of range (%zu nodes)",
                            json_integer_value(json_array_get(nodes, i)),
                            strobe_tree_count(s->tree));
            set_field(err, "timeline.nodes[%zu]", i);
            return -1;
        }
        tl->nodes[i] = (uint32_t)node;
        tl->count++;
    }
    return 0;
}

static int load_document(strobe_session *s, const json_t *doc, strobe_load_error *err)
{
    static const char *const keys[] = {"format", "version", "meta", "strings",
                                       "frames", "nodes", "timeline", NULL};
    const json_t *v, *strings_arr;
    bytes *strings = NULL;
    size_t n_strings = 0, i;
    json_int_t version;
    int rc = -1;

    if (!json_is_object(doc)) {
        set_message(err, "expected an object, got %s", type_name(doc));
        return -1;
    }
    /* What the document is comes first: a file of some other kind should
     * say so, not complain about its keys. */
    v = json_object_get(doc, "format");
    set_field(err, "format");
    if (check_type(v, JSON_STRING, err) < 0)
        return -1;
    if (json_string_length(v) != strlen(STROBE_SESSION_FORMAT) ||
        strcmp(json_string_value(v), STROBE_SESSION_FORMAT) != 0) {
        set_message(err, "not a session file: expected \"%s\"",
                    STROBE_SESSION_FORMAT);
        return -1;
    }
    v = json_object_get(doc, "version");
    set_field(err, "version");
    if (check_int(v, 0, INT64_MAX, &version, err) < 0)
        return -1;
    if (version != STROBE_SESSION_VERSION) {
        set_message(err, "unsupported version %" JSON_INTEGER_FORMAT
                         " (this reader reads version %d)",
                    version, STROBE_SESSION_VERSION);
        return -1;
    }
    err->field[0] = '\0';
    if (check_keys(doc, keys, "", err) < 0 ||
        load_meta(s, json_object_get(doc, "meta"), err) < 0)
        return -1;

    strings_arr = json_object_get(doc, "strings");
    if (check_type(strings_arr, JSON_ARRAY, err) < 0) {
        set_field(err, "strings");
        return -1;
    }
    /* Sized by the parsed document, so by the input: no count in the file
     * can make this bigger than what jansson already holds. */
    strings = strobe_calloc(json_array_size(strings_arr), sizeof(bytes));
    if (strings == NULL) {
        set_message(err, "out of memory");
        return -1;
    }
    for (; n_strings < json_array_size(strings_arr); n_strings++) {
        if (check_bytes(json_array_get(strings_arr, n_strings), &strings[n_strings],
                        err) < 0) {
            set_field(err, "strings[%zu]", n_strings);
            goto cleanup;
        }
    }
    if (load_frames(s, json_object_get(doc, "frames"), strings, n_strings, err) < 0 ||
        load_nodes(s, json_object_get(doc, "nodes"), err) < 0 ||
        load_timeline(s, json_object_get(doc, "timeline"), err) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    for (i = 0; i < n_strings; i++)
        strobe_free(strings[i].owned);
    strobe_free(strings);
    return rc;
}

int strobe_session_load(const char *data, size_t len, strobe_session **out,
                        strobe_load_error *err)
{
    strobe_load_error scratch;
    strobe_session *s = NULL;
    json_error_t jerr;
    json_t *doc = NULL;
    int rc = -1;

    if (err == NULL)
        err = &scratch;
    err->field[0] = '\0';
    err->message[0] = '\0';
    *out = NULL;
    if (data == NULL || len == 0) {
        set_message(err, "empty input");
        goto cleanup;
    }
    if (len > STROBE_SESSION_MAX_BYTES) {
        set_message(err, "%zu bytes, more than the limit of %zu", len,
                    STROBE_SESSION_MAX_BYTES);
        goto cleanup;
    }
    doc = json_loadb(data, len, LOAD_FLAGS, &jerr);
    if (doc == NULL) {
        set_message(err, "%s (line %d, column %d)", jerr.text, jerr.line,
                    jerr.column);
        goto cleanup;
    }
    s = strobe_session_new();
    if (s == NULL) {
        set_message(err, "out of memory");
        goto cleanup;
    }
    if (load_document(s, doc, err) < 0)
        goto cleanup;
    *out = s;
    s = NULL;
    rc = 0;
cleanup:
    if (rc < 0) {
        if (err->message[0] == '\0')
            set_message(err, "invalid session file");
        make_printable(err->field);
        make_printable(err->message);
    }
    strobe_session_free(s);
    json_decref(doc);
    return rc;
}
