/* The adaptive-resonance judge's state in and out (native part of pipeline.anomaly.art; read
 * _art.c's comment first): ArtCore(state) reads ArtJudge.state()'s dict -- the categories as lists
 * of floats, or as bytes of doubles in the pickled form -- and state(raw) writes it back. A state
 * that does not fit (a missing key, a list of the wrong length, a window that is not a power of two
 * up to 64) raises ValueError naming the field (_pyread.h's messages). */
#include "_art.h"
#include "_pylist.h"
#include "_pyread.h"
#include <limits.h>
#include <string.h>

static const PyRead TOP = {"ART state", ""}, ART = {"ART state", "art."};

static int get_double(const PyRead *r, PyObject *d, const char *key, double *out) {
    return pyread_get_num(r, d, key, out);
}

static int get_long(const PyRead *r, PyObject *d, const char *key, long *out) {
    return pyread_get_int(r, d, key, LONG_MIN, LONG_MAX, out);
}

/* d[key], a list of numbers (want of them; any number when want < 0), into a fresh array of
 * doubles or longs; *n receives its length (n may be NULL) */
static void *get_list(const PyRead *r, PyObject *d, const char *key, long want, long *n, int as_long) {
    PyObject *v = pyread_item(r, d, key);
    if (v == NULL || pyread_list(r, v, key, want < 0 ? 0 : want, want < 0 ? PY_SSIZE_T_MAX : want) == NULL)
        return NULL;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(v);
    void *buf = PyMem_Calloc(len > 0 ? (size_t)len : 1, as_long ? sizeof(long) : sizeof(double));
    if (buf == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (as_long ? pyread_ints(r, v, key, len, len, LONG_MIN, LONG_MAX, buf, n)
                : pyread_nums(r, v, key, len, len, buf, n)) {
        PyMem_Free(buf);
        return NULL;
    }
    return buf;
}

static void core_free_arrays(ArtCore *c) {
    PyMem_Free(c->medbin);
    PyMem_Free(c->fwin);
    PyMem_Free(c->sim_win);
    PyMem_Free(c->sim_diff);
    PyMem_Free(c->w);
    PyMem_Free(c->used);
    PyMem_Free(c->wsum);
    PyMem_Free(c->m);
    PyMem_Free(c->e);
    PyMem_Free(c->x);
    PyMem_Free(c->feat);
}

void art_dealloc(ArtCore *c) {
    core_free_arrays(c);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

int art_init(ArtCore *c, PyObject *args, PyObject *kwds) {
    PyObject *s, *art;
    static char *kw[] = {"state", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!", kw, &PyDict_Type, &s))
        return -1;
    PyObject *buf = PyDict_GetItemString(s, "buf");
    if (buf == NULL || buf != Py_None) {
        PyErr_SetString(PyExc_ValueError, "ART state: the probation is not over (buf is not None)");
        return -1;
    }
    if (get_long(&TOP, s, "window", &c->window) || get_long(&TOP, s, "probation", &c->probation) ||
        get_long(&TOP, s, "step", &c->step) || get_long(&TOP, s, "trend", &c->trend) ||
        get_long(&TOP, s, "mask", &c->mask) || get_long(&TOP, s, "levels", &c->levels) ||
        get_double(&TOP, s, "chomp", &c->chomp) || get_double(&TOP, s, "margin", &c->margin) ||
        get_long(&TOP, s, "n", &c->n) || get_double(&TOP, s, "b_sum", &c->b_sum) ||
        get_double(&TOP, s, "b_min", &c->b_min) || get_double(&TOP, s, "b_max", &c->b_max) ||
        get_long(&TOP, s, "b_n", &c->b_n) || get_double(&TOP, s, "ma", &c->ma) || get_double(&TOP, s, "lo", &c->lo) ||
        get_double(&TOP, s, "hi", &c->hi) || get_long(&TOP, s, "dsi", &c->dsi) ||
        get_long(&TOP, s, "med_n", &c->med_n) || get_double(&TOP, s, "ub_sum", &c->ub_sum) ||
        get_long(&TOP, s, "ub_n", &c->ub_n) || get_double(&TOP, s, "hist_sum", &c->hist_sum) ||
        get_long(&TOP, s, "hist_n", &c->hist_n) || get_double(&TOP, s, "hist_last", &c->hist_last) ||
        get_long(&TOP, s, "last_anom_i", &c->last_anom_i) ||
        get_double(&TOP, s, "last_anom_sim", &c->last_anom_sim) ||
        get_long(&TOP, s, "last_rho_i", &c->last_rho_i) || get_long(&TOP, s, "no_new", &c->no_new))
        return -1;
    if (c->window < 2 || c->window > 64 || (c->window & (c->window - 1)) || c->step < 1 ||
        c->levels < 1) {
        PyErr_SetString(PyExc_ValueError, "ART state: bad window (a power of two ≤ 64), step or levels");
        return -1;
    }
    PyObject *mc = pyread_item(&TOP, s, "mask_cat");
    if (mc == NULL)
        return -1;
    c->mask_cat = PyObject_IsTrue(mc);
    if (c->mask_cat < 0)
        return -1;
    core_free_arrays(c);
    c->medbin = NULL, c->fwin = NULL, c->sim_win = NULL, c->sim_diff = NULL;
    c->w = NULL, c->used = NULL, c->wsum = NULL, c->m = NULL, c->e = NULL, c->x = NULL, c->feat = NULL;
    if (!(c->medbin = get_list(&TOP, s, "medbin", c->levels + 1, NULL, 1)) ||
        !(c->fwin = get_list(&TOP, s, "fwin", c->window, NULL, 0)) ||
        !(c->sim_win = get_list(&TOP, s, "sim_win", -1, &c->n_win, 0)) ||
        !(c->sim_diff = get_list(&TOP, s, "sim_diff", -1, &c->n_diff, 0)))
        return -1;
    if (c->n_win < 1 || c->n_diff < 1) {
        PyErr_SetString(PyExc_ValueError, "ART state: empty similarity windows");
        return -1;
    }
    if ((art = pyread_dict(&TOP, s, "art")) == NULL)
        return -1;
    if (get_long(&ART, art, "dim2", &c->dim2) || get_long(&ART, art, "cap", &c->cap) ||
        get_double(&ART, art, "rho_lb", &c->rho_lb) || get_double(&ART, art, "rho_ub", &c->rho_ub) ||
        get_long(&ART, art, "clock", &c->clock))
        return -1;
    if (c->dim2 != 4 * c->window || c->cap < 1) {
        PyErr_SetString(PyExc_ValueError, "ART state: dim2 must be 4 × window and cap ≥ 1");
        return -1;
    }
    c->w = PyMem_Calloc((size_t)(c->cap * c->dim2), sizeof(double));
    c->used = PyMem_Calloc((size_t)c->cap, sizeof(double));
    c->wsum = PyMem_Calloc((size_t)c->cap, sizeof(double));
    c->m = PyMem_Calloc((size_t)c->cap, sizeof(double));
    c->e = PyMem_Calloc((size_t)c->cap, sizeof(double));
    c->x = PyMem_Calloc((size_t)c->dim2, sizeof(double));
    c->feat = PyMem_Calloc((size_t)c->dim2, sizeof(double));
    if (!c->w || !c->used || !c->wsum || !c->m || !c->e || !c->x || !c->feat) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *rows = pyread_item(&ART, art, "w"), *used_obj = pyread_item(&ART, art, "used");
    if (rows == NULL || used_obj == NULL)
        return -1;
    if (PyBytes_Check(rows) && PyBytes_Check(used_obj)) { /* the pickled form (core_reduce) */
        Py_ssize_t nb = PyBytes_GET_SIZE(used_obj);
        c->n_cat = (long)(nb / (Py_ssize_t)sizeof(double));
        if (nb % (Py_ssize_t)sizeof(double) || c->n_cat > c->cap ||
            PyBytes_GET_SIZE(rows) != (Py_ssize_t)(c->n_cat * c->dim2 * (long)sizeof(double))) {
            PyErr_SetString(PyExc_ValueError, "ART state: categories and their use times disagree");
            return -1;
        }
        memcpy(c->used, PyBytes_AS_STRING(used_obj), (size_t)nb);
        memcpy(c->w, PyBytes_AS_STRING(rows), (size_t)PyBytes_GET_SIZE(rows));
        for (long k = 0; k < c->n_cat; k++)
            c->wsum[k] = art_pairwise(c->w + k * c->dim2, c->dim2);
        return 0;
    }
    if (pyread_nums(&ART, used_obj, "used", 0, c->cap, c->used, &c->n_cat) ||
        pyread_list(&ART, rows, "w", c->n_cat, c->n_cat) == NULL)
        return -1;
    for (long k = 0; k < c->n_cat; k++) {
        if (pyread_nums(&ART, PySequence_Fast_GET_ITEM(rows, k), "w", c->dim2, c->dim2, c->w + k * c->dim2, NULL))
            return -1;
        c->wsum[k] = art_pairwise(c->w + k * c->dim2, c->dim2);
    }
    return 0;
}

/* ArtJudge.state()'s dict; `raw`: the categories and their use times as bytes of doubles (the
 * pickled form, a fraction of the cost of lists of floats) */
PyObject *art_state_dict(ArtCore *c, int raw) {
    PyObject *medbin = PyList_New(c->levels + 1), *rows = NULL, *used = NULL;
    if (medbin == NULL)
        return NULL;
    for (long i = 0; i <= c->levels; i++) {
        PyObject *v = PyLong_FromLong(c->medbin[i]);
        if (v == NULL)
            goto fail;
        PyList_SET_ITEM(medbin, i, v);
    }
    if (raw) {
        rows = PyBytes_FromStringAndSize((const char *)c->w, (Py_ssize_t)(c->n_cat * c->dim2 * (long)sizeof(double)));
        used = PyBytes_FromStringAndSize((const char *)c->used, (Py_ssize_t)(c->n_cat * (long)sizeof(double)));
    } else {
        rows = PyList_New(c->n_cat);
        for (long k = 0; rows != NULL && k < c->n_cat; k++) {
            PyObject *r = pylist_doubles(c->w + k * c->dim2, c->dim2, 0, 0);
            if (r == NULL)
                goto fail;
            PyList_SET_ITEM(rows, k, r);
        }
        used = pylist_doubles(c->used, c->n_cat, 0, 0);
    }
    if (rows == NULL || used == NULL)
        goto fail;
    PyObject *art = Py_BuildValue("{s:l,s:l,s:N,s:N,s:d,s:d,s:l}", "dim2", c->dim2, "cap", c->cap,
                                  "w", rows, "used", used, "rho_lb", c->rho_lb, "rho_ub", c->rho_ub,
                                  "clock", c->clock);
    if (art == NULL) {
        Py_DECREF(medbin);
        return NULL;
    }
    return Py_BuildValue(
        "{s:l,s:l,s:l,s:l,s:l,s:l,s:d,s:d,s:N,s:l,s:d,s:d,s:d,s:l,s:d,s:d,s:d,s:O,s:l,s:N,s:l,s:N,"
        "s:d,s:l,s:N,s:N,s:d,s:l,s:d,s:l,s:d,s:l,s:O,s:l}",
        "window", c->window, "probation", c->probation, "step", c->step, "trend", c->trend,
        "mask", c->mask, "levels", c->levels, "chomp", c->chomp, "margin", c->margin, "art", art,
        "n", c->n, "b_sum", c->b_sum, "b_min", c->b_min, "b_max", c->b_max, "b_n", c->b_n, "ma", c->ma,
        "lo", c->lo, "hi", c->hi, "buf", Py_None, "dsi", c->dsi, "medbin", medbin, "med_n", c->med_n,
        "fwin", pylist_doubles(c->fwin, c->window, 0, 0), "ub_sum", c->ub_sum, "ub_n", c->ub_n,
        "sim_win", pylist_doubles(c->sim_win, c->n_win, 0, 0),
        "sim_diff", pylist_doubles(c->sim_diff, c->n_diff, 0, 0), "hist_sum", c->hist_sum, "hist_n", c->hist_n, "hist_last", c->hist_last, "last_anom_i", c->last_anom_i,
        "last_anom_sim", c->last_anom_sim, "last_rho_i", c->last_rho_i, "mask_cat",
        c->mask_cat ? Py_True : Py_False, "no_new", c->no_new);
fail:
    Py_DECREF(medbin);
    Py_XDECREF(rows);
    Py_XDECREF(used);
    return NULL;
}

PyObject *art_state(ArtCore *c, PyObject *args, PyObject *kwds) {
    static char *kw[] = {"raw", NULL};
    int raw = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p", kw, &raw))
        return NULL;
    return art_state_dict(c, raw);
}

