/* The multiview detector's step as the context detector takes it, compiled (native part of
 * pipeline.anomaly.multiview; read that module's docstring, model.py's and calibrate.py's first).
 *
 *   MvCore(state)     the detector whose MultiViewDetector.state() is `state`
 *   core.judge(t, x)  MultiViewDetector.surprise(t, x) then absorb() of the same point: None in the
 *                     forecaster's warm-up (the point is learnt all the same), else (s, p, sigma),
 *                     the surprise (less log10 5), the forecast and its sigma
 *   core.peek(t, x)   the same answer, learning nothing (score_one)
 *   core.forecast(t)  SeasonalModel.best(t), learning nothing: None in the warm-up, else (p, sigma)
 *   core.state()      the same dict MultiViewDetector.state() gives, so either can carry on from it
 *   core.k, core.scale, core.nonneg   the detector's k and scale, the forecaster's nonneg
 *   judge3((a, b, c), t, x)  bag.MultiViewBag's judge of three cores in one call
 *
 * Every step is the Python's (MultiViewDetector._views, _learn, SeasonalModel._forecasts, best,
 * learn, relevel, TailCalibrator.surprise, learn, _refresh_low), operation for operation and in
 * its order, so the two give the same numbers bit for bit (tests/pipeline/anomaly/test_mv_native.py
 * streams NAB files through both): int(t // 3600) is float_floor_div's fmod-based quotient and the
 * hours' % is Python's (never negative); sum() adds left to right as Python 3.11 does; the median
 * of 7 is sorted()'s: CPython's count_run and binary insertion, so even a NaN lands where Python
 * puts it; max()/min() keep their first argument on ties and NaN; log, log2, sqrt and ** are
 * libm's, the constants computed by libm at import as the Python computes them. Where the Python
 * raises (a NaN or infinite t or view: "cannot convert float ... to integer"; a division by zero),
 * the core raises the same exception at the same point, with the same part of the state changed.
 * SeasonalModel's _cache is a speed device: the forecasts of a step are computed once here too.
 * Pickles through its state. The forecaster and the calibrator are _mv_model.c, the state's way in
 * and out _mv_state.c.
 */
#include "_mv.h"
#include <math.h>
#include <string.h>

/* ---- MultiViewDetector ---------------------------------------------------------------- */

/* sorted(a)[3] of 7 values as CPython 3.11's list.sort finds it (fewer than 64 values: the
 * leading run, reversed if strictly descending, then binary insertion) */
static double median7(double *a) {
    int run = 2;
    if (a[1] < a[0]) {
        while (run < 7 && a[run] < a[run - 1])
            run++;
        for (int i = 0, k = run - 1; i < k; i++, k--) {
            double tmp = a[i];
            a[i] = a[k], a[k] = tmp;
        }
    } else {
        while (run < 7 && !(a[run] < a[run - 1]))
            run++;
    }
    for (int s = run; s < 7; s++) {
        double pivot = a[s];
        int l = 0, r = s;
        do {
            int p = l + ((r - l) >> 1);
            if (pivot < a[p])
                r = p;
            else
                l = p + 1;
        } while (l < r);
        memmove(a + l + 1, a + l, (size_t)(s - l) * sizeof(double));
        a[l] = pivot;
    }
    return a[3];
}

/* MultiViewDetector._views: 0 in the warm-up (None), 1 judged, -1 raised */
static int views(const MvCore *c, double t, double x, Judged *j) {
    if (c->n < c->warmup)
        return 0;
    if (mv_forecasts(c, t, &j->f))
        return -1;
    mv_best(c, j);
    double p = j->p, sigma = j->sigma;
    double r = x - p;
    if (sigma == 0.0)
        return mv_zero_division();
    double z = fabs(r) / sigma;
    double m = c->m_short + 0.3 * (r - c->m_short);
    if (sigma * 0.42 == 0.0)
        return mv_zero_division();
    double z_shift = fabs(m) / (sigma * 0.42);
    double dm = c->drift_mean + 0.2 * (x - c->drift_mean);
    double d = dm - c->slow;
    double z_drift = c->drift_dev > 0 ? fabs(d) / c->drift_dev : 0.0;
    double a[MV_MEDIAN_OF];
    memcpy(a, c->recent + 1, (MV_MEDIAN_OF - 1) * sizeof(double));
    a[MV_MEDIAN_OF - 1] = r / sigma;
    double med = median7(a);
    double dd = c->drift_dev > 0 ? c->drift_dev : sigma;
    double rv;
    int rng;
    if (x > c->hi)
        rv = (x - c->hi) / dd, rng = 8;
    else if (x < c->lo)
        rv = (c->lo - x) / dd, rng = 9;
    else
        rv = 0.0, rng = 8;
    j->m = m, j->dm = dm;
    int *vw = j->views;
    double *rw = j->raws;
    vw[0] = r >= 0 ? 0 : 1, rw[0] = z;
    if (!c->slow_views) {
        vw[1] = med >= 0 ? 6 : 7, rw[1] = fabs(med);
        vw[2] = rng, rw[2] = rv;
        j->nv = 3;
    } else {
        vw[1] = m >= 0 ? 2 : 3, rw[1] = z_shift;
        vw[2] = d >= 0 ? 4 : 5, rw[2] = z_drift;
        vw[3] = med >= 0 ? 6 : 7, rw[3] = fabs(med);
        vw[4] = rng, rw[4] = rv;
        j->nv = 5;
    }
    return 1;
}

