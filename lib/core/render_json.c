#include <jansson.h>

#include "jsonbuf.h"
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "render.h"
#include "utf8.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static const char *const kind_names[] = {"python", "c", "synthetic"};

/* Dumps one value into out and drops it (steals v). */
static int dump(json_t *v, strobe_buf *out)
{
    return strobe_json_dump(v, DUMP_FLAGS, out);
}

/* jansson wants valid UTF-8: each byte that does not start a valid sequence
 * becomes U+FFFD. Sets *lossy when that happened. new reference */
static json_t *string_value(const char *s, size_t n, int *lossy)
{
    const unsigned char *p = (const unsigned char *)s;
    strobe_buf clean;
    json_t *v;
    size_t i = 0, run = 0;
    uint32_t cp;

    *lossy = 0;
    if (s == NULL)
        return json_null();
    strobe_buf_init(&clean);
    while (i < n) {
        size_t len = strobe_utf8_next(p + i, n - i, &cp);

        if (len > 0) {
            i += len;
            continue;
        }
        *lossy = 1;
        strobe_buf_append(&clean, s + run, i - run);
        strobe_buf_append(&clean, "\xef\xbf\xbd", 3);
        i++;
        run = i;
    }
    if (!*lossy)
        return json_stringn(s, n);
    strobe_buf_append(&clean, s + run, n - run);
    v = clean.failed ? NULL : json_stringn(clean.data, clean.len);
    strobe_buf_free(&clean);
    return v;
}

static json_t *cstring_value(const char *s)
{
    int lossy;

    return string_value(s, s ? strlen(s) : 0, &lossy);
}

/* Lowercase hex of the raw bytes. new reference */
static json_t *seconds(uint64_t ns)
{
    return json_real((double)ns / 1e9);
}

static json_t *count(uint64_t n)
{
    return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/* Sets a text field and, when its bytes were not valid UTF-8, the lossless
 * "<key>_hex" beside it. json_object_set_new steals even on failure. */
static int set_bytes(json_t *obj, const char *key, const char *hex_key,
                     const char *s, size_t n)
{
    int lossy;

    if (json_object_set_new(obj, key, string_value(s, n, &lossy)) < 0)
        return -1;
    if (lossy && json_object_set_new(obj, hex_key, strobe_json_hex(s, n)) < 0)
        return -1;
    return 0;
}

static json_t *meta_object(const strobe_session *s)
{
    json_t *meta = json_object(), *errors = json_array();
    size_t i;
    int bad = 0;

    if (meta == NULL || errors == NULL) {
        json_decref(meta);
        json_decref(errors);
        return NULL;
    }
    bad |= json_object_set_new(meta, "start_time", json_real(s->start_time));
    bad |= json_object_set_new(meta, "duration", seconds(s->duration_ns));
    bad |= json_object_set_new(meta, "cpu_time", seconds(s->cpu_ns));
    bad |= json_object_set_new(meta, "sample_count", count(s->sample_count));
    bad |= json_object_set_new(meta, "interval", seconds(s->interval_ns));
    bad |= json_object_set_new(meta, "python_version",
                               cstring_value(s->python_version));
    bad |= json_object_set_new(meta, "target", cstring_value(s->target));
    bad |= json_object_set_new(meta, "mechanism", cstring_value(s->mechanism));
    for (i = 0; i < s->n_errors; i++)
        bad |= json_array_append_new(errors, cstring_value(s->errors[i]));
    bad |= json_object_set_new(meta, "errors", errors);
    if (bad) {
        json_decref(meta);
        return NULL;
    }
    return meta;
}

static json_t *frame_object(const strobe_frame *f, int library)
{
    json_t *o = json_object();
    int bad = 0;

    if (o == NULL)
        return NULL;
    bad |= set_bytes(o, "name", "name_hex", f->name, f->name_len);
    bad |= set_bytes(o, "file", "file_hex", f->file, f->file_len);
    bad |= json_object_set_new(o, "line", json_integer(f->first_line));
    bad |= json_object_set_new(
        o, "kind",
        json_string(f->kind <= STROBE_FRAME_SYNTHETIC ? kind_names[f->kind]
                                                      : "python"));
    bad |= json_object_set_new(o, "library", json_boolean(library));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *node_object(const strobe_view *view, uint32_t id)
{
    const strobe_view_node *v = &view->nodes[id];
    json_t *o = json_object();
    int bad = 0;

    if (o == NULL)
        return NULL;
    bad |= json_object_set_new(o, "id", json_integer(id));
    bad |= json_object_set_new(o, "parent", id == 0 ? json_null()
                                                    : json_integer(v->parent));
    bad |= json_object_set_new(o, "frame", v->frame == STROBE_NO_FRAME
                                               ? json_null()
                                               : json_integer(v->frame));
    bad |= json_object_set_new(o, "line", json_integer(v->line));
    bad |= json_object_set_new(o, "total_wall", seconds(v->total_wall_ns));
    bad |= json_object_set_new(o, "self_wall", seconds(v->self_wall_ns));
    bad |= json_object_set_new(o, "total_cpu", seconds(v->total_cpu_ns));
    bad |= json_object_set_new(o, "self_cpu", seconds(v->self_cpu_ns));
    bad |= json_object_set_new(o, "samples", count(v->total_samples));
    if (v->hidden_count > 0) {
        const char *label = v->group_names < view->n_names
                                ? view->names[v->group_names]
                                : "";

        bad |= json_object_set_new(o, "hidden_count",
                                   json_integer(v->hidden_count));
        bad |= json_object_set_new(o, "label", cstring_value(label));
    }
    if (v->recursion > 1)
        bad |= json_object_set_new(o, "recursion", json_integer(v->recursion));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int strobe_render_json(const strobe_session *s, const strobe_view_options *vopt,
                       strobe_buf *out)
{
    strobe_view view;
    size_t i, n_frames = strobe_frames_count(s->frames);
    int rc = -1;

    if (strobe_view_build(s, vopt, &view) < 0) {
        out->failed = 1;
        return -1;
    }
    strobe_buf_puts(out, "{\"format\":\"stroboscope-tree\",\"version\":1,"
                         "\"meta\":");
    if (dump(meta_object(s), out) < 0)
        goto cleanup;
    strobe_buf_puts(out, ",\"frames\":[");
    for (i = 0; i < n_frames; i++) {
        strobe_frame f;
        int library = vopt->frame_flags != NULL && i < vopt->n_flags &&
                      (vopt->frame_flags[i] & STROBE_FLAG_LIBRARY);

        if (strobe_frames_get(s->frames, (uint32_t)i, &f) < 0)
            goto cleanup;
        if (i > 0)
            strobe_buf_puts(out, ",");
        if (dump(frame_object(&f, library), out) < 0)
            goto cleanup;
    }
    strobe_buf_puts(out, "],\"nodes\":[");
    for (i = 0; i < view.count; i++) {
        if (i > 0)
            strobe_buf_puts(out, ",");
        if (dump(node_object(&view, (uint32_t)i), out) < 0)
            goto cleanup;
    }
    strobe_buf_puts(out, "]}\n");
    if (!out->failed)
        rc = 0;
cleanup:
    if (rc < 0)
        out->failed = 1;
    strobe_view_free(&view);
    return rc;
}
