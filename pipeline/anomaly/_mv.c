/* The multiview detector's step as the context detector takes it, compiled (native part of
 * pipeline.anomaly.multiview; read that module's docstring, model.py's and calibrate.py's first).
 *
 *   MvCore(state)     the detector whose MultiViewDetector.state() is `state`
 *   core.step(t, x)   MultiViewDetector.surprise(t, x) then absorb() of the same point: None in the
 *                     forecaster's warm-up (the point is learnt all the same), else (s, p, sigma),
 *                     the surprise (less log10 5), the forecast and its sigma
 *   core.peek(t, x)   the same answer, learning nothing (score_one)
 *   core.state()      the same dict MultiViewDetector.state() gives, so either can carry on from it
 *   core.k, core.scale, core.nonneg   the detector's k and scale, the forecaster's nonneg
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
 * Pickles through its state. The state's way in and out is _mv_state.c.
 */
#include "_mv.h"
#include <math.h>
#include <string.h>

/* computed at import by libm as model.py and calibrate.py compute them (not folded at compile time) */
static double SQRT_PI_2, LOG10, VMAX_DECAY, TAIL_EXP;

typedef struct { /* SeasonalModel._forecasts: (fast, p1 or None, p2 or None, hod, how) */
    double p0, p1, p2;
    int has1, has2, hod, how;
} Forecasts;

typedef struct { /* MultiViewDetector._views's tuple (bins filled by the calibrator's surprise) */
    int nv, views[5], bins[5];
    double raws[5], p, sigma, m, dm;
    Forecasts f;
} Judged;

/* int() of a float Python cannot convert */
static int int_error(double v) {
    if (v != v)
        PyErr_SetString(PyExc_ValueError, "cannot convert float NaN to integer");
    else
        PyErr_SetString(PyExc_OverflowError, "cannot convert float infinity to integer");
    return -1;
}

static int zero_division(void) {
    PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
    return -1;
}

/* ---- SeasonalModel -------------------------------------------------------------------- */

/* SeasonalModel._forecasts */
static int forecasts(const MvCore *c, double t, Forecasts *f) {
    /* h = int(t // 3600): _float_div_mod of Objects/floatobject.c, the divisor positive */
    double mod = fmod(t, 3600.0), div = (t - mod) / 3600.0, h;
    if (mod < 0)
        div -= 1.0;
    if (div) {
        h = floor(div);
        if (div - h > 0.5)
            h += 1.0;
    } else {
        h = 0.0;
    }
    if (!isfinite(h))
        return int_error(h);
    /* h % 24 and (h + 72) % 168 as Python's ints (fmod of an integral double is exact) */
    double r = fmod(h, 24.0);
    int hod = (int)(r < 0 ? r + 24.0 : r);
    r = fmod(h, 168.0);
    int how = ((int)(r < 0 ? r + 168.0 : r) + 72) % 168;
    double span = t - c->t0;
    f->p0 = c->fast;
    f->has1 = span >= 2 * 86400.0 && c->daily_n[hod] >= 3;
    f->p1 = c->slow + c->daily[hod];
    f->has2 = span >= 2 * 604800.0 && c->weekly_n[how] >= 2;
    f->p2 = c->slow + c->weekly[how];
    f->hod = hod, f->how = how;
    return 0;
}

/* SeasonalModel.best after the warm-up: (expected, sigma) into j */
static void best(const MvCore *c, Judged *j) {
    const Forecasts *f = &j->f;
    double choice = f->p0, e = c->err[0];
    if (f->has1 && c->err_n[1] >= 20 && c->err[1] < 0.9 * e)
        choice = f->p1, e = c->err[1];
    if (f->has2 && c->err_n[2] >= 20 && c->err[2] < 0.9 * e)
        choice = f->p2, e = c->err[2];
    double sigma = SQRT_PI_2 * e;
    double fl = c->resolution != INFINITY ? 0.5 * c->resolution : 0.0;
    double third = 1e-9 * (fabs(choice) + 1.0);
    double m = sigma; /* max(sigma, floor, third): the first of the largest, NaN never replacing */
    if (fl > m)
        m = fl;
    if (third > m)
        m = third;
    j->p = choice, j->sigma = m;
}