/* MultiViewDetector._learn (j NULL: None) */
static int mv_learn(MvCore *c, double t, double x, const Judged *j, double score) {
    if (x - x != 0.0)
        return 0;
    if (j != NULL)
        c->drift_mean = j->dm;
    else
        c->drift_mean = c->drift_mean != c->drift_mean ? x : c->drift_mean + 0.2 * (x - c->drift_mean);
    double dev = x - c->slow;
    c->drift_dev += 0.01 * ((dev >= 0 ? dev : -dev) - c->drift_dev);
    if (j == NULL) {
        if (mv_model_learn(c, t, x, NULL))
            return -1;
        if (!(c->hi >= x))
            c->hi = x;
        if (!(c->lo <= x))
            c->lo = x;
        return 0;
    }
    c->m_short = j->m;
    mv_calib_learn(c, j);
    memmove(c->recent, c->recent + 1, (MV_MEDIAN_OF - 1) * sizeof(double));
    c->recent[MV_MEDIAN_OF - 1] = (x - j->p) / j->sigma;
    if (score >= c->flag) {
        c->since_alert = c->since_alert >= c->refractory ? 0 : c->since_alert + 1;
        c->flagged_run += 1;
        if (c->flagged_run >= c->relevel_after) {
            mv_relevel(c, x);
            c->m_short = 0.0;
            for (int i = 0; i < MV_MEDIAN_OF; i++)
                c->recent[i] = 0.0;
            c->flagged_run = 0;
            c->hi = x > c->hi ? x : c->hi; /* max(hi, x) */
            c->lo = x < c->lo ? x : c->lo; /* min(lo, x) */
        }
        return 0;
    }
    c->since_alert += 1;
    c->flagged_run = 0;
    double slow = c->slow;
    c->hi = x > c->hi ? x : c->hi - 0.001 * (c->hi - slow);
    c->lo = x < c->lo ? x : c->lo - 0.001 * (c->lo - slow);
    return mv_model_learn(c, t, x, &j->f);
}

