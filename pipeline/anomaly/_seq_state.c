/* The sequence judge's state in and out (native part of pipeline.anomaly.sequence; read _seq.c's
 * comment first): SeqCore(state) reads SequenceModel.state()'s dict -- the nested calib dict is
 * TailCalibrator.state() of one view -- and state() writes the same dict back (same keys in the same
 * order, ints as ints, lists of floats, lo and hi NaN before the grid is fixed). A state that does
 * not fit (a missing or unknown key, a value of the wrong type, a list of the wrong length, a
 * previous bin outside the grid) raises ValueError naming the key. */
#include "_seq.h"
#include "_pylist.h"
#include <limits.h>
#include <math.h>

static const char *const SEQ_KEYS[] = {"bins", "warmup", "decay", "window", "warm", "lo", "hi", "prev1",
                                       "prev2", "counts", "scale", "total", "recent", "seen",
                                       "report_after", "calib", NULL};
static const char *const CALIB_KEYS[] = {"n", "low", "n_views", "growth", "w", "hist", "total", "vmax", NULL};

void seq_free(SeqData *d) {
    PyMem_Free(d->warm);
    PyMem_Free(d->counts);
    PyMem_Free(d->scale);
    PyMem_Free(d->total);
    PyMem_Free(d->recent);
}

static int bad(const char *where, const char *key, const char *what) {
    PyErr_Format(PyExc_ValueError, "sequence state: %s%s %s", where, key, what);
    return -1;
}

/* every key of dict d is one of keys */
static int known_keys(PyObject *d, const char *where, const char *const *keys) {
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        int found = 0;
        for (const char *const *p = keys; *p != NULL && !found; p++)
            found = PyUnicode_Check(k) && PyUnicode_CompareWithASCIIString(k, *p) == 0;
        if (!found) {
            PyErr_Format(PyExc_ValueError, "sequence state: unknown key %R%s", k, *where ? " in calib" : "");
            return -1;
        }
    }
    return 0;
}

/* d[key], borrowed; NULL with ValueError naming the key */
static PyObject *field(PyObject *d, const char *where, const char *key) {
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL)
        bad(where, key, "is missing");
    return v;
}

static int get_int(PyObject *d, const char *where, const char *key, long lo, long hi, long *out) {
    PyObject *v = field(d, where, key);
    if (v == NULL)
        return -1;
    if (!PyLong_Check(v))
        return bad(where, key, "must be an int");
    int overflow;
    *out = PyLong_AsLongAndOverflow(v, &overflow);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (overflow || *out < lo || *out > hi) {
        PyErr_Format(PyExc_ValueError, "sequence state: %s%s = %R is outside %ld to %ld", where, key, v, lo, hi);
        return -1;
    }
    return 0;
}

/* a float (or an int) into *out */
static int as_num(PyObject *v, const char *where, const char *key, double *out) {
    if (!PyFloat_Check(v) && !PyLong_Check(v))
        return bad(where, key, "must hold numbers");
    *out = PyFloat_AsDouble(v);
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return bad(where, key, "holds a number out of range");
    }
    return 0;
}

static int get_num(PyObject *d, const char *where, const char *key, double *out) {
    PyObject *v = field(d, where, key);
    return v == NULL ? -1 : as_num(v, where, key, out);
}

/* list (or tuple) v of lo … hi numbers into dst; *n its length (may be NULL when lo == hi) */
static int as_nums(PyObject *v, const char *where, const char *key, long lo, long hi, double *dst, long *n) {
    if (!PyList_Check(v) && !PyTuple_Check(v))
        return bad(where, key, "must be a list");
    Py_ssize_t len = PySequence_Fast_GET_SIZE(v);
    if (len < lo || len > hi) {
        if (lo == hi)
            PyErr_Format(PyExc_ValueError, "sequence state: %s%s has %zd values, expected %ld", where, key, len, lo);
        else
            PyErr_Format(PyExc_ValueError, "sequence state: %s%s has %zd values, expected %ld to %ld", where,
                         key, len, lo, hi);
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t i = 0; i < len; i++)
        if (as_num(items[i], where, key, dst + i) < 0)
            return -1;
    if (n != NULL)
        *n = (long)len;
    return 0;
}

static int get_nums(PyObject *d, const char *where, const char *key, long lo, long hi, double *dst, long *n) {
    PyObject *v = field(d, where, key);
    return v == NULL ? -1 : as_nums(v, where, key, lo, hi, dst, n);
}

static double *alloc(long n) {
    double *a = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(double));
    if (a == NULL)
        PyErr_NoMemory();
    return a;
}