/* SeasonalModel.learn; f: the forecasts of t already computed (the Python's cache), or NULL */
static int model_learn(MvCore *c, double t, double x, const Forecasts *f) {
    if (c->n == 0) {
        c->t0 = c->tl = t;
        c->fast = c->slow = x;
        c->prev = x;
        c->nonneg = x >= 0;
        c->n = 1;
        return 0;
    }
    double gap = t - c->tl;
    if (gap > 0) {
        c->dt = c->dt == 0.0 ? gap : c->dt + 0.05 * (gap - c->dt);
        c->tl = t;
    }
    double d = x >= c->prev ? x - c->prev : c->prev - x;
    if (0.0 < d && d < c->resolution)
        c->resolution = d;
    c->prev = x;
    if (x < 0)
        c->nonneg = 0;
    Forecasts own;
    if (f == NULL) {
        if (forecasts(c, t, &own))
            return -1;
        f = &own;
    }
    double ae = c->alpha_err, *err = c->err;
    long *err_n = c->err_n;
    double r = x >= f->p0 ? x - f->p0 : f->p0 - x;
    double cap = 4.0 * (err_n[0] ? err[0] : r) + 1e-12;
    if (r > cap)
        r = cap;
    err[0] = err_n[0] == 0 ? r : err[0] + ae * (r - err[0]);
    err_n[0] += 1;
    if (f->has1) {
        r = x >= f->p1 ? x - f->p1 : f->p1 - x;
        double c1 = err_n[1] ? 4.0 * err[1] + 1e-12 : cap;
        if (r > c1)
            r = c1;
        err[1] = err_n[1] == 0 ? r : err[1] + ae * (r - err[1]);
        err_n[1] += 1;
    }
    if (f->has2) {
        r = x >= f->p2 ? x - f->p2 : f->p2 - x;
        double c2 = err_n[2] ? 4.0 * err[2] + 1e-12 : cap;
        if (r > c2)
            r = c2;
        err[2] = err_n[2] == 0 ? r : err[2] + ae * (r - err[2]);
        err_n[2] += 1;
    }
    c->fast += c->alpha_fast * (x - c->fast);
    double per_hour = c->dt > 0 ? 3600.0 / c->dt : 12.0;
    double dev = x - c->slow;
    int hod = f->hod, how = f->how;
    long dn = c->daily_n[hod] + 1;
    c->daily_n[hod] = dn;
    if (3.0 * per_hour == 0.0)
        return zero_division();
    double g = 1.0 / (3.0 * per_hour);
    if ((double)dn * g < 1.0)
        g = 1.0 / (double)dn;
    c->daily[hod] += g * (dev - c->daily[hod]);
    long wn = c->weekly_n[how] + 1;
    c->weekly_n[how] = wn;
    if (2.0 * per_hour == 0.0)
        return zero_division();
    g = 1.0 / (2.0 * per_hour);
    if ((double)wn * g < 1.0)
        g = 1.0 / (double)wn;
    c->weekly[how] += g * (dev - c->weekly[how]);
    c->slow += c->alpha_slow * (x - c->daily[hod] - c->slow);
    c->n += 1;
    return 0;
}

/* SeasonalModel.relevel */
static void relevel(MvCore *c, double x) {
    c->fast = x;
    double sum = 0.0;
    for (int i = 0; i < 24; i++)
        sum += c->daily[i];
    c->slow = x - (sum / 24.0);
    c->prev = x;
}

/* ---- TailCalibrator ------------------------------------------------------------------- */

/* TailCalibrator.surprise of j's views; fills j->bins */
static int calib_surprise(const MvCore *c, Judged *j, double *out) {
    double total = c->total + c->w, half = 0.5 * c->w, top = 0.0;
    int extrapolate = c->c_n >= 100; /* MIN_EXTRAPOLATE */
    for (int i = 0; i < j->nv; i++) {
        int v = j->views[i];
        double raw = j->raws[i];
        if (raw <= 0.0) {
            j->bins[i] = 0;
            continue;
        }
        double fb = 4.0 * log2(1.0 + raw);
        if (!isfinite(fb))
            return int_error(fb);
        int b = fb >= MV_BINS ? MV_BINS - 1 : (int)fb;
        j->bins[i] = b;
        if (b < c->low[v])
            continue;
        double acc = 0.0; /* sum(hist[v][b:]) */
        for (int k = b; k < MV_BINS; k++)
            acc += c->hist[v][k];
        if (total == 0.0)
            return zero_division();
        double p = (acc + half) / total;
        double m = c->vmax[v];
        if (raw > m && extrapolate)
            p *= m > 0 ? pow(m / raw, TAIL_EXP) : 1e-6;
        double s = p > 0 ? -log(p) / LOG10 : 300.0;
        if (s > top)
            top = s;
    }
    *out = top;
    return 0;
}