static int two_floats(PyObject *const *args, Py_ssize_t nargs, double *t, double *x) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "expected 2 arguments (t, x), got %zd", nargs);
        return -1;
    }
    *t = PyFloat_AsDouble(args[0]);
    if (*t == -1.0 && PyErr_Occurred())
        return -1;
    *x = PyFloat_AsDouble(args[1]);
    return (*x == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* the views and the calibrated surprise (less log10 5, into *s) of (t, x) from args, nothing
 * learnt: -1 raised, 0 in the forecaster's warm-up, 1 judged */
static int surprise(MvCore *c, PyObject *const *args, Py_ssize_t nargs, double *t, double *x,
                    Judged *j, double *s) {
    double top;
    if (two_floats(args, nargs, t, x))
        return -1;
    int k = views(c, *t, *x, j);
    if (k <= 0)
        return k;
    if (mv_calib_surprise(c, j, &top))
        return -1;
    *s = top - 0.7;
    return 1;
}

/* surprise then absorb of (t, x) from args, into out = (s, p, sigma): -1 raised, 0 in the
 * forecaster's warm-up (the point learnt all the same), 1 judged */
static int judge_into(MvCore *c, PyObject *const *args, Py_ssize_t nargs, double *out) {
    double t, x, s;
    Judged j;
    int k = surprise(c, args, nargs, &t, &x, &j, &s);
    if (k < 0)
        return -1;
    if (k == 0)
        return mv_learn(c, t, x, NULL, 0.0) ? -1 : 0;
    if (s > 0 && s + c->scale == 0.0)
        return mv_zero_division();
    if (mv_learn(c, t, x, &j, s > 0 ? s / (s + c->scale) : 0.0))
        return -1;
    out[0] = s, out[1] = j.p, out[2] = j.sigma;
    return 1;
}

/* core.judge(t, x): surprise then absorb */
static PyObject *core_judge(MvCore *c, PyObject *const *args, Py_ssize_t nargs) {
    double r[3] = {0.0, 0.0, 0.0};
    int k = judge_into(c, args, nargs, r);
    if (k <= 0) {
        if (k < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(ddd)", r[0], r[1], r[2]);
}

/* core.peek(t, x): surprise alone */
static PyObject *core_peek(MvCore *c, PyObject *const *args, Py_ssize_t nargs) {
    double t, x, s;
    Judged j;
    int k = surprise(c, args, nargs, &t, &x, &j, &s);
    if (k <= 0) {
        if (k < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(ddd)", s, j.p, j.sigma);
}

/* core.forecast(t): SeasonalModel.best(t) (nothing learnt): None in the warm-up, else (p, sigma) */
static PyObject *core_forecast(MvCore *c, PyObject *arg) {
    double t = PyFloat_AsDouble(arg);
    Judged j;
    if (t == -1.0 && PyErr_Occurred())
        return NULL;
    if (c->n < c->warmup)
        Py_RETURN_NONE;
    if (mv_forecasts(c, t, &j.f))
        return NULL;
    mv_best(c, &j);
    return Py_BuildValue("(dd)", j.p, j.sigma);
}

static PyObject *core_reduce(MvCore *c, PyObject *Py_UNUSED(ignored)) {
    PyObject *st = mv_state(c, NULL);
    return st == NULL ? NULL : Py_BuildValue("(O(N))", (PyObject *)Py_TYPE(c), st);
}

static PyObject *param(PyObject *v) {
    if (v == NULL)
        PyErr_SetString(PyExc_ValueError, "MvCore was not given a state");
    return Py_XNewRef(v);
}

static PyObject *get_k(MvCore *c, void *Py_UNUSED(closure)) { return param(c->o_k); }
static PyObject *get_scale(MvCore *c, void *Py_UNUSED(closure)) { return param(c->o_scale); }
static PyObject *get_nonneg(MvCore *c, void *Py_UNUSED(closure)) { return PyBool_FromLong(c->nonneg); }

static PyMethodDef core_methods[] = {
    {"judge", (PyCFunction)(void (*)(void))core_judge, METH_FASTCALL,
     "surprise(t, x) then absorb: None in the warm-up, else (s, p, sigma)."},
    {"forecast", (PyCFunction)core_forecast, METH_O,
     "SeasonalModel.best(t), nothing learnt: None in the warm-up, else (expected, sigma)."},
    {"peek", (PyCFunction)(void (*)(void))core_peek, METH_FASTCALL,
     "surprise(t, x) alone (nothing learnt): None in the warm-up, else (s, p, sigma)."},
    {"state", (PyCFunction)mv_state, METH_NOARGS, "MultiViewDetector.state()'s dict."},
    {"__reduce__", (PyCFunction)core_reduce, METH_NOARGS, "Pickle through the state."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef core_getset[] = {
    {"k", (getter)get_k, NULL, "The band's width in sigmas (MultiViewDetector.k).", NULL},
    {"scale", (getter)get_scale, NULL, "The score's scale (MultiViewDetector.scale).", NULL},
    {"nonneg", (getter)get_nonneg, NULL, "No negative value seen (SeasonalModel.nonneg).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject MvCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pipeline.anomaly._mv.MvCore",
    .tp_basicsize = sizeof(MvCore),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "MultiViewDetector's surprise and learning, compiled (see the module source).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)mv_init,
    .tp_dealloc = (destructor)mv_dealloc,
    .tp_methods = core_methods,
    .tp_getset = core_getset,
};

/* judge3((a, b, c), t, x): bag._median([m.judge(t, x) for m in (a, b, c)]) of three cores, one
 * call: every member judges in order (the first error stops the rest, as the list does), None if
 * any is in its warm-up, else (median surprise, b's forecast, b's sigma) by the same comparisons */
static PyObject *judge3(PyObject *Py_UNUSED(mod), PyObject *const *args, Py_ssize_t nargs) {
    double r[3][3] = {{0.0}};
    int k[3];
    if (nargs != 3 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != 3) {
        PyErr_SetString(PyExc_TypeError, "judge3 expects ((a, b, c), t, x)");
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        if (!Py_IS_TYPE(PyTuple_GET_ITEM(args[0], i), &MvCoreType)) {
            PyErr_SetString(PyExc_TypeError, "judge3's members must be MvCore");
            return NULL;
        }
    for (int i = 0; i < 3; i++)
        if ((k[i] = judge_into((MvCore *)PyTuple_GET_ITEM(args[0], i), args + 1, 2, r[i])) < 0)
            return NULL;
    if (k[0] == 0 || k[1] == 0 || k[2] == 0)
        Py_RETURN_NONE;
    double x = r[0][0], y = r[1][0], z = r[2][0];
    if (x > y) {
        double w = x;
        x = y, y = w;
    }
    return Py_BuildValue("(ddd)", y < z ? y : x > z ? x : z, r[1][1], r[1][2]);
}

static PyMethodDef module_methods[] = {
    {"judge3", (PyCFunction)(void (*)(void))judge3, METH_FASTCALL,
     "judge3((a, b, c), t, x): the median bag of three cores' judge (bag._median)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mv", NULL, -1, module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__mv(void) {
    mv_constants();
    if (PyType_Ready(&MvCoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&MvCoreType);
    if (PyModule_AddObject(m, "MvCore", (PyObject *)&MvCoreType) < 0) {
        Py_DECREF(&MvCoreType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
