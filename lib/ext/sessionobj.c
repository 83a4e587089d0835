/* SessionData: the Python face of a strobe_session (metadata, frame table,
 * call tree) and its renderers. The Python package's Session wraps it. */
#include "ext.h"
#include "render.h"
#include "session_file.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    strobe_session *s;
} SessionData;

PyObject *
strobe_session_wrap(strobe_modstate *st, strobe_session *s)
{
    SessionData *obj = PyObject_GC_New(SessionData, st->SessionType);
    if (obj == NULL) {
        strobe_session_free(s);
        return NULL;
    }
    obj->s = s;
    PyObject_GC_Track(obj);
    return (PyObject *)obj;
}

strobe_session *
strobe_session_unwrap(strobe_modstate *st, PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, st->SessionType)) {
        PyErr_SetString(PyExc_TypeError, "expected a SessionData");
        return NULL;
    }
    return ((SessionData *)obj)->s;
}

static PyObject *
decode(const char *p, size_t n)
{
    /* surrogatepass: lone surrogates in names came in that way. */
    PyObject *r = PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "surrogatepass");
    if (r == NULL) {
        PyErr_Clear();
        r = PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "replace");
    }
    return r;
}

static PyObject *
optional_str(const char *p)
{
    if (p == NULL) {
        Py_RETURN_NONE;
    }
    return decode(p, strlen(p));
}

PyDoc_STRVAR(frames_doc, "frames()\n--\n\n"
                         "The frame table: a list of (name, file, first_line, kind) "
                         "tuples indexed by frame id; kind is 'python', 'c' or "
                         "'synthetic'.");

static PyObject *
SessionData_frames(SessionData *self, PyObject *Py_UNUSED(ignored))
{
    static const char *kinds[] = {"python", "c", "synthetic"};
    size_t n = strobe_frames_count(self->s->frames);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        strobe_frame f;
        if (strobe_frames_get(self->s->frames, (uint32_t)i, &f) < 0) {
            Py_DECREF(list);
            PyErr_SetString(PyExc_SystemError, "frame table is inconsistent");
            return NULL;
        }
        PyObject *t = Py_BuildValue("(NNis)", decode(f.name, f.name_len),
                                    decode(f.file, f.file_len), (int)f.first_line,
                                    kinds[f.kind < 3 ? f.kind : 2]);
        if (t == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

PyDoc_STRVAR(render_doc,
             "render(renderer, flags=b'', threshold=0.01, show_all=False, "
             "time='wall', unicode=True, color=False, collapse_recursion=True, "
             "options_json=None)\n--\n\n"
             "Render the session. renderer is 'text', 'json' or 'html'; flags holds one "
             "byte per frame id (1 library, 2 hide, 4 show, 8 a thread to keep: "
             "when any frame has it, only those threads are shown). For 'html', "
             "options_json is the page's view options (a JSON object) and only the "
             "library bit of flags is used: the page applies the rest itself.");

static PyObject *
SessionData_render(SessionData *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"renderer", "flags",   "threshold",
                             "show_all", "time",    "unicode",
                             "color",    "collapse_recursion",
                             "options_json", NULL};
    const char *renderer;
    Py_buffer flags = {0};
    double threshold = 0.01;
    int show_all = 0, unicode = 1, color = 0, collapse = 1;
    const char *time_mode = "wall";
    const char *options_json = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|y*dpspppz:render", kwlist,
                                     &renderer, &flags, &threshold, &show_all,
                                     &time_mode, &unicode, &color, &collapse,
                                     &options_json)) {
        return NULL;
    }
    PyObject *result = NULL;
    strobe_buf out;
    strobe_buf_init(&out);
    strobe_view_options vopt = {
        .frame_flags = flags.buf,
        .n_flags = flags.buf ? (size_t)flags.len : 0,
        .threshold = threshold,
        .show_all = show_all,
        .collapse_recursion = collapse,
    };
    for (Py_ssize_t i = 0; flags.buf != NULL && i < flags.len; i++) {
        if (((const uint8_t *)flags.buf)[i] & STROBE_FLAG_FOCUS) {
            vopt.focus = 1; /* some thread was picked: show only those */
            break;
        }
    }
    if (!(threshold >= 0.0 && threshold <= 1.0)) {
        PyErr_SetString(PyExc_ValueError, "threshold must be between 0 and 1");
        goto done;
    }
    if (strcmp(time_mode, "wall") == 0) {
        vopt.time_mode = STROBE_TIME_WALL;
    } else if (strcmp(time_mode, "cpu") == 0) {
        vopt.time_mode = STROBE_TIME_CPU;
    } else {
        PyErr_SetString(PyExc_ValueError, "time must be 'wall' or 'cpu'");
        goto done;
    }
    int rc;
    if (strcmp(renderer, "text") == 0) {
        strobe_text_options topt = {.unicode = unicode, .color = color};
        rc = strobe_render_text(self->s, &vopt, &topt, &out);
    } else if (strcmp(renderer, "json") == 0) {
        rc = strobe_render_json(self->s, &vopt, &out);
    } else if (strcmp(renderer, "html") == 0) {
        strobe_html_options hopt = {.library = vopt.frame_flags,
                                    .n_library = vopt.n_flags,
                                    .options_json = options_json};
        rc = strobe_render_html(self->s, &hopt, &out);
    } else {
        PyErr_Format(PyExc_ValueError, "unknown renderer %R", PyTuple_GET_ITEM(args, 0));
        goto done;
    }
    if (rc < 0 || out.failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyUnicode_DecodeUTF8(out.data ? out.data : "", (Py_ssize_t)out.len,
                                  "replace");
done:
    strobe_buf_free(&out);
    if (flags.obj != NULL) {
        PyBuffer_Release(&flags);
    }
    return result;
}