/* TailCalibrator._refresh_low */
static void refresh_low(MvCore *c) {
    if (c->c_n < 1000)
        return;
    double limit = 0.25 * (c->total + c->w);
    for (int v = 0; v < MV_VIEWS; v++) {
        const double *h = c->hist[v];
        double acc = 0.0;
        int b = MV_BINS;
        while (b > 0 && acc + h[b - 1] < limit) {
            b -= 1;
            acc += h[b];
        }
        c->low[v] = b > 0 ? b - 1 : 0;
    }
}

/* TailCalibrator.learn of j's views */
static void calib_learn(MvCore *c, const Judged *j) {
    double w = c->w * c->growth;
    if (w > 1e100) {
        for (int v = 0; v < MV_VIEWS; v++)
            for (int i = 0; i < MV_BINS; i++)
                c->hist[v][i] /= w;
        c->total /= w;
        w = 1.0;
    }
    c->w = w;
    c->c_n += 1;
    c->total += w;
    if (c->c_n % 128 == 0) { /* REFRESH */
        for (int v = 0; v < MV_VIEWS; v++)
            c->vmax[v] = c->vmax[v] * VMAX_DECAY;
        refresh_low(c);
    }
    for (int i = 0; i < j->nv; i++) {
        int v = j->views[i];
        c->hist[v][j->bins[i]] += w;
        if (j->raws[i] > c->vmax[v])
            c->vmax[v] = j->raws[i];
    }
}

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
    if (forecasts(c, t, &j->f))
        return -1;
    best(c, j);
    double p = j->p, sigma = j->sigma;
    double r = x - p;
    if (sigma == 0.0)
        return zero_division();
    double z = fabs(r) / sigma;
    double m = c->m_short + 0.3 * (r - c->m_short);
    if (sigma * 0.42 == 0.0)
        return zero_division();
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
        if (model_learn(c, t, x, NULL))
            return -1;
        if (!(c->hi >= x))
            c->hi = x;
        if (!(c->lo <= x))
            c->lo = x;
        return 0;
    }
    c->m_short = j->m;
    calib_learn(c, j);
    memmove(c->recent, c->recent + 1, (MV_MEDIAN_OF - 1) * sizeof(double));
    c->recent[MV_MEDIAN_OF - 1] = (x - j->p) / j->sigma;
    if (score >= c->flag) {
        c->since_alert = c->since_alert >= c->refractory ? 0 : c->since_alert + 1;
        c->flagged_run += 1;
        if (c->flagged_run >= c->relevel_after) {
            relevel(c, x);
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
    return model_learn(c, t, x, &j->f);
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

/* core.step(t, x): surprise then absorb */
static PyObject *core_step(MvCore *c, PyObject *const *args, Py_ssize_t nargs) {
    double t, x, top;
    Judged j;
    if (two_floats(args, nargs, &t, &x))
        return NULL;
    int k = views(c, t, x, &j);
    if (k < 0)
        return NULL;
    if (k == 0) {
        if (mv_learn(c, t, x, NULL, 0.0))
            return NULL;
        Py_RETURN_NONE;
    }
    if (calib_surprise(c, &j, &top))
        return NULL;
    double s = top - 0.7;
    if (s > 0 && s + c->scale == 0.0) {
        zero_division();
        return NULL;
    }
    if (mv_learn(c, t, x, &j, s > 0 ? s / (s + c->scale) : 0.0))
        return NULL;
    return Py_BuildValue("(ddd)", s, j.p, j.sigma);
}

/* core.peek(t, x): surprise alone */
static PyObject *core_peek(MvCore *c, PyObject *const *args, Py_ssize_t nargs) {
    double t, x, top;
    Judged j;
    if (two_floats(args, nargs, &t, &x))
        return NULL;
    int k = views(c, t, x, &j);
    if (k <= 0) {
        if (k < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (calib_surprise(c, &j, &top))
        return NULL;
    return Py_BuildValue("(ddd)", top - 0.7, j.p, j.sigma);
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
    {"step", (PyCFunction)(void (*)(void))core_step, METH_FASTCALL,
     "surprise(t, x) then absorb: None in the warm-up, else (s, p, sigma)."},
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

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mv", NULL, -1, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__mv(void) {
    /* math.sqrt(math.pi / 2), math.log(10.0), 0.99995 ** REFRESH, TAIL_EXP: by libm at run time */
    volatile double pi = Py_MATH_PI, ten = 10.0, decay = 0.99995, refresh = 128.0, four = 4.0;
    SQRT_PI_2 = sqrt(pi / 2);
    LOG10 = log(ten);
    VMAX_DECAY = pow(decay, refresh);
    TAIL_EXP = four;
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
