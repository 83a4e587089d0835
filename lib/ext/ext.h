/* Declarations shared by the files of the extension module. */
#ifndef STROBE_EXT_H
#define STROBE_EXT_H

#include "compat.h"
#include "session.h"

typedef struct strobe_modstate {
    PyObject *ProfilerError; /* stroboscope.ProfilerError */
    PyObject *SessionLoadError; /* args: (field, message) */
    PyTypeObject *SamplerType;
    PyTypeObject *SessionType;
} strobe_modstate;

extern PyModuleDef strobe_module_def;

/* Module state from a type created by PyType_FromModuleAndSpec. */
strobe_modstate *strobe_state_from_type(PyTypeObject *tp);

/* sessionobj.c: the Python face of a strobe_session. */
extern PyType_Spec strobe_session_spec;
/* Wraps s (steals it, frees it on failure). New reference or NULL. */
PyObject *strobe_session_wrap(strobe_modstate *st, strobe_session *s);
/* Borrowed session of a SessionData object, or NULL with TypeError. */
strobe_session *strobe_session_unwrap(strobe_modstate *st, PyObject *obj);

/* Module functions: new_session(), load_session(bytes). */
PyObject *strobe_new_session(PyObject *module, PyObject *unused);
PyObject *strobe_load_session(PyObject *module, PyObject *data);

/* sampler.c */
extern PyType_Spec strobe_sampler_spec;
/* Process set-up done once at module exec (fork handler). 0 / -1. */
int strobe_sampler_process_init(void);
/* Stops every running sampler: called at interpreter exit. */
PyObject *strobe_sampler_stop_all(PyObject *module, PyObject *unused);
PyObject *strobe_sampler_hooked_threads(PyObject *module, PyObject *unused);

#endif