PyDoc_STRVAR(add_error_doc, "add_error(message)\n--\n\n"
                            "Record something that went wrong during the run.");

static PyObject *
SessionData_add_error(SessionData *self, PyObject *msg)
{
    const char *m = PyUnicode_AsUTF8(msg);
    if (m == NULL) {
        return NULL;
    }
    if (strobe_session_add_error(self->s, m) < 0) {
        return PyErr_NoMemory();
    }
    Py_RETURN_NONE;
}

static PyObject *
get_start_time(SessionData *self, void *c)
{
    return PyFloat_FromDouble(self->s->start_time);
}

static PyObject *
get_duration(SessionData *self, void *c)
{
    return PyFloat_FromDouble((double)self->s->duration_ns / 1e9);
}

static PyObject *
get_cpu_time(SessionData *self, void *c)
{
    return PyFloat_FromDouble((double)self->s->cpu_ns / 1e9);
}

static PyObject *
get_sample_count(SessionData *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->s->sample_count);
}

static PyObject *
get_interval(SessionData *self, void *c)
{
    return PyFloat_FromDouble((double)self->s->interval_ns / 1e9);
}

static PyObject *
get_python_version(SessionData *self, void *c)
{
    return optional_str(self->s->python_version);
}

static PyObject *
get_mechanism(SessionData *self, void *c)
{
    return optional_str(self->s->mechanism);
}

static PyObject *
get_target(SessionData *self, void *c)
{
    return optional_str(self->s->target);
}

static int
set_target(SessionData *self, PyObject *value, void *c)
{
    const char *v = NULL;
    if (value != NULL && value != Py_None) {
        PyObject *b = PyUnicode_Check(value)
                          ? PyUnicode_AsEncodedString(value, "utf-8", "surrogatepass")
                          : NULL;
        if (b == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "target must be a str");
            }
            return -1;
        }
        /* A target may hold NUL (argv cannot, but a description could):
         * keep what precedes it. */
        v = PyBytes_AS_STRING(b);
        int rc = strobe_session_set_string(&self->s->target, v);
        Py_DECREF(b);
        if (rc < 0) {
            PyErr_NoMemory();
            return -1;
        }
        return 0;
    }
    return strobe_session_set_string(&self->s->target, NULL);
}

static PyObject *
get_errors(SessionData *self, void *c)
{
    PyObject *list = PyList_New((Py_ssize_t)self->s->n_errors);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < self->s->n_errors; i++) {
        PyObject *e = optional_str(self->s->errors[i]);
        if (e == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, e);
    }
    return list;
}

