/* The sequence judge compiled (native part of pipeline.anomaly.sequence; read that module's
 * docstring first): SequenceModel with its one-view TailCalibrator (pipeline.anomaly.calibrate).
 *
 *   SeqCore(bins=12, warmup=300, decay=0.9995, window=10, halflife=3000.0, report_after=600)
 *                       a fresh model, as SequenceModel(...)
 *   SeqCore(state)      the model whose SequenceModel.state() is `state` (either's: the same dict)
 *   core.surprise(x, *, learn=True)   SequenceModel.surprise
 *   core.state()        SequenceModel.state()'s dict, so either can carry on from it
 *
 * Every step is the Python's, operation for operation, so the two give the same numbers bit for
 * bit (tests/pipeline/anomaly/test_seq_native.py): sums run left to right as Python 3.11's sum()
 * of floats does (the window oldest to newest, the histogram's tail bin b up to 63), the logarithms
 * and powers are libm's log10 / log / log2 / pow as math.log10 / math.log / math.log2 / float **
 * call them (their domain errors raised alike), int() truncates toward zero (NaN and infinity
 * raise ValueError / OverflowError as int() does, before any cast), the warm-up values are sorted
 * by list.sort itself, and nothing is contracted into fused multiply-adds (setup.py:
 * -ffp-contract=off). The Python module stays the reference. Pickles through its state; the
 * state's way in and out is _seq_state.c.
 */
#include "_seq.h"
#include "structmember.h"
#include <math.h>
#include <stddef.h>

static const double LOG10 = 2.302585092994046;           /* math.log(10.0) (calibrate._LOG10) */
static const double VMAX_DECAY = 0.9936202773945931;     /* 0.99995 ** 128 (calibrate._VMAX_DECAY) */
static const double PRIOR = 0.1;                         /* sequence._PRIOR */
static const double TAIL_EXP = 4.0;
#define REFRESH 128
#define MIN_EXTRAPOLATE 100

/* math.log10 / math.log: the libm function, ValueError where CPython's m_log10 / m_log set EDOM
 * (zero, negative, −inf); NaN and +inf pass through */
static int py_log(double x, int ten, double *out) {
    if (x <= 0.0) {
        PyErr_SetString(PyExc_ValueError, "math domain error");
        return -1;
    }
    *out = ten ? log10(x) : log(x);
    return 0;
}

/* int(t): NaN and infinity raise as int() does; -1 then */
static int int_check(double t) {
    if (t != t) {
        PyErr_SetString(PyExc_ValueError, "cannot convert float NaN to integer");
        return -1;
    }
    if (isinf(t)) {
        PyErr_SetString(PyExc_OverflowError, "cannot convert float infinity to integer");
        return -1;
    }
    return 0;
}

/* ---- TailCalibrator, one view ---------------------------------------------------------- */

/* the histogram bin of raw > 0 (or NaN): int(4·log2(1 + raw)), at most 63 */
static int calib_bin(double raw, long *b) {
    double t = 4.0 * log2(1.0 + raw); /* 1 + raw ≥ 1: m_log2 is log2 here */
    if (int_check(t) < 0)
        return -1;
    *b = t >= (double)(SEQ_HBINS - 1) ? SEQ_HBINS - 1 : (long)t; /* t ≥ 0: the cast is int() */
    return 0;
}

/* TailCalibrator.surprise1: *out the surprise of raw, *bin its bin */
static int calib_surprise(const SeqData *d, double raw, double *out, long *bin) {
    *out = 0.0, *bin = 0;
    if (raw <= 0.0)
        return 0;
    long b;
    if (calib_bin(raw, &b) < 0)
        return -1;
    *bin = b;
    if (b < d->low)
        return 0;
    double acc = 0.0; /* sum(hist[0][b:]) */
    for (long k = b; k < SEQ_HBINS; k++)
        acc += d->hist[k];
    double p = (acc + 0.5 * d->w) / (d->ctotal + d->w);
    double m = d->vmax;
    if (raw > m && d->n >= MIN_EXTRAPOLATE)
        p *= m > 0 ? pow(m / raw, TAIL_EXP) : 1e-6;
    if (p > 0) {
        double lp;
        if (py_log(p, 0, &lp) < 0)
            return -1;
        *out = -lp / LOG10;
    } else {
        *out = 300.0;
    }
    return 0;
}

