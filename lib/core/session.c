#include "session.h"

#include <string.h>

#include "alloc.h"

strobe_session *strobe_session_new(void)
{
    strobe_session *s = strobe_calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->frames = strobe_frames_new();
    s->tree = strobe_tree_new();
    if (s->frames == NULL || s->tree == NULL) {
        strobe_session_free(s);
        return NULL;
    }
    return s;
}

void strobe_session_free(strobe_session *s)
{
    size_t i;

    if (s == NULL)
        return;
    strobe_frames_free(s->frames);
    strobe_tree_free(s->tree);
    strobe_free(s->python_version);
    strobe_free(s->target);
    strobe_free(s->mechanism);
    for (i = 0; i < s->n_errors; i++)
        strobe_free(s->errors[i]);
    strobe_free(s->errors);
    strobe_free(s);
}

int strobe_session_set_string(char **field, const char *value)
{
    char *copy = NULL;

    if (value != NULL) {
        copy = strobe_memdup0(value, strlen(value));
        if (copy == NULL)
            return -1;
    }
    strobe_free(*field);
    *field = copy;
    return 0;
}

int strobe_session_add_error(strobe_session *s, const char *msg)
{
    char **grown, *copy;
    size_t i;

    for (i = 0; i < s->n_errors; i++)
        if (strcmp(s->errors[i], msg) == 0)
            return 0;
    copy = strobe_memdup0(msg, strlen(msg));
    if (copy == NULL)
        return -1;
    /* Errors are rare; growing one at a time keeps n_errors the capacity. */
    grown = strobe_realloc(s->errors, (s->n_errors + 1) * sizeof(char *));
    if (grown == NULL) {
        strobe_free(copy);
        return -1;
    }
    s->errors = grown;
    s->errors[s->n_errors++] = copy;
    return 0;
}