static PyObject *
get_node_count(SessionData *self, void *c)
{
    return PyLong_FromSize_t(strobe_tree_count(self->s->tree));
}

static PyObject *
get_tree_memory(SessionData *self, void *c)
{
    return PyLong_FromSize_t(strobe_tree_memory(self->s->tree));
}

PyDoc_STRVAR(to_bytes_doc, "to_bytes()\n--\n\n"
                           "The session file's bytes (docs/session-format.md).");

static PyObject *
SessionData_to_bytes(SessionData *self, PyObject *Py_UNUSED(ignored))
{
    strobe_buf out;
    strobe_buf_init(&out);
    if (strobe_session_save(self->s, &out) < 0 || out.failed) {
        strobe_buf_free(&out);
        PyErr_SetString(PyExc_ValueError,
                        "the session cannot be saved (out of memory, or a "
                        "value the format cannot hold)");
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize(out.data ? out.data : "",
                                            (Py_ssize_t)out.len);
    strobe_buf_free(&out);
    return b;
}

PyDoc_STRVAR(merge_doc, "merge(other)\n--\n\n"
                        "Add another session's samples and time into this one.");

static PyObject *
SessionData_merge(SessionData *self, PyObject *other)
{
    strobe_modstate *st = strobe_state_from_type(Py_TYPE(self));
    strobe_session *src = strobe_session_unwrap(st, other);
    if (src == NULL) {
        return NULL;
    }
    if (strobe_session_merge(self->s, src) < 0) {
        return PyErr_NoMemory();
    }
    Py_RETURN_NONE;
}

/* One (name, file, first_line, kind, line) tuple to an interned frame. */
static int
frame_from_tuple(strobe_session *s, PyObject *t, uint32_t *id, int32_t *line)
{
    PyObject *name, *file;
    int first_line, kind, cur_line;
    if (!PyArg_ParseTuple(t, "UUiii;a frame is (name, file, first_line, kind, line)",
                          &name, &file, &first_line, &kind, &cur_line)) {
        return -1;
    }
    if (kind < 0 || kind > 2) {
        PyErr_SetString(PyExc_ValueError, "frame kind must be 0, 1 or 2");
        return -1;
    }
    PyObject *nb = PyUnicode_AsEncodedString(name, "utf-8", "surrogatepass");
    PyObject *fb = nb ? PyUnicode_AsEncodedString(file, "utf-8", "surrogatepass") : NULL;
    int rc = -1;
    if (fb != NULL) {
        rc = strobe_frames_intern(s->frames, PyBytes_AS_STRING(nb),
                                  (size_t)PyBytes_GET_SIZE(nb), PyBytes_AS_STRING(fb),
                                  (size_t)PyBytes_GET_SIZE(fb), first_line,
                                  (uint8_t)kind, id);
        if (rc < 0) {
            PyErr_NoMemory();
        }
    }
    Py_XDECREF(nb);
    Py_XDECREF(fb);
    *line = cur_line;
    return rc;
}

PyDoc_STRVAR(add_stack_doc,
             "add_stack(frames, wall_ns, cpu_ns, samples=1)\n--\n\n"
             "Fold one stack (root first; each frame a (name, file, first_line, "
             "kind, line) tuple) into the tree, for importers and tests.");

static PyObject *
SessionData_add_stack(SessionData *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"frames", "wall_ns", "cpu_ns", "samples", NULL};
    PyObject *frames;
    unsigned long long wall, cpu, samples = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OKK|K:add_stack", kwlist, &frames,
                                     &wall, &cpu, &samples)) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(frames, "frames must be a sequence");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint32_t parent = STROBE_ROOT_NODE;
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t id;
        int32_t line;
        if (frame_from_tuple(self->s, PySequence_Fast_GET_ITEM(seq, i), &id, &line) < 0) {
            goto done;
        }
        if (strobe_tree_child(self->s->tree, parent, id, line, &parent) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    if (strobe_tree_add_counts(self->s->tree, parent, wall, cpu, samples) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    self->s->sample_count += samples;
    result = Py_NewRef(Py_None);
done:
    Py_DECREF(seq);
    return result;
}

PyDoc_STRVAR(set_meta_doc,
             "set_meta(*, start_time, duration, cpu_time, sample_count, interval, "
             "python_version, target, mechanism)\n--\n\n"
             "Set any of the session's metadata (times in seconds).");

static int
seconds_to_ns(PyObject *v, uint64_t *out)
{
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    if (!(d >= 0.0 && d < 9.2e9)) {
        PyErr_SetString(PyExc_ValueError, "a duration must be between 0 and 9.2e9 s");
        return -1;
    }
    *out = (uint64_t)(d * 1e9 + 0.5);
    return 0;
}

static PyObject *
SessionData_set_meta(SessionData *self, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "set_meta() takes keyword arguments only");
        return NULL;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    strobe_session *s = self->s;
    while (kwds != NULL && PyDict_Next(kwds, &pos, &key, &value)) {
        const char *k = PyUnicode_AsUTF8(key);
        if (k == NULL) {
            return NULL;
        }
        char **str_field = strcmp(k, "python_version") == 0 ? &s->python_version
                           : strcmp(k, "target") == 0        ? &s->target
                           : strcmp(k, "mechanism") == 0     ? &s->mechanism
                                                             : NULL;
        if (str_field != NULL) {
            const char *v = value == Py_None ? NULL : PyUnicode_AsUTF8(value);
            if (value != Py_None && v == NULL) {
                return NULL;
            }
            if (strobe_session_set_string(str_field, v) < 0) {
                return PyErr_NoMemory();
            }
        } else if (strcmp(k, "start_time") == 0) {
            double d = PyFloat_AsDouble(value);
            if (d == -1.0 && PyErr_Occurred()) {
                return NULL;
            }
            if (!(d >= 0.0 && d < 1e12)) {
                PyErr_SetString(PyExc_ValueError, "start_time out of range");
                return NULL;
            }
            s->start_time = d;
        } else if (strcmp(k, "duration") == 0) {
            if (seconds_to_ns(value, &s->duration_ns) < 0) {
                return NULL;
            }
        } else if (strcmp(k, "cpu_time") == 0) {
            if (seconds_to_ns(value, &s->cpu_ns) < 0) {
                return NULL;
            }
        } else if (strcmp(k, "interval") == 0) {
            if (seconds_to_ns(value, &s->interval_ns) < 0) {
                return NULL;
            }
        } else if (strcmp(k, "sample_count") == 0) {
            unsigned long long n = PyLong_AsUnsignedLongLong(value);
            if (n == (unsigned long long)-1 && PyErr_Occurred()) {
                return NULL;
            }
            s->sample_count = n;
        } else {
            PyErr_Format(PyExc_TypeError, "set_meta() got an unexpected keyword %R", key);
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
get_library_prefixes(SessionData *self, void *c)
{
    PyObject *list = PyList_New((Py_ssize_t)self->s->n_library_prefixes);
    for (size_t i = 0; list != NULL && i < self->s->n_library_prefixes; i++) {
        PyObject *e = optional_str(self->s->library_prefixes[i]);
        if (e == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, e);
    }
    return list;
}

static int
set_library_prefixes(SessionData *self, PyObject *value, void *c)
{
    PyObject *seq = value ? PySequence_Fast(value, "library_prefixes must be a list") : NULL;
    if (seq == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "cannot delete library_prefixes");
        }
        return -1;
    }
    /* Replace the list: free the old one, then add each prefix. */
    for (size_t i = 0; i < self->s->n_library_prefixes; i++) {
        strobe_session_set_string(&self->s->library_prefixes[i], NULL);
    }
    self->s->n_library_prefixes = 0;
    int rc = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && rc == 0; i++) {
        const char *p = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
        if (p == NULL) {
            rc = -1;
        } else if (strobe_session_add_library_prefix(self->s, p) < 0) {
            PyErr_NoMemory();
            rc = -1;
        }
    }
    Py_DECREF(seq);
    return rc;
}