/* TailCalibrator._refresh_low */
static void refresh_low(SeqData *d) {
    if (d->n < 1000)
        return;
    double limit = 0.25 * (d->ctotal + d->w), acc = 0.0;
    long b = SEQ_HBINS;
    while (b > 0 && acc + d->hist[b - 1] < limit) {
        b -= 1;
        acc += d->hist[b];
    }
    d->low = b > 0 ? b - 1 : 0;
}

/* TailCalibrator.learn of one value into view 0 */
static void calib_learn_full(SeqData *d, double raw, long b) {
    double w = d->w * d->growth;
    if (w > 1e100) {
        for (long i = 0; i < SEQ_HBINS; i++)
            d->hist[i] /= w;
        d->ctotal /= w;
        w = 1.0;
    }
    d->w = w;
    d->n += 1;
    d->ctotal += w;
    if (d->n % REFRESH == 0) {
        d->vmax = d->vmax * VMAX_DECAY;
        refresh_low(d);
    }
    d->hist[b] += w;
    if (raw > d->vmax)
        d->vmax = raw;
}

/* TailCalibrator.learn1 (surprise_learn1 is calib_surprise then this) */
static void calib_learn(SeqData *d, double raw, long b) {
    double w = d->w * d->growth;
    if (w > 1e100 || (d->n + 1) % REFRESH == 0) {
        calib_learn_full(d, raw, b);
        return;
    }
    d->w = w;
    d->n += 1;
    d->ctotal += w;
    d->hist[b] += w;
    if (raw > d->vmax)
        d->vmax = raw;
}

/* ---- SequenceModel ----------------------------------------------------------------------- */

/* SequenceModel._fix_grid: the warm-up values sorted by list.sort (NaNs and signed zeros land
 * where Python puts them), the 1st–99th percentile widened by 10 % each side */
static int fix_grid(SeqData *d) {
    long n = d->n_warm;
    PyObject *q = PyList_New(n);
    if (q == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        PyObject *v = PyFloat_FromDouble(d->warm[i]);
        if (v == NULL) {
            Py_DECREF(q);
            return -1;
        }
        PyList_SET_ITEM(q, i, v);
    }
    if (PyList_Sort(q) < 0) {
        Py_DECREF(q);
        return -1;
    }
    long i_lo = (long)(0.01 * (double)n), i_hi = (long)(0.99 * (double)n) - 1;
    if (i_hi < 0) /* n = 1: q[-1], Python's last item */
        i_hi += n;
    double lo = PyFloat_AS_DOUBLE(PyList_GET_ITEM(q, i_lo));
    double hi = PyFloat_AS_DOUBLE(PyList_GET_ITEM(q, i_hi));
    Py_DECREF(q);
    double span = hi - lo; /* (hi - lo) or (abs(hi) * 0.1 + 1e-9): NaN is true, ±0 false */
    if (span == 0.0)
        span = fabs(hi) * 0.1 + 1e-9;
    d->lo = lo - 0.1 * span, d->hi = hi + 0.1 * span;
    d->n_warm = 0;
    if (d->lo == d->lo) { /* fixed: the buffer goes (a NaN grid collects a new warm-up) */
        PyMem_Free(d->warm);
        d->warm = NULL;
    }
    return 0;
}

/* SequenceModel._calibrated: the window's mean surprise with s (learnt, or a probe of it) */
static int calibrated(SeqData *d, double s, int learn, double *out) {
    long win = d->window;
    double mean, acc = 0.0;
    if (learn) {
        if (d->n_rec < win) {
            d->recent[(d->rec_head + d->n_rec) % win] = s;
            d->n_rec += 1;
        } else { /* append, then drop the oldest */
            d->recent[d->rec_head] = s;
            d->rec_head = (d->rec_head + 1) % win;
        }
        for (long i = 0; i < d->n_rec; i++)
            acc += d->recent[(d->rec_head + i) % win];
        mean = acc / (double)d->n_rec;
    } else { /* the newest window − 1 (all when fewer), then s */
        long start = d->n_rec >= win ? d->n_rec - win + 1 : 0;
        for (long i = start; i < d->n_rec; i++)
            acc += d->recent[(d->rec_head + i) % win];
        mean = (acc + s) / (double)(d->n_rec - start + 1);
    }
    int ready = d->seen >= d->report_after;
    double o;
    long b;
    if (calib_surprise(d, mean, &o, &b) < 0)
        return -1;
    if (learn) {
        calib_learn(d, mean, b);
        d->seen += 1;
    }
    *out = ready ? o : 0.0;
    return 0;
}