/* the arrays of a model of d->bins, d->warmup and d->window (warm only when the grid is not fixed) */
static int alloc_arrays(SeqData *d) {
    long nb = d->bins;
    if (!(d->counts = alloc(nb * nb * nb)) || !(d->scale = alloc(nb * nb)) || !(d->total = alloc(nb * nb)) ||
        !(d->recent = alloc(d->window)))
        return -1;
    if (d->lo != d->lo && !(d->warm = alloc(d->warmup > 1 ? d->warmup : 1)))
        return -1;
    return 0;
}

static int check_settings(long bins, long warmup, long window) {
    if (bins < 3 || bins > SEQ_MAX_BINS || warmup < 0 || warmup > SEQ_MAX_WARMUP || window < 1 ||
        window > SEQ_MAX_WINDOW) {
        PyErr_Format(PyExc_ValueError, "SeqCore: bins must be 3 to %d, warmup 0 to %ld, window 1 to %ld",
                     SEQ_MAX_BINS, SEQ_MAX_WARMUP, SEQ_MAX_WINDOW);
        return -1;
    }
    return 0;
}

int seq_fresh(SeqData *d, long bins, long warmup, double decay, long window, double halflife,
              long report_after) {
    if (check_settings(bins, warmup, window) < 0)
        return -1;
    if (halflife == 0.0) { /* 2.0 ** (1.0 / halflife), as the Python fails */
        PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
        return -1;
    }
    d->growth = pow(2.0, 1.0 / halflife);
    if (isinf(d->growth)) {
        PyErr_SetString(PyExc_OverflowError, "(34, 'Numerical result out of range')");
        return -1;
    }
    d->bins = bins, d->warmup = warmup, d->decay = decay, d->window = window;
    d->report_after = report_after;
    d->lo = d->hi = NAN;
    d->prev1 = d->prev2 = -1;
    if (alloc_arrays(d) < 0)
        return -1;
    for (long i = 0; i < bins * bins; i++)
        d->scale[i] = 1.0;
    d->w = 1.0; /* the rest of the calibrator is zero */
    return 0;
}

static int calib_from_state(SeqData *d, PyObject *c) {
    const char *at = "calib.";
    long n_views;
    if (!PyDict_Check(c))
        return bad("", "calib", "must be a dict");
    if (known_keys(c, at, CALIB_KEYS) < 0 || get_int(c, at, "n_views", 1, 1, &n_views) < 0 ||
        get_int(c, at, "n", 0, LONG_MAX - 1, &d->n) < 0 || get_num(c, at, "growth", &d->growth) < 0 ||
        get_num(c, at, "w", &d->w) < 0 || get_num(c, at, "total", &d->ctotal) < 0 ||
        get_nums(c, at, "vmax", 1, 1, &d->vmax, NULL) < 0)
        return -1;
    PyObject *low = field(c, at, "low"), *hist = field(c, at, "hist");
    if (low == NULL || hist == NULL)
        return -1;
    if (!PyList_Check(low) && !PyTuple_Check(low))
        return bad(at, "low", "must be a list");
    if (PySequence_Fast_GET_SIZE(low) != 1)
        return bad(at, "low", "must hold one bin");
    PyObject *l0 = PySequence_Fast_GET_ITEM(low, 0);
    d->low = PyLong_Check(l0) ? PyLong_AsLong(l0) : -1;
    if (d->low < 0 || d->low >= SEQ_HBINS) {
        PyErr_Clear();
        return bad(at, "low", "must hold one int bin, 0 to 63");
    }
    if (!PyList_Check(hist) && !PyTuple_Check(hist))
        return bad(at, "hist", "must be a list");
    if (PySequence_Fast_GET_SIZE(hist) != 1)
        return bad(at, "hist", "must hold one histogram");
    return as_nums(PySequence_Fast_GET_ITEM(hist, 0), at, "hist", SEQ_HBINS, SEQ_HBINS, d->hist, NULL);
}

