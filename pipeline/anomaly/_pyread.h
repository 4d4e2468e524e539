/* Reading a Python state dict into C: the one reader the compiled judges' constructors use
 * (_art_state.c, _mv_state.c, _seq_state.c), with one message format. Every refusal is a ValueError
 * "<who>: <where><key> <what>", e.g. "sequence state: calib.hist has 63 values, expected 64" or
 * "MultiViewDetector state: model.daily_n = -1 is below 0". Numbers are ints or floats (a str or
 * None is refused), ints are ints. Each function returns 0 (or the object,
 * borrowed) on success, -1 (or NULL) with the error set. */
#ifndef WATCHLAKE_PYREAD_H
#define WATCHLAKE_PYREAD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *who;   /* "sequence state" */
    const char *where; /* "" or the nested dict's prefix, "calib." */
} PyRead;

static inline int pyread_bad(const PyRead *r, const char *key, const char *what) {
    PyErr_Format(PyExc_ValueError, "%s: %s%s %s", r->who, r->where, key, what);
    return -1;
}

/* d[key] */
static inline PyObject *pyread_item(const PyRead *r, PyObject *d, const char *key) {
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL)
        pyread_bad(r, key, "is missing");
    return v;
}

/* d[key], a dict */
static inline PyObject *pyread_dict(const PyRead *r, PyObject *d, const char *key) {
    PyObject *v = pyread_item(r, d, key);
    if (v != NULL && !PyDict_Check(v)) {
        pyread_bad(r, key, "must be a dict");
        return NULL;
    }
    return v;
}

/* every key of d is one of keys (NULL-terminated) */
static inline int pyread_known_keys(const PyRead *r, PyObject *d, const char *const *keys) {
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        int found = 0;
        for (const char *const *p = keys; *p != NULL && !found; p++)
            found = PyUnicode_Check(k) && PyUnicode_CompareWithASCIIString(k, *p) == 0;
        if (!found) {
            char in[64] = ""; /* " in calib" for where "calib." */
            size_t n = strlen(r->where);
            if (n > 1 && n < sizeof in - 4)
                snprintf(in, sizeof in, " in %.*s", (int)(n - 1), r->where);
            PyErr_Format(PyExc_ValueError, "%s: unknown key %R%s", r->who, k, in);
            return -1;
        }
    }
    return 0;
}

static inline int pyread_num_(const PyRead *r, PyObject *v, const char *key, double *out, const char *what) {
    if (!PyFloat_Check(v) && !PyLong_Check(v))
        return pyread_bad(r, key, what);
    *out = PyFloat_AsDouble(v);
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return pyread_bad(r, key, "must be a number within a float's range");
    }
    return 0;
}

/* v, an int or a float, as a double */
static inline int pyread_num(const PyRead *r, PyObject *v, const char *key, double *out) {
    return pyread_num_(r, v, key, out, "must be a number");
}

/* v, an int in lo … hi */
static inline int pyread_int(const PyRead *r, PyObject *v, const char *key, long lo, long hi, long *out,
                             const char *what) {
    if (!PyLong_Check(v))
        return pyread_bad(r, key, what);
    int overflow;
    *out = PyLong_AsLongAndOverflow(v, &overflow);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        PyErr_Format(PyExc_ValueError, "%s: %s%s = %R does not fit 64 bits", r->who, r->where, key, v);
        return -1;
    }
    if (*out < lo || *out > hi) {
        if (hi == LONG_MAX)
            PyErr_Format(PyExc_ValueError, "%s: %s%s = %R is below %ld", r->who, r->where, key, v, lo);
        else
            PyErr_Format(PyExc_ValueError, "%s: %s%s = %R is outside %ld to %ld", r->who, r->where, key, v,
                         lo, hi);
        return -1;
    }
    return 0;
}

static inline int pyread_bool(const PyRead *r, PyObject *v, const char *key, int *out) {
    if (!PyBool_Check(v))
        return pyread_bad(r, key, "must be a bool");
    *out = v == Py_True;
    return 0;
}

/* v, a list (or tuple) of lo … hi items */
static inline PyObject *pyread_list(const PyRead *r, PyObject *v, const char *key, Py_ssize_t lo, Py_ssize_t hi) {
    if (!PyList_Check(v) && !PyTuple_Check(v)) {
        pyread_bad(r, key, "must be a list");
        return NULL;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(v);
    if (len < lo || len > hi) {
        if (lo == hi)
            PyErr_Format(PyExc_ValueError, "%s: %s%s has %zd values, expected %zd", r->who, r->where, key,
                         len, lo);
        else
            PyErr_Format(PyExc_ValueError, "%s: %s%s has %zd values, expected %zd to %zd", r->who,
                         r->where, key, len, lo, hi);
        return NULL;
    }
    return v;
}

/* v, a list of lo … hi numbers, into dst; *n its length (n may be NULL) */
static inline int pyread_nums(const PyRead *r, PyObject *v, const char *key, Py_ssize_t lo, Py_ssize_t hi,
                              double *dst, long *n) {
    if (pyread_list(r, v, key, lo, hi) == NULL)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(v);
    PyObject **items = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t i = 0; i < len; i++)
        if (pyread_num_(r, items[i], key, dst + i, "must hold numbers"))
            return -1;
    if (n != NULL)
        *n = (long)len;
    return 0;
}

/* v, a list of lo … hi ints each in vlo … vhi, into dst; *n its length (n may be NULL) */
static inline int pyread_ints(const PyRead *r, PyObject *v, const char *key, Py_ssize_t lo, Py_ssize_t hi,
                              long vlo, long vhi, long *dst, long *n) {
    if (pyread_list(r, v, key, lo, hi) == NULL)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(v);
    PyObject **items = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t i = 0; i < len; i++)
        if (pyread_int(r, items[i], key, vlo, vhi, dst + i, "must hold ints"))
            return -1;
    if (n != NULL)
        *n = (long)len;
    return 0;
}

/* d[key] read by the functions above */
static inline int pyread_get_num(const PyRead *r, PyObject *d, const char *key, double *out) {
    PyObject *v = pyread_item(r, d, key);
    return v == NULL ? -1 : pyread_num(r, v, key, out);
}

static inline int pyread_get_int(const PyRead *r, PyObject *d, const char *key, long lo, long hi, long *out) {
    PyObject *v = pyread_item(r, d, key);
    return v == NULL ? -1 : pyread_int(r, v, key, lo, hi, out, "must be an int");
}

static inline int pyread_get_nums(const PyRead *r, PyObject *d, const char *key, Py_ssize_t lo, Py_ssize_t hi,
                                  double *dst, long *n) {
    PyObject *v = pyread_item(r, d, key);
    return v == NULL ? -1 : pyread_nums(r, v, key, lo, hi, dst, n);
}

static inline int pyread_get_ints(const PyRead *r, PyObject *d, const char *key, Py_ssize_t lo, Py_ssize_t hi,
                                  long vlo, long vhi, long *dst, long *n) {
    PyObject *v = pyread_item(r, d, key);
    return v == NULL ? -1 : pyread_ints(r, v, key, lo, hi, vlo, vhi, dst, n);
}

#endif
