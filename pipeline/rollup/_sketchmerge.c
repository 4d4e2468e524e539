/* Merge columnar quantile sketches (native part of pipeline.rollup.merge; read that module's
 * docstring first).
 *
 *   merge(offsets, bins, counts, order, starts[, floor]) -> (out_offsets, out_bins, out_counts)
 *
 * Inputs are buffers (numpy arrays): the source sketches as one Arrow list column -- `offsets`
 * (int32, rows + 1) into `bins` (int32) and `counts` (float64, or None: every entry counts 1) --
 * and the output groups: group g merges the source rows order[starts[g]] ... order[starts[g+1]-1]
 * (`order` and `starts` int64). Entries whose bin is below `floor` (default INT32_MIN: none) are
 * markers, not bins, and are skipped (the raw tier's listed entries, pipeline.rollup.sql). Per group the bins are added up (equal bins: counts add, in the
 * order the rows and entries come, so the sums equal numpy's stable-sorted reduceat bit for bit)
 * and come out strictly ascending. Returned as bytes: int32 offsets (groups + 1), int32 bins,
 * float64 counts.
 *
 * A group of a few entries (one series' samples of a minute) is insertion-sorted (stable: equal
 * bins add in order); one whose entries span a narrow bin range (the usual case: one series'
 * values over an hour) is added into a dense array of that range; a wide one (values of both signs, a huge
 * spread) is sorted by (bin, position) instead; a group of one row already in order is copied.
 * Every index is checked: bad input raises ValueError, never reads out of bounds. The GIL is
 * released while merging.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SMALL 48 /* groups of at most this many entries are insertion-sorted */

typedef struct {
    int32_t bin;
    int64_t pos; /* position in the group's entries: the sort is stable */
    double count;
} entry_t;