/* SequenceModel.surprise */
static int seq_surprise(SeqData *d, double x, int learn, double *out) {
    if (d->lo != d->lo) { /* grid not fixed yet */
        if (learn) {
            d->warm[d->n_warm++] = x;
            if (d->n_warm >= d->warmup && fix_grid(d) < 0) {
                d->n_warm -= 1; /* out of memory: the buffer stays within its size */
                return -1;
            }
        }
        return calibrated(d, 0.0, learn, out);
    }
    long nb = d->bins, b;
    double lo = d->lo, hi = d->hi;
    if (x < lo) {
        b = 0;
    } else if (x >= hi) {
        b = nb - 1;
    } else { /* int(t) + 1 clamped to 1 … nb − 2, compared as doubles so the cast stays in range */
        double t = (x - lo) / (hi - lo) * (double)(nb - 2);
        if (int_check(t) < 0)
            return -1;
        b = t < 1.0 ? 1 : (t >= (double)(nb - 2) ? nb - 2 : (long)t + 1);
    }
    double s = 0.0;
    if (d->prev2 >= 0) {
        long c = d->prev2 * nb + d->prev1, base = c * nb;
        double m = d->scale[c] * d->decay, l;
        if (py_log((d->counts[base + b] * m + PRIOR) / (d->total[c] * m + PRIOR * (double)nb), 1, &l) < 0)
            return -1;
        s = -l;
        if (learn) {
            if (m < 1e-100) { /* fold the scale into the counts before it underflows */
                for (long k = base; k < base + nb; k++)
                    d->counts[k] *= m;
                d->total[c] *= m;
                m = 1.0;
            }
            d->scale[c] = m;
            d->counts[base + b] += 1.0 / m;
            d->total[c] += 1.0 / m;
        }
    }
    if (learn)
        d->prev2 = d->prev1, d->prev1 = b;
    return calibrated(d, s > 0.0 ? s : 0.0, learn, out);
}

/* ---- the type ---------------------------------------------------------------------------- */

static int not_ready(SeqCore *c) {
    if (c->ready)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "SeqCore is not initialised");
    return 1;
}

/* surprise(x, *, learn=True), parsed by hand (the hot path) */
static PyObject *core_surprise(SeqCore *c, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *xo = nargs == 1 ? args[0] : NULL;
    int learn = 1;
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i), *v = args[nargs + i];
        if (PyUnicode_CompareWithASCIIString(key, "learn") == 0) {
            if ((learn = PyObject_IsTrue(v)) < 0)
                return NULL;
        } else if (xo == NULL && nargs == 0 && PyUnicode_CompareWithASCIIString(key, "x") == 0) {
            xo = v;
        } else {
            PyErr_Format(PyExc_TypeError, "surprise() got an unexpected keyword argument '%U'", key);
            return NULL;
        }
    }
    if (xo == NULL || nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "surprise() takes one value x (and learn= by keyword)");
        return NULL;
    }
    if (not_ready(c))
        return NULL;
    double x = PyFloat_CheckExact(xo) ? PyFloat_AS_DOUBLE(xo) : PyFloat_AsDouble(xo);
    if (x == -1.0 && PyErr_Occurred())
        return NULL;
    double out;
    if (seq_surprise(&c->d, x, learn, &out) < 0)
        return NULL;
    return PyFloat_FromDouble(out);
}

static PyObject *core_state(SeqCore *c, PyObject *Py_UNUSED(ignored)) {
    return not_ready(c) ? NULL : seq_state_dict(&c->d);
}

static PyObject *core_reduce(SeqCore *c, PyObject *Py_UNUSED(ignored)) {
    PyObject *st = core_state(c, NULL);
    return st == NULL ? NULL : Py_BuildValue("(O(N))", (PyObject *)Py_TYPE(c), st);
}

