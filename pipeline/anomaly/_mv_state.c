/* The multiview core's state in and out (native part of pipeline.anomaly.multiview; read _mv.c's
 * comment first): MvCore(state) reads MultiViewDetector.state()'s dict, with its "model"
 * (SeasonalModel.state()) and "calib" (TailCalibrator.state(), ten views) dicts, and state()
 * writes the same dict back, key for key and type for type (the parameters k, flag, scale, the
 * model's alphas and the calibrator's growth are handed back as the objects given; counts as
 * ints, values as floats, nonneg and slow_views as bools). A state that does not fit -- a missing
 * key, a list of the wrong length, a value of the wrong type, a negative hour count, a calibrator
 * of other than ten views -- raises ValueError naming the key ("model.daily", "calib.hist");
 * a state without slow_views (saved before the choice existed) judges all five views, as
 * MultiViewDetector.from_state does. */
#include "_mv.h"
#include "_pylist.h"
#include <stddef.h>
#include <string.h>

#define WHO "MultiViewDetector state"

/* d[key] (borrowed), or NULL with a ValueError naming it; sub: "", "model." or "calib." */
static PyObject *item(PyObject *d, const char *sub, const char *key) {
    PyObject *v = PyDict_GetItemString(d, key);
    if (v == NULL)
        PyErr_Format(PyExc_ValueError, WHO " has no %s%s", sub, key);
    return v;
}

static int bad(const char *sub, const char *key, const char *what) {
    PyErr_Format(PyExc_ValueError, WHO ": %s%s must be %s", sub, key, what);
    return -1;
}

/* an int or a float, as a double */
static int as_double(PyObject *v, const char *sub, const char *key, double *out) {
    if (!PyFloat_Check(v) && !PyLong_Check(v))
        return bad(sub, key, "a number");
    *out = PyFloat_AsDouble(v);
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return bad(sub, key, "a number within a float's range");
    }
    return 0;
}

static int as_long(PyObject *v, const char *sub, const char *key, long *out, int nonneg) {
    if (!PyLong_Check(v))
        return bad(sub, key, nonneg ? "an int ≥ 0" : "an int");
    *out = PyLong_AsLong(v);
    if (*out == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return bad(sub, key, "an int of 64 bits");
    }
    return nonneg && *out < 0 ? bad(sub, key, "an int ≥ 0") : 0;
}

static int get_double(PyObject *d, const char *sub, const char *key, double *out) {
    PyObject *v = item(d, sub, key);
    return v == NULL ? -1 : as_double(v, sub, key, out);
}

/* a parameter: its double, and the object itself (a new reference) for state() */
static int get_param(PyObject *d, const char *sub, const char *key, double *out, PyObject **obj) {
    PyObject *v = item(d, sub, key);
    if (v == NULL || as_double(v, sub, key, out))
        return -1;
    *obj = Py_NewRef(v);
    return 0;
}

static int get_long(PyObject *d, const char *sub, const char *key, long *out, int nonneg) {
    PyObject *v = item(d, sub, key);
    return v == NULL ? -1 : as_long(v, sub, key, out, nonneg);
}

static int as_bool(PyObject *v, const char *sub, const char *key, int *out) {
    if (!PyBool_Check(v))
        return bad(sub, key, "a bool");
    *out = v == Py_True;
    return 0;
}

/* a list (or tuple) of n values */
static PyObject *get_seq(PyObject *d, const char *sub, const char *key, Py_ssize_t n) {
    PyObject *v = item(d, sub, key);
    if (v == NULL)
        return NULL;
    if (!PyList_Check(v) && !PyTuple_Check(v)) {
        bad(sub, key, "a list");
        return NULL;
    }
    if (PySequence_Fast_GET_SIZE(v) != n) {
        PyErr_Format(PyExc_ValueError, WHO ": %s%s has %zd values, expected %zd", sub, key,
                     PySequence_Fast_GET_SIZE(v), n);
        return NULL;
    }
    return v;
}

