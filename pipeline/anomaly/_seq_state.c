/* The sequence judge's state in and out (native part of pipeline.anomaly.sequence; read _seq.c's
 * comment first): SeqCore(state) reads SequenceModel.state()'s dict -- the nested calib dict is
 * TailCalibrator.state() of one view -- and state() writes the same dict back (same keys in the same
 * order, ints as ints, lists of floats, lo and hi NaN before the grid is fixed). A state that does
 * not fit (a missing or unknown key, a value of the wrong type, a list of the wrong length, a
 * previous bin outside the grid) raises ValueError naming the key. */
#include "_seq.h"
#include "_pylist.h"
#include "_pyread.h"
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

static const PyRead TOP = {"sequence state", ""}, CAL = {"sequence state", "calib."};

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

static int calib_from_state(SeqData *d, PyObject *s) {
    const PyRead *r = &CAL;
    long n_views, one;
    PyObject *c = pyread_dict(&TOP, s, "calib"), *hist;
    if (c == NULL || pyread_known_keys(r, c, CALIB_KEYS) < 0 ||
        pyread_get_int(r, c, "n_views", 1, 1, &n_views) < 0 ||
        pyread_get_int(r, c, "n", 0, LONG_MAX - 1, &d->n) < 0 || pyread_get_num(r, c, "growth", &d->growth) < 0 ||
        pyread_get_num(r, c, "w", &d->w) < 0 || pyread_get_num(r, c, "total", &d->ctotal) < 0 ||
        pyread_get_nums(r, c, "vmax", 1, 1, &d->vmax, NULL) < 0 ||
        pyread_get_ints(r, c, "low", 1, 1, 0, SEQ_HBINS - 1, &d->low, &one) < 0 ||
        (hist = pyread_item(r, c, "hist")) == NULL || pyread_list(r, hist, "hist", 1, 1) == NULL)
        return -1;
    return pyread_nums(r, PySequence_Fast_GET_ITEM(hist, 0), "hist", SEQ_HBINS, SEQ_HBINS, d->hist, NULL);
}

int seq_from_state(SeqData *d, PyObject *s) {
    const PyRead *r = &TOP;
    if (pyread_known_keys(r, s, SEQ_KEYS) < 0 || pyread_get_int(r, s, "bins", 3, SEQ_MAX_BINS, &d->bins) < 0 ||
        pyread_get_int(r, s, "warmup", 0, SEQ_MAX_WARMUP, &d->warmup) < 0 ||
        pyread_get_int(r, s, "window", 1, SEQ_MAX_WINDOW, &d->window) < 0 ||
        pyread_get_int(r, s, "report_after", LONG_MIN, LONG_MAX, &d->report_after) < 0 ||
        pyread_get_int(r, s, "seen", 0, LONG_MAX - 1, &d->seen) < 0 ||
        pyread_get_int(r, s, "prev1", -1, d->bins - 1, &d->prev1) < 0 ||
        pyread_get_int(r, s, "prev2", -1, d->bins - 1, &d->prev2) < 0 ||
        pyread_get_num(r, s, "decay", &d->decay) < 0 || pyread_get_num(r, s, "lo", &d->lo) < 0 ||
        pyread_get_num(r, s, "hi", &d->hi) < 0)
        return -1;
    if (d->prev2 >= 0 && d->prev1 < 0)
        return pyread_bad(r, "prev1", "is -1 (no value) while prev2 is a bin");
    if (alloc_arrays(d) < 0)
        return -1;
    long nb = d->bins, max_warm = d->warmup > 1 ? d->warmup - 1 : 0;
    int fixed = d->lo == d->lo;
    if (pyread_get_nums(r, s, "counts", nb * nb * nb, nb * nb * nb, d->counts, NULL) < 0 ||
        pyread_get_nums(r, s, "scale", nb * nb, nb * nb, d->scale, NULL) < 0 ||
        pyread_get_nums(r, s, "total", nb * nb, nb * nb, d->total, NULL) < 0 ||
        pyread_get_nums(r, s, "recent", 0, d->window, d->recent, &d->n_rec) < 0)
        return -1;
    PyObject *warm = pyread_item(r, s, "warm");
    if (warm == NULL)
        return -1;
    if (fixed && (PyList_Check(warm) || PyTuple_Check(warm)) && PySequence_Fast_GET_SIZE(warm) != 0)
        return pyread_bad(r, "warm", "must be empty once the grid is fixed (lo is a number)");
    double none;
    if (pyread_nums(r, warm, "warm", 0, fixed ? 0 : max_warm, fixed ? &none : d->warm, &d->n_warm) < 0)
        return -1;
    d->rec_head = 0;
    return calib_from_state(d, s);
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
