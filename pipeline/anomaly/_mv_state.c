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
#include "_pyread.h"
#include <limits.h>
#include <stddef.h>
#include <string.h>

static const PyRead TOP = {"MultiViewDetector state", ""}, MODEL = {"MultiViewDetector state", "model."},
                    CALIB = {"MultiViewDetector state", "calib."};

/* a parameter: its double, and the object itself (a new reference) for state() */
static int get_param(const PyRead *r, PyObject *d, const char *key, double *out, PyObject **obj) {
    PyObject *v = pyread_item(r, d, key);
    if (v == NULL || pyread_num(r, v, key, out))
        return -1;
    *obj = Py_NewRef(v);
    return 0;
}

/* d[key], an int ≥ lo */
static int get_long(const PyRead *r, PyObject *d, const char *key, long *out, long lo) {
    return pyread_get_int(r, d, key, lo, LONG_MAX, out);
}

#define OBJECTS(c) {&(c)->o_k, &(c)->o_flag, &(c)->o_scale, &(c)->o_alpha_fast, &(c)->o_alpha_slow, \
                    &(c)->o_alpha_err, &(c)->o_growth}

static void release(MvCore *c) {
    PyObject **objs[] = OBJECTS(c);
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        Py_CLEAR(*objs[i]);
}

static int parse(MvCore *c, PyObject *s) {
    const PyRead *T = &TOP, *M = &MODEL, *C = &CALIB;
    const long ANY = LONG_MIN;
    PyObject *model, *calib, *v;
    if (get_param(T, s, "k", &c->k, &c->o_k) || get_param(T, s, "flag", &c->flag, &c->o_flag) ||
        get_param(T, s, "scale", &c->scale, &c->o_scale) ||
        get_long(T, s, "relevel_after", &c->relevel_after, ANY) ||
        get_long(T, s, "refractory", &c->refractory, ANY) || pyread_get_num(T, s, "m_short", &c->m_short) ||
        pyread_get_num(T, s, "drift_mean", &c->drift_mean) || pyread_get_num(T, s, "drift_dev", &c->drift_dev) ||
        get_long(T, s, "flagged_run", &c->flagged_run, ANY) ||
        get_long(T, s, "since_alert", &c->since_alert, ANY) || get_long(T, s, "warm_n", &c->warm_n, ANY) ||
        pyread_get_nums(T, s, "recent", MV_MEDIAN_OF, MV_MEDIAN_OF, c->recent, NULL) ||
        pyread_get_num(T, s, "hi", &c->hi) || pyread_get_num(T, s, "lo", &c->lo))
        return -1;
    v = PyDict_GetItemString(s, "slow_views"); /* absent from older states: all five views */
    c->slow_views = 1;
    if (v != NULL && pyread_bool(T, v, "slow_views", &c->slow_views))
        return -1;
    if ((model = pyread_dict(T, s, "model")) == NULL || (calib = pyread_dict(T, s, "calib")) == NULL)
        return -1;
    if (get_param(M, model, "alpha_fast", &c->alpha_fast, &c->o_alpha_fast) ||
        get_param(M, model, "alpha_slow", &c->alpha_slow, &c->o_alpha_slow) ||
        get_param(M, model, "alpha_err", &c->alpha_err, &c->o_alpha_err) ||
        get_long(M, model, "warmup", &c->warmup, ANY) || get_long(M, model, "n", &c->n, 0) ||
        pyread_get_num(M, model, "t0", &c->t0) || pyread_get_num(M, model, "tl", &c->tl) ||
        pyread_get_num(M, model, "dt", &c->dt) || pyread_get_num(M, model, "fast", &c->fast) ||
        pyread_get_num(M, model, "slow", &c->slow) ||
        pyread_get_nums(M, model, "daily", 24, 24, c->daily, NULL) ||
        pyread_get_ints(M, model, "daily_n", 24, 24, 0, LONG_MAX, c->daily_n, NULL) ||
        pyread_get_nums(M, model, "weekly", 168, 168, c->weekly, NULL) ||
        pyread_get_ints(M, model, "weekly_n", 168, 168, 0, LONG_MAX, c->weekly_n, NULL) ||
        pyread_get_nums(M, model, "err", 3, 3, c->err, NULL) ||
        pyread_get_ints(M, model, "err_n", 3, 3, 0, LONG_MAX, c->err_n, NULL) ||
        pyread_get_num(M, model, "resolution", &c->resolution) || pyread_get_num(M, model, "prev", &c->prev))
        return -1;
    if ((v = pyread_item(M, model, "nonneg")) == NULL || pyread_bool(M, v, "nonneg", &c->nonneg))
        return -1;
    long n_views;
    if (get_long(C, calib, "n_views", &n_views, ANY))
        return -1;
    if (n_views != MV_VIEWS)
        return pyread_bad(C, "n_views", "must be 10 (five views × up, down)");
    if (get_long(C, calib, "n", &c->c_n, 0) ||
        pyread_get_ints(C, calib, "low", MV_VIEWS, MV_VIEWS, ANY, LONG_MAX, c->low, NULL) ||
        get_param(C, calib, "growth", &c->growth, &c->o_growth) || pyread_get_num(C, calib, "w", &c->w) ||
        pyread_get_num(C, calib, "total", &c->total) ||
        pyread_get_nums(C, calib, "vmax", MV_VIEWS, MV_VIEWS, c->vmax, NULL))
        return -1;
    v = PyDict_GetItemString(calib, "bin0"); /* absent from older states and when unset */
    c->bin0 = 0;
    if (v != NULL && pyread_bool(C, v, "bin0", &c->bin0))
        return -1;
    PyObject *hist = pyread_item(C, calib, "hist");
    if (hist == NULL || pyread_list(C, hist, "hist", MV_VIEWS, MV_VIEWS) == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < MV_VIEWS; i++) {
        PyObject *row = PySequence_Fast_GET_ITEM(hist, i);
        if (!PyList_Check(row) && !PyTuple_Check(row))
            return pyread_bad(C, "hist", "must be a list of 10 lists");
        if (PySequence_Fast_GET_SIZE(row) != MV_BINS)
            return pyread_bad(C, "hist", "must be 10 lists of 64 values");
        if (pyread_nums(C, row, "hist", MV_BINS, MV_BINS, c->hist[i], NULL))
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
    if (calib != NULL && c->bin0 && PyDict_SetItemString(calib, "bin0", Py_True) < 0)
        Py_CLEAR(calib); /* as TailCalibrator.state(): the key only when set */
    return Py_BuildValue(
        "{s:O,s:O,s:O,s:l,s:l,s:d,s:d,s:d,s:l,s:l,s:l,s:N,s:d,s:d,s:O,s:N,s:N}", "k", c->o_k, "flag",
        c->o_flag, "scale", c->o_scale, "relevel_after", c->relevel_after, "refractory", c->refractory,
        "m_short", c->m_short, "drift_mean", c->drift_mean, "drift_dev", c->drift_dev, "flagged_run",
        c->flagged_run, "since_alert", c->since_alert, "warm_n", c->warm_n, "recent",
        pylist_doubles(c->recent, MV_MEDIAN_OF, 0, 0), "hi", c->hi, "lo", c->lo,
        "slow_views", b(c->slow_views), "model", model, "calib", calib);
}