static PyObject *
get_timeline(SessionData *self, void *c)
{
    const strobe_timeline *tl = self->s->timeline;
    if (tl == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *list = PyList_New((Py_ssize_t)tl->count);
    for (size_t i = 0; list != NULL && i < tl->count; i++) {
        PyObject *t = Py_BuildValue("(dI)", (double)tl->times[i] / 1e9, tl->nodes[i]);
        if (t == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

static int
SessionData_traverse(SessionData *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void
SessionData_dealloc(SessionData *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    strobe_session_free(self->s);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef SessionData_methods[] = {
    {"frames", (PyCFunction)SessionData_frames, METH_NOARGS, frames_doc},
    {"render", (PyCFunction)(void (*)(void))SessionData_render,
     METH_VARARGS | METH_KEYWORDS, render_doc},
    {"add_error", (PyCFunction)SessionData_add_error, METH_O, add_error_doc},
    {"to_bytes", (PyCFunction)SessionData_to_bytes, METH_NOARGS, to_bytes_doc},
    {"merge", (PyCFunction)SessionData_merge, METH_O, merge_doc},
    {"add_stack", (PyCFunction)(void (*)(void))SessionData_add_stack,
     METH_VARARGS | METH_KEYWORDS, add_stack_doc},
    {"set_meta", (PyCFunction)(void (*)(void))SessionData_set_meta,
     METH_VARARGS | METH_KEYWORDS, set_meta_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef SessionData_getset[] = {
    {"start_time", (getter)get_start_time, NULL, "Start, seconds since the epoch.", NULL},
    {"duration", (getter)get_duration, NULL, "Wall time in seconds.", NULL},
    {"cpu_time", (getter)get_cpu_time, NULL, "CPU time in seconds.", NULL},
    {"sample_count", (getter)get_sample_count, NULL, "Number of samples.", NULL},
    {"interval", (getter)get_interval, NULL, "Requested interval in seconds.", NULL},
    {"python_version", (getter)get_python_version, NULL, "Python version.", NULL},
    {"mechanism", (getter)get_mechanism, NULL, "How sampling was re-armed.", NULL},
    {"target", (getter)get_target, (setter)set_target, "What was profiled.", NULL},
    {"errors", (getter)get_errors, NULL, "What went wrong while sampling.", NULL},
    {"node_count", (getter)get_node_count, NULL, "Call tree nodes.", NULL},
    {"tree_memory", (getter)get_tree_memory, NULL, "Bytes held by the call tree.", NULL},
    {"library_prefixes", (getter)get_library_prefixes, (setter)set_library_prefixes,
     "Path prefixes of library code when the session was recorded.", NULL},
    {"timeline", (getter)get_timeline, NULL,
     "(seconds since start, leaf node id) per recorded sample, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot SessionData_slots[] = {
    {Py_tp_doc, "A profiling session: metadata, frame table and call tree."},
    {Py_tp_dealloc, SessionData_dealloc},
    {Py_tp_traverse, SessionData_traverse},
    {Py_tp_methods, SessionData_methods},
    {Py_tp_getset, SessionData_getset},
    {0, NULL},
};

PyType_Spec strobe_session_spec = {
    .name = "stroboscope._core.SessionData",
    .basicsize = sizeof(SessionData),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = SessionData_slots,
};

PyObject *
strobe_new_session(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    strobe_modstate *st = PyModule_GetState(module);
    strobe_session *s = strobe_session_new();
    if (s == NULL) {
        return PyErr_NoMemory();
    }
    return strobe_session_wrap(st, s);
}

PyObject *
strobe_load_session(PyObject *module, PyObject *arg)
{
    strobe_modstate *st = PyModule_GetState(module);
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    strobe_session *s = NULL;
    strobe_load_error err = {{0}, {0}};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = strobe_session_load(data.buf, (size_t)data.len, &s, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (rc < 0) {
        PyObject *e = Py_BuildValue("(ss)", err.field, err.message);
        if (e != NULL) {
            PyErr_SetObject(st->SessionLoadError, e);
            Py_DECREF(e);
        }
        return NULL;
    }
    return strobe_session_wrap(st, s);
}
