/* stroboscope._core: module initialisation (multi-phase, PEP 489) and state. */
#include "ext.h"

strobe_modstate *
strobe_state_from_type(PyTypeObject *tp)
{
    /* Our types are not subclassable, so the defining module is tp's own. */
    return PyModule_GetState(PyType_GetModule(tp));
}

static int
core_exec(PyObject *m)
{
#ifdef STROBE_FREE_THREADED
    PyErr_SetString(PyExc_ImportError,
                    "stroboscope needs a CPython build with the GIL; this "
                    "free-threaded build is not supported yet");
    return -1;
#else
    strobe_modstate *st = PyModule_GetState(m);
    if (strobe_sampler_process_init() < 0) {
        PyErr_SetString(PyExc_ImportError, "pthread_atfork failed");
        return -1;
    }
    st->ProfilerError = PyErr_NewExceptionWithDoc(
        "stroboscope.ProfilerError",
        "Raised when the profiler is used out of order: start() while running, "
        "stop() when not running, or stop() from another thread.",
        PyExc_RuntimeError, NULL);
    if (st->ProfilerError == NULL || PyModule_AddObjectRef(m, "ProfilerError",
                                                          st->ProfilerError) < 0) {
        return -1;
    }
    st->SessionLoadError = PyErr_NewExceptionWithDoc(
        "stroboscope._core.SessionLoadError",
        "A session file failed validation; args are (field, message).",
        PyExc_ValueError, NULL);
    if (st->SessionLoadError == NULL ||
        PyModule_AddObjectRef(m, "SessionLoadError", st->SessionLoadError) < 0) {
        return -1;
    }
    st->SamplerType =
        (PyTypeObject *)PyType_FromModuleAndSpec(m, &strobe_sampler_spec, NULL);
    if (st->SamplerType == NULL ||
        PyModule_AddObjectRef(m, "Sampler", (PyObject *)st->SamplerType) < 0) {
        return -1;
    }
    st->SessionType =
        (PyTypeObject *)PyType_FromModuleAndSpec(m, &strobe_session_spec, NULL);
    if (st->SessionType == NULL ||
        PyModule_AddObjectRef(m, "SessionData", (PyObject *)st->SessionType) < 0) {
        return -1;
    }
    if (PyModule_AddStringConstant(m, "MECHANISM", STROBE_MECHANISM) < 0) {
        return -1;
    }
    return 0;
#endif
}

static int
core_traverse(PyObject *m, visitproc visit, void *arg)
{
    strobe_modstate *st = PyModule_GetState(m);
    Py_VISIT(st->ProfilerError);
    Py_VISIT(st->SessionLoadError);
    Py_VISIT(st->SamplerType);
    Py_VISIT(st->SessionType);
    return 0;
}

static int
core_clear(PyObject *m)
{
    strobe_modstate *st = PyModule_GetState(m);
    Py_CLEAR(st->ProfilerError);
    Py_CLEAR(st->SessionLoadError);
    Py_CLEAR(st->SamplerType);
    Py_CLEAR(st->SessionType);
    return 0;
}

static void
core_free(void *m)
{
    core_clear((PyObject *)m);
}

static PyMethodDef core_methods[] = {
    {"stop_all", strobe_sampler_stop_all, METH_NOARGS,
     "stop_all()\n--\n\nStop every running sampler (registered with atexit)."},
    {"hooked_threads", strobe_sampler_hooked_threads, METH_NOARGS,
     "hooked_threads()\n--\n\nThreads with the sampler's hook installed now "
     "(for tests; 0 on 3.12+, which samples without one)."},
    {"new_session", strobe_new_session, METH_NOARGS,
     "new_session()\n--\n\nAn empty SessionData, for importers."},
    {"load_session", strobe_load_session, METH_O,
     "load_session(data)\n--\n\nParse and validate a session file's bytes. "
     "Raises SessionLoadError(field, message)."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
    {0, NULL},
};

PyModuleDef strobe_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "stroboscope._core",
    .m_doc = "The C engine of stroboscope.",
    .m_size = sizeof(strobe_modstate),
    .m_methods = core_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC PyInit__core(void);

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&strobe_module_def);
}
