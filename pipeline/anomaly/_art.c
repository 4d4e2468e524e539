/* The adaptive-resonance judge after its probation, compiled (native part of
 * pipeline.anomaly.art; read that module's docstring first).
 *
 *   ArtCore(state)      the judge whose ArtJudge.state() is `state` (its probation over)
 *   core.push(x)        ArtJudge.push: None, or the closed block's confidence (0.0: no anomaly)
 *   core.state(raw=False)  the same dict ArtJudge.state() gives, so either can carry on from it
 *                       (raw: the categories and their use times as bytes of doubles)
 *   present(w, used, n, x, rho_lb, rho_ub, clock) -> (mismatch, s, e, n)
 *                       DualVigilanceArt.present on its numpy arrays, in place (the probation's)
 *
 * Every step is ArtJudge's, operation for operation, so the two give the same numbers bit for bit
 * (tests/pipeline/anomaly/test_art_native.py streams NAB files through both): sums of a
 * category's features follow numpy's pairwise order (eight accumulators below 128 values), the
 * similarity is (F·F·F)·(E·E) as the Python writes it, rounding is to nearest even as Python's
 * round(), and the Python min/max/argmax tie rules are kept. The probation (ArtJudge._start:
 * initial vigilance over the probation's windows) stays in Python; the judge moves here after it.
 * Pickles through its state. The state's way in and out is _art_state.c.
 */
#include "_art.h"
#include <math.h>
#include <string.h>

static const double R2 = 0.70710678118654757; /* math.sqrt(0.5) */
static const double RHO_UB_CAP = 0.97;