int seq_from_state(SeqData *d, PyObject *s) {
    const char *at = "";
    if (known_keys(s, at, SEQ_KEYS) < 0 || get_int(s, at, "bins", 3, SEQ_MAX_BINS, &d->bins) < 0 ||
        get_int(s, at, "warmup", 0, SEQ_MAX_WARMUP, &d->warmup) < 0 ||
        get_int(s, at, "window", 1, SEQ_MAX_WINDOW, &d->window) < 0 ||
        get_int(s, at, "report_after", LONG_MIN, LONG_MAX, &d->report_after) < 0 ||
        get_int(s, at, "seen", 0, LONG_MAX - 1, &d->seen) < 0 ||
        get_int(s, at, "prev1", -1, d->bins - 1, &d->prev1) < 0 ||
        get_int(s, at, "prev2", -1, d->bins - 1, &d->prev2) < 0 || get_num(s, at, "decay", &d->decay) < 0 ||
        get_num(s, at, "lo", &d->lo) < 0 || get_num(s, at, "hi", &d->hi) < 0)
        return -1;
    if (d->prev2 >= 0 && d->prev1 < 0)
        return bad(at, "prev1", "is -1 (no value) while prev2 is a bin");
    if (alloc_arrays(d) < 0)
        return -1;
    long nb = d->bins, max_warm = d->warmup > 1 ? d->warmup - 1 : 0;
    int fixed = d->lo == d->lo;
    if (get_nums(s, at, "counts", nb * nb * nb, nb * nb * nb, d->counts, NULL) < 0 ||
        get_nums(s, at, "scale", nb * nb, nb * nb, d->scale, NULL) < 0 ||
        get_nums(s, at, "total", nb * nb, nb * nb, d->total, NULL) < 0 ||
        get_nums(s, at, "recent", 0, d->window, d->recent, &d->n_rec) < 0)
        return -1;
    PyObject *warm = field(s, at, "warm");
    if (warm == NULL)
        return -1;
    if (fixed && (PyList_Check(warm) || PyTuple_Check(warm)) && PySequence_Fast_GET_SIZE(warm) != 0)
        return bad(at, "warm", "must be empty once the grid is fixed (lo is a number)");
    double none;
    if (as_nums(warm, at, "warm", 0, fixed ? 0 : max_warm, fixed ? &none : d->warm, &d->n_warm) < 0)
        return -1;
    d->rec_head = 0;
    PyObject *c = field(s, at, "calib");
    return c == NULL ? -1 : calib_from_state(d, c);
}

/* d[key] = v, v stolen; -1 when v is NULL or the dict refuses it */
static int put(PyObject *d, const char *key, PyObject *v) {
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *calib_state(const SeqData *d) {
    PyObject *c = PyDict_New(), *low = NULL, *hist = NULL;
    if (c == NULL)
        return NULL;
    if ((low = PyList_New(1)) != NULL) {
        PyObject *v = PyLong_FromLong(d->low);
        if (v == NULL)
            Py_CLEAR(low);
        else
            PyList_SET_ITEM(low, 0, v);
    }
    if ((hist = PyList_New(1)) != NULL) {
        PyObject *h = pylist_doubles(d->hist, SEQ_HBINS, 0, 0);
        if (h == NULL)
            Py_CLEAR(hist);
        else
            PyList_SET_ITEM(hist, 0, h);
    }
    if (put(c, "n", PyLong_FromLong(d->n)) < 0 || put(c, "low", low) < 0 ||
        put(c, "n_views", PyLong_FromLong(1)) < 0 || put(c, "growth", PyFloat_FromDouble(d->growth)) < 0 ||
        put(c, "w", PyFloat_FromDouble(d->w)) < 0 || put(c, "hist", hist) < 0 ||
        put(c, "total", PyFloat_FromDouble(d->ctotal)) < 0 || put(c, "vmax", pylist_doubles(&d->vmax, 1, 0, 0)) < 0) {
        Py_DECREF(c);
        return NULL;
    }
    return c;
}

PyObject *seq_state_dict(const SeqData *d) {
    PyObject *s = PyDict_New();
    long nb = d->bins;
    if (s == NULL)
        return NULL;
    if (put(s, "bins", PyLong_FromLong(nb)) < 0 || put(s, "warmup", PyLong_FromLong(d->warmup)) < 0 ||
        put(s, "decay", PyFloat_FromDouble(d->decay)) < 0 || put(s, "window", PyLong_FromLong(d->window)) < 0 ||
        put(s, "warm", pylist_doubles(d->warm, d->n_warm, 0, 0)) < 0 || put(s, "lo", PyFloat_FromDouble(d->lo)) < 0 ||
        put(s, "hi", PyFloat_FromDouble(d->hi)) < 0 || put(s, "prev1", PyLong_FromLong(d->prev1)) < 0 ||
        put(s, "prev2", PyLong_FromLong(d->prev2)) < 0 ||
        put(s, "counts", pylist_doubles(d->counts, nb * nb * nb, 0, 0)) < 0 ||
        put(s, "scale", pylist_doubles(d->scale, nb * nb, 0, 0)) < 0 ||
        put(s, "total", pylist_doubles(d->total, nb * nb, 0, 0)) < 0 ||
        put(s, "recent", pylist_doubles(d->recent, d->n_rec, d->rec_head, d->window)) < 0 ||
        put(s, "seen", PyLong_FromLong(d->seen)) < 0 ||
        put(s, "report_after", PyLong_FromLong(d->report_after)) < 0 ||
        put(s, "calib", calib_state(d)) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    return s;
}