static int cmp_entry(const void *a, const void *b) {
    const entry_t *x = a, *y = b;
    if (x->bin != y->bin)
        return x->bin < y->bin ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

typedef struct {
    const int32_t *offsets, *bins;
    const double *counts;
    const int64_t *order, *starts;
    Py_ssize_t rows, nbins, norder, ngroups;
    int32_t *out_offsets, *out_bins;
    double *out_counts;
    double *dense;
    Py_ssize_t dense_cap;
    entry_t *sparse;
    Py_ssize_t sparse_cap;
    int32_t floor; /* entries below are skipped */
    const char *error;
} job_t;

static int grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t size) {
    if (need <= *cap)
        return 0;
    Py_ssize_t n = need > 2 * *cap ? need : 2 * *cap;
    void *q = realloc(*p, (size_t)n * size);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static Py_ssize_t run(job_t *j) {
    Py_ssize_t out = 0;
    j->out_offsets[0] = 0;
    for (Py_ssize_t g = 0; g < j->ngroups; g++) {
        int64_t a = j->starts[g], b = j->starts[g + 1];
        if (a < 0 || b < a || b > j->norder) {
            j->error = "starts must be non-decreasing positions in order";
            return -1;
        }
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        Py_ssize_t total = 0;
        int sorted = 1; /* entries of a single row already strictly ascending */
        for (int64_t k = a; k < b; k++) {
            int64_t r = j->order[k];
            if (r < 0 || r >= j->rows) {
                j->error = "order holds a row index out of range";
                return -1;
            }
            int32_t s = j->offsets[r], e = j->offsets[r + 1];
            if (s < 0 || e < s || e > j->nbins) {
                j->error = "offsets out of range";
                return -1;
            }
            for (int32_t i = s; i < e; i++) {
                int32_t v = j->bins[i];
                if (v < j->floor) {
                    sorted = 0;
                    continue;
                }
                if (i > s && v <= j->bins[i - 1])
                    sorted = 0;
                if (v < lo)
                    lo = v;
                if (v > hi)
                    hi = v;
                total++;
            }
        }
        if (b - a > 1)
            sorted = 0;
        if (total > 0 && sorted) {
            int32_t s = j->offsets[j->order[a]];
            for (Py_ssize_t i = 0; i < total; i++) {
                j->out_bins[out + i] = j->bins[s + i];
                j->out_counts[out + i] = j->counts ? j->counts[s + i] : 1.0;
            }
            out += total;
        } else if (total > 0 && total <= SMALL) {
            /* a few entries (a minute of raw samples): a stable insertion sort, no dense array */
            int32_t sb[SMALL];
            double sc[SMALL];
            Py_ssize_t n = 0;
            for (int64_t k = a; k < b; k++) {
                int64_t r = j->order[k];
                for (int32_t i = j->offsets[r]; i < j->offsets[r + 1]; i++) {
                    int32_t v = j->bins[i];
                    if (v < j->floor)
                        continue;
                    double c = j->counts ? j->counts[i] : 1.0;
                    Py_ssize_t m = n++;
                    while (m > 0 && sb[m - 1] > v) {
                        sb[m] = sb[m - 1];
                        sc[m] = sc[m - 1];
                        m--;
                    }
                    sb[m] = v;
                    sc[m] = c;
                }
            }
            for (Py_ssize_t i = 0; i < n; i++) {
                if (i > 0 && sb[i] == j->out_bins[out - 1]) {
                    j->out_counts[out - 1] += sc[i];
                } else {
                    j->out_bins[out] = sb[i];
                    j->out_counts[out] = sc[i];
                    out++;
                }
            }
        } else if (total > 0 && (int64_t)hi - lo < 4 * (int64_t)total + 256) {
            Py_ssize_t width = (Py_ssize_t)((int64_t)hi - lo + 1);
            if (grow((void **)&j->dense, &j->dense_cap, width, sizeof(double)) < 0) {
                j->error = "out of memory";
                return -1;
            }
            memset(j->dense, 0, (size_t)width * sizeof(double));
            for (int64_t k = a; k < b; k++) {
                int64_t r = j->order[k];
                for (int32_t i = j->offsets[r]; i < j->offsets[r + 1]; i++)
                    if (j->bins[i] >= j->floor)
                        j->dense[j->bins[i] - lo] += j->counts ? j->counts[i] : 1.0;
            }
            for (Py_ssize_t w = 0; w < width; w++) {
                if (j->dense[w] != 0.0) {
                    j->out_bins[out] = (int32_t)(lo + w);
                    j->out_counts[out] = j->dense[w];
                    out++;
                }
            }
        } else if (total > 0) {
            if (grow((void **)&j->sparse, &j->sparse_cap, total, sizeof(entry_t)) < 0) {
                j->error = "out of memory";
                return -1;
            }
            Py_ssize_t n = 0;
            for (int64_t k = a; k < b; k++) {
                int64_t r = j->order[k];
                for (int32_t i = j->offsets[r]; i < j->offsets[r + 1]; i++) {
                    if (j->bins[i] < j->floor)
                        continue;
                    j->sparse[n].bin = j->bins[i];
                    j->sparse[n].pos = n;
                    j->sparse[n].count = j->counts ? j->counts[i] : 1.0;
                    n++;
                }
            }
            qsort(j->sparse, (size_t)n, sizeof(entry_t), cmp_entry);
            for (Py_ssize_t i = 0; i < n; i++) {
                if (i > 0 && j->sparse[i].bin == j->out_bins[out - 1]) {
                    j->out_counts[out - 1] += j->sparse[i].count;
                } else {
                    j->out_bins[out] = j->sparse[i].bin;
                    j->out_counts[out] = j->sparse[i].count;
                    out++;
                }
            }
        }
        if (out > INT32_MAX) {
            j->error = "more than 2^31 entries in one merge";
            return -1;
        }
        j->out_offsets[g + 1] = (int32_t)out;
    }
    return out;
}

static int view(PyObject *obj, Py_buffer *buf, Py_ssize_t itemsize, const char *name) {
    if (PyObject_GetBuffer(obj, buf, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (buf->len % itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: buffer of %zd bytes is not a whole number of %zd-byte items", name,
                     buf->len, itemsize);
        PyBuffer_Release(buf);
        return -1;
    }
    return 0;
}

static PyObject *merge(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o_off, *o_bins, *o_counts, *o_order, *o_starts;
    int floor = INT32_MIN;
    if (!PyArg_ParseTuple(args, "OOOOO|i", &o_off, &o_bins, &o_counts, &o_order, &o_starts, &floor))
        return NULL;
    Py_buffer off, bins, counts, order, starts;
    PyObject *result = NULL;
    int have_counts = o_counts != Py_None;
    if (view(o_off, &off, 4, "offsets") < 0)
        return NULL;
    if (view(o_bins, &bins, 4, "bins") < 0)
        goto fail_off;
    if (have_counts && view(o_counts, &counts, 8, "counts") < 0)
        goto fail_bins;
    if (view(o_order, &order, 8, "order") < 0)
        goto fail_counts;
    if (view(o_starts, &starts, 8, "starts") < 0)
        goto fail_order;
    job_t j = {0};
    j.offsets = off.buf;
    j.bins = bins.buf;
    j.counts = have_counts ? counts.buf : NULL;
    j.order = order.buf;
    j.starts = starts.buf;
    j.floor = (int32_t)floor;
    j.rows = off.len / 4 - 1;
    j.nbins = bins.len / 4;
    j.norder = order.len / 8;
    j.ngroups = starts.len / 8 - 1;
    if (j.rows < 0 || j.ngroups < 0 || (have_counts && counts.len / 8 != j.nbins)) {
        PyErr_SetString(PyExc_ValueError, "need offsets and starts of at least one item, counts as long as bins");
        goto done;
    }
    /* upper bound of the output: every entry of every row the groups name */
    Py_ssize_t cap = 0;
    for (Py_ssize_t k = 0; k < j.norder; k++) {
        int64_t r = j.order[k];
        if (r < 0 || r >= j.rows || j.offsets[r] < 0 || j.offsets[r + 1] < j.offsets[r]) {
            PyErr_SetString(PyExc_ValueError, "order or offsets out of range");
            goto done;
        }
        cap += j.offsets[r + 1] - j.offsets[r];
    }
    j.out_offsets = malloc((size_t)(j.ngroups + 1) * 4);
    j.out_bins = malloc((size_t)(cap ? cap : 1) * 4);
    j.out_counts = malloc((size_t)(cap ? cap : 1) * 8);
    Py_ssize_t n = -1;
    if (j.out_offsets && j.out_bins && j.out_counts) {
        Py_BEGIN_ALLOW_THREADS
        n = run(&j);
        Py_END_ALLOW_THREADS
    } else {
        j.error = "out of memory";
    }
    if (n < 0) {
        PyErr_SetString(j.error && strcmp(j.error, "out of memory") == 0 ? PyExc_MemoryError : PyExc_ValueError,
                        j.error ? j.error : "merge failed");
    } else {
        result = Py_BuildValue("(y#y#y#)", (const char *)j.out_offsets, (Py_ssize_t)(j.ngroups + 1) * 4,
                               (const char *)j.out_bins, n * 4, (const char *)j.out_counts, n * 8);
    }
    free(j.out_offsets);
    free(j.out_bins);
    free(j.out_counts);
    free(j.dense);
    free(j.sparse);
done:
    PyBuffer_Release(&starts);
fail_order:
    PyBuffer_Release(&order);
fail_counts:
    if (have_counts)
        PyBuffer_Release(&counts);
fail_bins:
    PyBuffer_Release(&bins);
fail_off:
    PyBuffer_Release(&off);
    return result;
}

static PyMethodDef methods[] = {
    {"merge", merge, METH_VARARGS, "merge(offsets, bins, counts, order, starts[, floor]) -> (offsets, bins, counts) bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sketchmerge", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sketchmerge(void) { return PyModule_Create(&module); }