static int get_doubles(PyObject *d, const char *sub, const char *key, double *out, Py_ssize_t n) {
    PyObject *v = get_seq(d, sub, key, n);
    if (v == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (as_double(PySequence_Fast_GET_ITEM(v, i), sub, key, out + i))
            return -1;
    return 0;
}

static int get_longs(PyObject *d, const char *sub, const char *key, long *out, Py_ssize_t n, int nonneg) {
    PyObject *v = get_seq(d, sub, key, n);
    if (v == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (as_long(PySequence_Fast_GET_ITEM(v, i), sub, key, out + i, nonneg))
            return -1;
    return 0;
}

static PyObject *get_dict(PyObject *d, const char *key) {
    PyObject *v = item(d, "", key);
    if (v != NULL && !PyDict_Check(v)) {
        bad("", key, "a dict");
        return NULL;
    }
    return v;
}

#define OBJECTS(c) {&(c)->o_k, &(c)->o_flag, &(c)->o_scale, &(c)->o_alpha_fast, &(c)->o_alpha_slow, \
                    &(c)->o_alpha_err, &(c)->o_growth}

static void release(MvCore *c) {
    PyObject **objs[] = OBJECTS(c);
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        Py_CLEAR(*objs[i]);
}

static int parse(MvCore *c, PyObject *s) {
    const char *M = "model.", *C = "calib.";
    PyObject *model, *calib, *v;
    if (get_param(s, "", "k", &c->k, &c->o_k) || get_param(s, "", "flag", &c->flag, &c->o_flag) ||
        get_param(s, "", "scale", &c->scale, &c->o_scale) ||
        get_long(s, "", "relevel_after", &c->relevel_after, 0) ||
        get_long(s, "", "refractory", &c->refractory, 0) || get_double(s, "", "m_short", &c->m_short) ||
        get_double(s, "", "drift_mean", &c->drift_mean) || get_double(s, "", "drift_dev", &c->drift_dev) ||
        get_long(s, "", "flagged_run", &c->flagged_run, 0) ||
        get_long(s, "", "since_alert", &c->since_alert, 0) || get_long(s, "", "warm_n", &c->warm_n, 0) ||
        get_doubles(s, "", "recent", c->recent, MV_MEDIAN_OF) || get_double(s, "", "hi", &c->hi) ||
        get_double(s, "", "lo", &c->lo))
        return -1;
    v = PyDict_GetItemString(s, "slow_views"); /* absent from older states: all five views */
    c->slow_views = 1;
    if (v != NULL && as_bool(v, "", "slow_views", &c->slow_views))
        return -1;
    if ((model = get_dict(s, "model")) == NULL || (calib = get_dict(s, "calib")) == NULL)
        return -1;
    if (get_param(model, M, "alpha_fast", &c->alpha_fast, &c->o_alpha_fast) ||
        get_param(model, M, "alpha_slow", &c->alpha_slow, &c->o_alpha_slow) ||
        get_param(model, M, "alpha_err", &c->alpha_err, &c->o_alpha_err) ||
        get_long(model, M, "warmup", &c->warmup, 0) || get_long(model, M, "n", &c->n, 1) ||
        get_double(model, M, "t0", &c->t0) || get_double(model, M, "tl", &c->tl) ||
        get_double(model, M, "dt", &c->dt) || get_double(model, M, "fast", &c->fast) ||
        get_double(model, M, "slow", &c->slow) || get_doubles(model, M, "daily", c->daily, 24) ||
        get_longs(model, M, "daily_n", c->daily_n, 24, 1) ||
        get_doubles(model, M, "weekly", c->weekly, 168) ||
        get_longs(model, M, "weekly_n", c->weekly_n, 168, 1) || get_doubles(model, M, "err", c->err, 3) ||
        get_longs(model, M, "err_n", c->err_n, 3, 1) || get_double(model, M, "resolution", &c->resolution) ||
        get_double(model, M, "prev", &c->prev))
        return -1;
    if ((v = item(model, M, "nonneg")) == NULL || as_bool(v, M, "nonneg", &c->nonneg))
        return -1;
    long n_views;
    if (get_long(calib, C, "n_views", &n_views, 0))
        return -1;
    if (n_views != MV_VIEWS)
        return bad(C, "n_views", "10 (five views × up, down)");
    if (get_long(calib, C, "n", &c->c_n, 1) || get_longs(calib, C, "low", c->low, MV_VIEWS, 0) ||
        get_param(calib, C, "growth", &c->growth, &c->o_growth) || get_double(calib, C, "w", &c->w) ||
        get_double(calib, C, "total", &c->total) || get_doubles(calib, C, "vmax", c->vmax, MV_VIEWS))
        return -1;
    PyObject *hist = get_seq(calib, C, "hist", MV_VIEWS);
    if (hist == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < MV_VIEWS; i++) {
        PyObject *row = PySequence_Fast_GET_ITEM(hist, i);
        if (!PyList_Check(row) && !PyTuple_Check(row))
            return bad(C, "hist", "a list of 10 lists");
        if (PySequence_Fast_GET_SIZE(row) != MV_BINS)
            return bad(C, "hist", "10 lists of 64 values");
        for (Py_ssize_t b = 0; b < MV_BINS; b++)
            if (as_double(PySequence_Fast_GET_ITEM(row, b), C, "hist", &c->hist[i][b]))
                return -1;
    }
    return 0;
}

int mv_init(MvCore *c, PyObject *args, PyObject *kwds) {
    static char *kw[] = {"state", NULL};
    PyObject *s;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!", kw, &PyDict_Type, &s))
        return -1;
    MvCore tmp; /* the state read whole before the core takes it (a refused one changes nothing) */
    memset(&tmp, 0, sizeof tmp);
    if (parse(&tmp, s)) {
        release(&tmp);
        return -1;
    }
    release(c);
    size_t off = offsetof(MvCore, o_k);
    memcpy((char *)c + off, (char *)&tmp + off, sizeof(MvCore) - off);
    return 0;
}

void mv_dealloc(MvCore *c) {
    release(c);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *b(int v) { return v ? Py_True : Py_False; }

PyObject *mv_state(MvCore *c, PyObject *Py_UNUSED(ignored)) {
    if (c->o_k == NULL) {
        PyErr_SetString(PyExc_ValueError, "MvCore was not given a state");
        return NULL;
    }
    PyObject *hist = PyList_New(MV_VIEWS);
    for (Py_ssize_t i = 0; hist != NULL && i < MV_VIEWS; i++) {
        PyObject *row = pylist_doubles(c->hist[i], MV_BINS, 0, 0);
        if (row == NULL)
            Py_CLEAR(hist);
        else
            PyList_SET_ITEM(hist, i, row);
    }
    /* key for key in the order of SeasonalModel.__slots__, TailCalibrator.state() and
     * MultiViewDetector.__slots__ */
    PyObject *model = Py_BuildValue(
        "{s:O,s:O,s:O,s:l,s:l,s:d,s:d,s:d,s:d,s:d,s:N,s:N,s:N,s:N,s:N,s:N,s:d,s:d,s:O}",
        "alpha_fast", c->o_alpha_fast, "alpha_slow", c->o_alpha_slow, "alpha_err", c->o_alpha_err,
        "warmup", c->warmup, "n", c->n, "t0", c->t0, "tl", c->tl, "dt", c->dt, "fast", c->fast,
        "slow", c->slow, "daily", pylist_doubles(c->daily, 24, 0, 0), "daily_n", pylist_longs(c->daily_n, 24),
        "weekly", pylist_doubles(c->weekly, 168, 0, 0), "weekly_n", pylist_longs(c->weekly_n, 168), "err",
        pylist_doubles(c->err, 3, 0, 0), "err_n", pylist_longs(c->err_n, 3), "resolution", c->resolution,
        "prev", c->prev, "nonneg", b(c->nonneg));
    PyObject *calib = Py_BuildValue("{s:l,s:N,s:l,s:O,s:d,s:N,s:d,s:N}", "n", c->c_n, "low",
                                    pylist_longs(c->low, MV_VIEWS), "n_views", (long)MV_VIEWS, "growth",
                                    c->o_growth, "w", c->w, "hist", hist, "total", c->total, "vmax",
                                    pylist_doubles(c->vmax, MV_VIEWS, 0, 0));
    return Py_BuildValue(
        "{s:O,s:O,s:O,s:l,s:l,s:d,s:d,s:d,s:l,s:l,s:l,s:N,s:d,s:d,s:O,s:N,s:N}", "k", c->o_k, "flag",
        c->o_flag, "scale", c->o_scale, "relevel_after", c->relevel_after, "refractory", c->refractory,
        "m_short", c->m_short, "drift_mean", c->drift_mean, "drift_dev", c->drift_dev, "flagged_run",
        c->flagged_run, "since_alert", c->since_alert, "warm_n", c->warm_n, "recent",
        pylist_doubles(c->recent, MV_MEDIAN_OF, 0, 0), "hi", c->hi, "lo", c->lo,
        "slow_views", b(c->slow_views), "model", model, "calib", calib);
}