/* numpy's pairwise sum of n contiguous doubles (what ndarray.sum(axis=1) does per row) */
double art_pairwise(const double *a, long n) {
    if (n < 8) {
        double res = 0.;
        for (long i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        long i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    long n2 = n / 2;
    n2 -= n2 % 8;
    return art_pairwise(a, n2) + art_pairwise(a + n2, n - n2);
}

/* ---- the judge ------------------------------------------------------------------------- */

/* ArtJudge._level */
static double level(ArtCore *c, double ds) {
    double span = c->hi - c->lo;
    double v = span > 0 ? (ds - c->lo) / span : 0.0;
    long nl = c->levels;
    double r = nearbyint(v * (double)nl);
    long lev = r < 0 ? 0 : (r > (double)nl ? nl : (long)r);
    c->medbin[lev] += 1;
    c->med_n += 1;
    long half = c->med_n / 2, med = 0;
    long acc = c->medbin[0];
    while (acc <= half) {
        med += 1;
        acc += c->medbin[med];
    }
    double lv = (double)lev / (double)nl, m = (double)med / (double)nl;
    return fabs(lv - m) < c->chomp ? m : lv;
}

/* ArtJudge._widen */
static void widen(ArtCore *c, double lo, double hi) {
    double old = c->hi - c->lo, span = hi - lo;
    double a = old / span, b = (c->lo - lo) / span;
    c->lo = lo, c->hi = hi;
    for (long i = 0; i < c->window; i++)
        c->fwin[i] = a * c->fwin[i] + b;
    long d = c->dim2 / 2, w0 = c->window, w1 = 2 * c->window;
    for (long k = 0; k < c->n_cat; k++) {
        double *row = c->w + k * c->dim2;
        for (long j = w0; j < w1; j++) {
            row[j] = a * row[j] + b;
            row[d + j] = 1.0 - (a * (1.0 - row[d + j]) + b);
        }
        c->wsum[k] = art_pairwise(row, c->dim2);
    }
    long nl = c->levels;
    long *bins = PyMem_Calloc((size_t)(nl + 1), sizeof(long));
    if (bins == NULL)
        return; /* cannot happen for a few hundred longs; the old bins stay */
    for (long lev = 0; lev <= nl; lev++) {
        if (!c->medbin[lev])
            continue;
        double r = nearbyint((a * (double)lev / (double)nl + b) * (double)nl);
        long t = r < 0 ? 0 : (r > (double)nl ? nl : (long)r);
        bins[t] += c->medbin[lev];
    }
    PyMem_Free(c->medbin);
    c->medbin = bins;
}

/* _unit of fuzzy_art: scaled to [0, 1] (shifted only when flat) */
static void unit(double *v, long n) {
    double lo = v[0], hi = v[0];
    for (long i = 1; i < n; i++) {
        if (v[i] < lo)
            lo = v[i];
        if (v[i] > hi)
            hi = v[i];
    }
    double span = hi - lo;
    for (long i = 0; i < n; i++)
        v[i] = span != 0 ? (v[i] - lo) / span : v[i] - lo;
}

/* window_features (Haar of the unit window, unit again, then the levels) into c->feat */
static void features(ArtCore *c) {
    long w = c->window;
    double a[64] = {0}, s[64], out[64];
    for (long i = 0; i < w; i++)
        a[i] = c->fwin[i];
    unit(a, w);
    long len = w, filled = 0; /* out holds the details found so far, coarsest first */
    while (len > 1) {
        long h = len / 2;
        /* the new (coarser) details go in front of those found before */
        memmove(out + h, out, (size_t)filled * sizeof(double));
        for (long i = 0; i < h; i++) {
            s[i] = (a[2 * i] + a[2 * i + 1]) * R2;
            out[i] = (a[2 * i] - a[2 * i + 1]) * R2;
        }
        filled += h;
        memcpy(a, s, (size_t)h * sizeof(double));
        len = h;
    }
    c->feat[0] = a[0];
    memcpy(c->feat + 1, out, (size_t)filled * sizeof(double));
    unit(c->feat, w);
    for (long i = 0; i < w; i++)
        c->feat[w + i] = c->fwin[i];
}

/* |x ∧ row|: the elementwise minimum summed in numpy's pairwise order, without storing it */
static double min_sum(const double *row, const double *x, long n) {
    if (n < 8 || n > 128) {
        double em[256];
        for (long j = 0; j < n; j++)
            em[j] = row[j] <= x[j] ? row[j] : x[j];
        return art_pairwise(em, n);
    }
    double r[8];
    long i;
    for (int j = 0; j < 8; j++)
        r[j] = row[j] <= x[j] ? row[j] : x[j];
    for (i = 8; i < n - (n % 8); i += 8)
        for (int j = 0; j < 8; j++)
            r[j] += row[i + j] <= x[i + j] ? row[i + j] : x[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++)
        res += row[i] <= x[i] ? row[i] : x[i];
    return res;
}

/* DualVigilanceArt.present of complement-coded x (dim2 values) against the n_cat categories
 * `w` (rows of dim2; `wsum` their pairwise sums, or NULL to sum them here), learning it; m and e
 * are scratch of n_cat. Returns mismatch; *s_out / *e_out the best similarity and its E. */
static int art_present(double *w, double *used, double *wsum, long *n_cat, long cap, long dim2,
                       double rho_lb, double rho_ub, long clock, const double *x, double *m,
                       double *e, double *s_out, double *e_out) {
    long d = dim2 / 2, n = *n_cat, k;
    if (n == 0) { /* nothing known: a mismatch of similarity 0 */
        *s_out = 0.0, *e_out = 0.0;
        k = (*n_cat)++;
        memcpy(w, x, (size_t)dim2 * sizeof(double));
        if (wsum != NULL)
            wsum[0] = art_pairwise(x, dim2);
        used[0] = (double)clock;
        return 1;
    }
    long best = 0;
    double xa = x[d - 1], xb = x[dim2 - 1];
    for (k = 0; k < n; k++) {
        const double *row = w + k * dim2;
        double num = min_sum(row, x, dim2), den = wsum != NULL ? wsum[k] : art_pairwise(row, dim2);
        double f = den > 0 ? num / den : 1.0;
        double ra = row[d - 1], rb = row[dim2 - 1];
        double ne = (ra <= xa ? ra : xa) + (rb <= xb ? rb : xb), de = ra + rb;
        double ek = de > 0 ? ne / de : 1.0;
        m[k] = f * f * f * (ek * ek);
        e[k] = ek;
        if (m[k] > m[best])
            best = k;
    }
    double s = m[best];
    *s_out = s, *e_out = e[best];
    int any = 0;
    for (k = 0; k < n; k++) {
        if (m[k] >= rho_ub) {
            double *row = w + k * dim2;
            for (long j = 0; j < dim2; j++)
                row[j] = row[j] <= x[j] ? row[j] : x[j];
            if (wsum != NULL)
                wsum[k] = art_pairwise(row, dim2);
            used[k] = (double)clock;
            any = 1;
        }
    }
    if (any)
        return 0;
    if (n < cap) {
        k = (*n_cat)++;
    } else {
        k = 0;
        for (long i = 1; i < cap; i++)
            if (used[i] < used[k])
                k = i;
    }
    memcpy(w + k * dim2, x, (size_t)dim2 * sizeof(double));
    if (wsum != NULL)
        wsum[k] = art_pairwise(x, dim2);
    used[k] = (double)clock;
    return s < rho_lb;
}

/* the judge's present: the complement code of c->feat */
static int present(ArtCore *c, double *s_out, double *e_out) {
    long d = c->dim2 / 2;
    for (long j = 0; j < d; j++) {
        c->x[j] = c->feat[j];
        c->x[d + j] = 1.0 - c->feat[j];
    }
    c->clock += 1;
    return art_present(c->w, c->used, c->wsum, &c->n_cat, c->cap, c->dim2, c->rho_lb, c->rho_ub,
                       c->clock, c->x, c->m, c->e, s_out, e_out);
}

/* _art.present(w, used, n, x, rho_lb, rho_ub, clock) -> (mismatch, s, e, n): DualVigilanceArt's
 * present on its own numpy arrays (w: cap × dim2, used: cap, x: dim2, all float64, C order;
 * w and used are updated in place), for the judge's probation in Python */
static PyObject *py_present(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer wb, ub, xb;
    long n, clock;
    double rho_lb, rho_ub;
    if (!PyArg_ParseTuple(args, "w*w*ly*ddl", &wb, &ub, &n, &xb, &rho_lb, &rho_ub, &clock))
        return NULL;
    PyObject *out = NULL;
    long cap = (long)(ub.len / (Py_ssize_t)sizeof(double)), dim2 = (long)(xb.len / (Py_ssize_t)sizeof(double));
    double *m = NULL, *e = NULL;
    if (dim2 < 2 || dim2 > 256 || dim2 % 2 || wb.len != (Py_ssize_t)(cap * dim2 * (long)sizeof(double)) ||
        n < 0 || n > cap) {
        PyErr_SetString(PyExc_ValueError, "present: w must be cap × dim2 float64, x dim2 (even, ≤ 256), 0 ≤ n ≤ cap");
        goto done;
    }
    m = PyMem_Malloc((size_t)(cap > 0 ? cap : 1) * sizeof(double));
    e = PyMem_Malloc((size_t)(cap > 0 ? cap : 1) * sizeof(double));
    if (m == NULL || e == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double s, ej;
    int mismatch = art_present((double *)wb.buf, (double *)ub.buf, NULL, &n, cap, dim2, rho_lb, rho_ub,
                               clock, (const double *)xb.buf, m, e, &s, &ej);
    out = Py_BuildValue("(Oddl)", mismatch ? Py_True : Py_False, s, ej, n);
done:
    PyMem_Free(m);
    PyMem_Free(e);
    PyBuffer_Release(&wb);
    PyBuffer_Release(&ub);
    PyBuffer_Release(&xb);
    return out;
}

static void shift_in(double *a, long n, double v) {
    memmove(a, a + 1, (size_t)(n - 1) * sizeof(double));
    a[n - 1] = v;
}

/* ArtJudge._revise */
static void revise(ArtCore *c, long i) {
    double v = c->ub_sum / (double)c->ub_n;
    double ub = v < RHO_UB_CAP ? v : RHO_UB_CAP;
    double lb = c->rho_lb;
    double low = c->sim_win[0];
    for (long k = 1; k < c->n_win; k++)
        if (c->sim_win[k] < low)
            low = c->sim_win[k];
    if (lb <= low) {
        lb += (low - lb) * 0.19;
    } else {
        double decr = 0.0;
        if (i > 2 * c->trend) {
            double sum = 0.0;
            long cnt = 0;
            for (long k = 0; k < c->n_diff; k++) {
                double dd = c->sim_diff[k];
                if (dd > 0.05) {
                    sum += dd < 0.37 ? dd : 0.37;
                    cnt++;
                }
            }
            if (cnt)
                decr = sum / (double)cnt;
        }
        lb -= (decr > 0.01 ? decr : 0.01) / 2;
        if (c->hist_n) {
            double h = c->hist_sum / (double)c->hist_n;
            lb = lb > h ? lb : h;
        }
    }
    c->rho_lb = lb < ub ? lb : ub;
    c->rho_ub = ub;
    c->last_rho_i = i;
    c->mask_cat = 1;
}

/* ArtJudge._detect of c->feat at block i */
static double detect(ArtCore *c, long i) {
    long mask = c->mask;
    long since = i - c->last_anom_i;
    int mask_anom = since <= mask;
    int rev = i > c->trend && (since == mask || i - c->last_rho_i >= c->trend / 2);
    if (c->mask_cat && i > c->trend + mask && c->no_new >= mask)
        c->mask_cat = 0;
    double s, e;
    int mismatch = present(c, &s, &e);
    c->no_new = mismatch ? 0 : c->no_new + 1;
    c->ub_sum += s;
    c->ub_n += 1;
    shift_in(c->sim_win, c->n_win, s);
    shift_in(c->sim_diff, c->n_diff, c->rho_ub - s);
    if (since < mask && c->hist_n && s < c->hist_last) {
        c->hist_sum += s - c->hist_last;
        c->hist_last = s;
    }
    double out = 0.0;
    if (i > c->trend && mismatch &&
        (!(c->mask_cat || mask_anom) || s < c->last_anom_sim * (mask_anom ? 0.9 : 0.7))) {
        double sc = s < 0.999 ? s : 0.999;
        double conf = 0.35 * (c->rho_ub - sc) / (1 - sc) + 0.65 * (c->rho_lb - sc) / (1 - sc) +
                      1.5 * (1.0 - e);
        out = conf < 1.0 ? conf : 1.0;
        c->hist_sum += s;
        c->hist_n += 1;
        c->hist_last = c->last_anom_sim = s;
        c->last_anom_i = i;
    }
    c->mask_cat = mismatch || c->mask_cat;
    if (rev)
        revise(c, i);
    return out;
}

static PyObject *core_push(ArtCore *c, PyObject *arg) {
    double x = PyFloat_AsDouble(arg);
    if (x == -1.0 && PyErr_Occurred())
        return NULL;
    c->n += 1;
    c->b_sum += x;
    if (x < c->b_min)
        c->b_min = x;
    if (x > c->b_max)
        c->b_max = x;
    c->b_n += 1;
    if (c->b_n < c->step)
        Py_RETURN_NONE;
    double mean = c->b_sum / (double)c->b_n, mn = c->b_min, mx = c->b_max;
    c->b_sum = 0.0, c->b_min = INFINITY, c->b_max = -INFINITY, c->b_n = 0;
    double ma = c->ma != c->ma ? mean : c->ma;
    ma = c->ma = (ma + mean) / 2;
    double ds = fabs(mn - ma) > fabs(mx - ma) ? mn : mx;
    if (fabs(ds - mean) < 0.1 * fabs(mean))
        ds = mean;
    c->dsi += 1;
    if (mn < c->lo || mx > c->hi)
        widen(c, c->lo < mn ? c->lo : mn, c->hi > mx ? c->hi : mx);
    shift_in(c->fwin, c->window, level(c, ds));
    features(c);
    return PyFloat_FromDouble(detect(c, c->dsi));
}

static PyObject *core_reduce(ArtCore *c, PyObject *Py_UNUSED(ignored)) {
    PyObject *st = art_state_dict(c, 1);
    return st == NULL ? NULL : Py_BuildValue("(O(N))", (PyObject *)Py_TYPE(c), st);
}

static PyObject *core_warm(ArtCore *Py_UNUSED(c), void *Py_UNUSED(closure)) { Py_RETURN_TRUE; }

static PyMethodDef core_methods[] = {
    {"push", (PyCFunction)core_push, METH_O, "ArtJudge.push: None, or the block's confidence."},
    {"state", (PyCFunction)(void (*)(void))art_state, METH_VARARGS | METH_KEYWORDS,
     "ArtJudge.state()'s dict (raw=True: the categories and their use times as bytes)."},
    {"__reduce__", (PyCFunction)core_reduce, METH_NOARGS, "Pickle through the state."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef core_getset[] = {
    {"warm", (getter)core_warm, NULL, "Always True: the core starts after the probation.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ArtCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pipeline.anomaly._art.ArtCore",
    .tp_basicsize = sizeof(ArtCore),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The adaptive-resonance judge after its probation (see the module source).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)art_init,
    .tp_dealloc = (destructor)art_dealloc,
    .tp_methods = core_methods,
    .tp_getset = core_getset,
};

static PyMethodDef module_methods[] = {
    {"present", py_present, METH_VARARGS, "DualVigilanceArt.present on its numpy arrays (in place)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_art", NULL, -1, module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__art(void) {
    if (PyType_Ready(&ArtCoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ArtCoreType);
    if (PyModule_AddObject(m, "ArtCore", (PyObject *)&ArtCoreType) < 0) {
        Py_DECREF(&ArtCoreType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
