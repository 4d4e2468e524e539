/* Python lists from C arrays: the one writer the compiled judges' state() use (_art_state.c,
 * _mv_state.c, _seq_state.c). Each returns a new list, or NULL with the error set. */
#ifndef WATCHLAKE_PYLIST_H
#define WATCHLAKE_PYLIST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* floats of a[0 .. n), or of a ring of `ring` slots read from `head` (ring 0: a plain array) */
static inline PyObject *pylist_doubles(const double *a, Py_ssize_t n, Py_ssize_t head, Py_ssize_t ring) {
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *v = PyFloat_FromDouble(a[ring ? (head + i) % ring : i]);
        if (v == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, v);
    }
    return out;
}

/* ints of a[0 .. n) */
static inline PyObject *pylist_longs(const long *a, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *v = PyLong_FromLong(a[i]);
        if (v == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, v);
    }
    return out;
}

#endif