/* SeqCore(state=None, *, bins=12, warmup=300, decay=0.9995, window=10, halflife=3000.0,
 * report_after=600): from a state, or fresh; a failed __init__ leaves an old model untouched */
static int core_init(SeqCore *c, PyObject *args, PyObject *kwds) {
    static char *kw[] = {"state", "bins", "warmup", "decay", "window", "halflife", "report_after", NULL};
    PyObject *state = Py_None;
    long bins = 12, warmup = 300, window = 10, report_after = 600;
    double decay = 0.9995, halflife = 3000.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$lldldl", kw, &state, &bins, &warmup, &decay,
                                     &window, &halflife, &report_after))
        return -1;
    Py_ssize_t given = PyTuple_GET_SIZE(args) + (kwds == NULL ? 0 : PyDict_Size(kwds));
    if (state != Py_None && given > 1) {
        PyErr_SetString(PyExc_TypeError, "SeqCore takes a state or settings, not both");
        return -1;
    }
    if (state != Py_None && !PyDict_Check(state)) {
        PyErr_Format(PyExc_TypeError, "SeqCore state must be a dict, not %.100s", Py_TYPE(state)->tp_name);
        return -1;
    }
    SeqData d = {0};
    int rc = state != Py_None ? seq_from_state(&d, state)
                              : seq_fresh(&d, bins, warmup, decay, window, halflife, report_after);
    if (rc < 0) {
        seq_free(&d);
        return -1;
    }
    if (c->ready)
        seq_free(&c->d);
    c->d = d;
    c->ready = 1;
    return 0;
}

static void core_dealloc(SeqCore *c) {
    if (c->ready)
        seq_free(&c->d);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyMethodDef core_methods[] = {
    {"surprise", (PyCFunction)(void (*)(void))core_surprise, METH_FASTCALL | METH_KEYWORDS,
     "SequenceModel.surprise(x, *, learn=True): the calibrated surprise of the window ending with x."},
    {"state", (PyCFunction)core_state, METH_NOARGS, "SequenceModel.state()'s dict."},
    {"__reduce__", (PyCFunction)core_reduce, METH_NOARGS, "Pickle through the state."},
    {NULL, NULL, 0, NULL}};

#define MEMBER(name, type) {#name, type, offsetof(SeqCore, d) + offsetof(SeqData, name), READONLY, NULL}
static PyMemberDef core_members[] = {
    MEMBER(bins, T_LONG), MEMBER(warmup, T_LONG), MEMBER(window, T_LONG), MEMBER(report_after, T_LONG),
    MEMBER(seen, T_LONG), MEMBER(prev1, T_LONG), MEMBER(prev2, T_LONG), MEMBER(decay, T_DOUBLE),
    MEMBER(lo, T_DOUBLE), MEMBER(hi, T_DOUBLE), {NULL, 0, 0, 0, NULL}};

static PyTypeObject SeqCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pipeline.anomaly._seq.SeqCore",
    .tp_basicsize = sizeof(SeqCore),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SequenceModel compiled, bit for bit (see the module source).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)core_init,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = core_methods,
    .tp_members = core_members,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_seq", NULL, -1, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__seq(void) {
    if (PyType_Ready(&SeqCoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&SeqCoreType);
    if (PyModule_AddObject(m, "SeqCore", (PyObject *)&SeqCoreType) < 0) {
        Py_DECREF(&SeqCoreType);
        Py_DECREF(m);
        return NULL;
    }
    /* the constants written out above, for the tests to hold against the Python's */
    if (PyModule_AddObject(m, "LOG10", PyFloat_FromDouble(LOG10)) < 0 ||
        PyModule_AddObject(m, "VMAX_DECAY", PyFloat_FromDouble(VMAX_DECAY)) < 0 ||
        PyModule_AddIntConstant(m, "REFRESH", REFRESH) < 0 ||
        PyModule_AddIntConstant(m, "MIN_EXTRAPOLATE", MIN_EXTRAPOLATE) < 0 ||
        PyModule_AddIntConstant(m, "BINS", SEQ_HBINS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
