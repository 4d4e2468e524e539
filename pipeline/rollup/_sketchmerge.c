/* Merge columnar quantile sketches (native part of pipeline.rollup.merge; read that module's
 * docstring first).
 *
 *   merge(chunks, order, starts[, floor]) -> (out_offsets, out_bins, out_counts, out_totals)
 *
 * Inputs are buffers (numpy arrays): the source sketches as one Arrow list column in chunks --
 * `chunks` a sequence of (offsets, bins, counts) per chunk: `offsets` (int32, chunk rows + 1)
 * into `bins` (int32) and `counts` (float64, or None in every chunk: every entry counts 1); rows
 * are numbered across the chunks in order, so the column is read where it lies (no copy to
 * combine it) -- and the output groups: group g merges the source rows order[starts[g]] ...
 * order[starts[g+1]-1] (`order` and `starts` int64). Entries whose bin is below `floor` (default
 * INT32_MIN: none) are markers, not bins, and are skipped (the raw tier's listed entries,
 * pipeline.rollup.sql). Per group the bins are added up (equal bins: counts add, in the order the
 * rows and entries come, so the sums equal numpy's stable-sorted reduceat bit for bit) and come
 * out strictly ascending. Returned as bytes: int32 offsets (groups + 1), int32 bins, float64
 * counts, and float64 totals (per group, the sum of its counts in entry order).
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
    Py_ssize_t rows, nbins;
} chunk_t;

typedef struct {
    const int32_t *bins;
    const double *counts; /* NULL: every entry counts 1 */
    int32_t n;
} row_t;

typedef struct {
    chunk_t *chunks;
    int64_t *row0; /* first row of each chunk, and the total at the end */
    Py_ssize_t nchunks;
    Py_ssize_t last; /* the chunk of the row looked up last: the next is usually in it too */
    const int64_t *order, *starts;
    Py_ssize_t rows, norder, ngroups;
    int32_t *out_offsets, *out_bins;
    double *out_counts, *out_totals;
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

/* Source row r (checked: 0 <= r < rows, its entries inside its chunk's buffers): 0, or -1. */
static int row_at(job_t *j, int64_t r, row_t *out) {
    if (r < 0 || r >= j->rows)
        return -1;
    Py_ssize_t lo = j->last;
    if (!(j->row0[lo] <= r && r < j->row0[lo + 1])) {
        lo = 0; /* the chunk with row0[c] <= r < row0[c + 1] (the last such: chunks may be empty) */
        Py_ssize_t hi = j->nchunks - 1;
        while (lo < hi) {
            Py_ssize_t mid = (lo + hi + 1) / 2;
            if (j->row0[mid] <= r)
                lo = mid;
            else
                hi = mid - 1;
        }
        j->last = lo;
    }
    const chunk_t *c = &j->chunks[lo];
    int64_t k = r - j->row0[lo];
    int32_t s = c->offsets[k], e = c->offsets[k + 1];
    if (s < 0 || e < s || e > c->nbins)
        return -1;
    out->bins = c->bins + s;
    out->counts = c->counts ? c->counts + s : NULL;
    out->n = e - s;
    return 0;
}

#define COUNT(rv, i) ((rv).counts ? (rv).counts[i] : 1.0)

static Py_ssize_t run(job_t *j) {
    Py_ssize_t out = 0;
    j->out_offsets[0] = 0;
    row_t rv;
    for (Py_ssize_t g = 0; g < j->ngroups; g++) {
        int64_t a = j->starts[g], b = j->starts[g + 1];
        if (a < 0 || b < a || b > j->norder) {
            j->error = "starts must be non-decreasing positions in order";
            return -1;
        }
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        Py_ssize_t total = 0;
        int sorted = 1; /* entries of a single row already strictly ascending, no markers */
        for (int64_t k = a; k < b; k++) {
            if (row_at(j, j->order[k], &rv) < 0) {
                j->error = "order or offsets out of range";
                return -1;
            }
            for (int32_t i = 0; i < rv.n; i++) {
                int32_t v = rv.bins[i];
                if (v < j->floor) {
                    sorted = 0;
                    continue;
                }
                if (i > 0 && v <= rv.bins[i - 1])
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
        Py_ssize_t first = out;
        if (total > 0 && sorted) {
            row_at(j, j->order[a], &rv);
            for (Py_ssize_t i = 0; i < total; i++) {
                j->out_bins[out + i] = rv.bins[i];
                j->out_counts[out + i] = COUNT(rv, i);
            }
            out += total;
        } else if (total > 0 && total <= SMALL) {
            /* a few entries (a minute of raw samples): a stable insertion sort, no dense array */
            int32_t sb[SMALL];
            double sc[SMALL];
            Py_ssize_t n = 0;
            for (int64_t k = a; k < b; k++) {
                row_at(j, j->order[k], &rv);
                for (int32_t i = 0; i < rv.n; i++) {
                    int32_t v = rv.bins[i];
                    if (v < j->floor)
                        continue;
                    double c = COUNT(rv, i);
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
                row_at(j, j->order[k], &rv);
                for (int32_t i = 0; i < rv.n; i++)
                    if (rv.bins[i] >= j->floor)
                        j->dense[rv.bins[i] - lo] += COUNT(rv, i);
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
                row_at(j, j->order[k], &rv);
                for (int32_t i = 0; i < rv.n; i++) {
                    if (rv.bins[i] < j->floor)
                        continue;
                    j->sparse[n].bin = rv.bins[i];
                    j->sparse[n].pos = n;
                    j->sparse[n].count = COUNT(rv, i);
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
        double sum = 0.0;
        for (Py_ssize_t i = first; i < out; i++)
            sum += j->out_counts[i];
        j->out_totals[g] = sum;
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

/* The buffers of every chunk: 3 views each (counts unused when absent). */
typedef struct {
    Py_buffer off, bins, counts;
    int have_off, have_bins, have_counts;
} views_t;

static void release(views_t *v, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (v[i].have_off)
            PyBuffer_Release(&v[i].off);
        if (v[i].have_bins)
            PyBuffer_Release(&v[i].bins);
        if (v[i].have_counts)
            PyBuffer_Release(&v[i].counts);
    }
}

static PyObject *merge(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o_chunks, *o_order, *o_starts;
    int floor = INT32_MIN;
    if (!PyArg_ParseTuple(args, "OOO|i", &o_chunks, &o_order, &o_starts, &floor))
        return NULL;
    PyObject *seq = PySequence_Fast(o_chunks, "chunks must be a sequence of (offsets, bins, counts)");
    if (!seq)
        return NULL;
    Py_ssize_t nchunks = PySequence_Fast_GET_SIZE(seq);
    PyObject *result = NULL, *b_off = NULL, *b_bins = NULL, *b_counts = NULL, *b_totals = NULL;
    Py_buffer order, starts;
    int have_order = 0, have_starts = 0;
    views_t *views = calloc((size_t)(nchunks ? nchunks : 1), sizeof(views_t));
    job_t j = {0};
    j.chunks = calloc((size_t)(nchunks ? nchunks : 1), sizeof(chunk_t));
    j.row0 = calloc((size_t)nchunks + 1, sizeof(int64_t));
    if (!views || !j.chunks || !j.row0) {
        PyErr_NoMemory();
        goto done;
    }
    int counts_seen = -1; /* every chunk has counts, or none */
    for (Py_ssize_t c = 0; c < nchunks; c++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, c);
        PyObject *o_off, *o_bins, *o_counts;
        if (!PyArg_ParseTuple(item, "OOO", &o_off, &o_bins, &o_counts))
            goto done;
        views_t *v = &views[c];
        if (view(o_off, &v->off, 4, "offsets") < 0)
            goto done;
        v->have_off = 1;
        if (view(o_bins, &v->bins, 4, "bins") < 0)
            goto done;
        v->have_bins = 1;
        int has = o_counts != Py_None;
        if (counts_seen >= 0 && has != counts_seen) {
            PyErr_SetString(PyExc_ValueError, "counts must be given for every chunk or for none");
            goto done;
        }
        counts_seen = has;
        if (has) {
            if (view(o_counts, &v->counts, 8, "counts") < 0)
                goto done;
            v->have_counts = 1;
        }
        chunk_t *ch = &j.chunks[c];
        ch->offsets = v->off.buf;
        ch->bins = v->bins.buf;
        ch->counts = has ? v->counts.buf : NULL;
        ch->rows = v->off.len / 4 - 1;
        ch->nbins = v->bins.len / 4;
        if (ch->rows < 0 || (has && v->counts.len / 8 != ch->nbins)) {
            PyErr_SetString(PyExc_ValueError, "need offsets of at least one item, counts as long as bins");
            goto done;
        }
        j.row0[c + 1] = j.row0[c] + ch->rows;
    }
    if (view(o_order, &order, 8, "order") < 0)
        goto done;
    have_order = 1;
    if (view(o_starts, &starts, 8, "starts") < 0)
        goto done;
    have_starts = 1;
    j.nchunks = nchunks;
    j.order = order.buf;
    j.starts = starts.buf;
    j.floor = (int32_t)floor;
    j.rows = j.row0[nchunks];
    j.norder = order.len / 8;
    j.ngroups = starts.len / 8 - 1;
    if (j.ngroups < 0) {
        PyErr_SetString(PyExc_ValueError, "need starts of at least one item");
        goto done;
    }
    /* upper bound of the output: every entry of every row the groups name */
    Py_ssize_t cap = 0;
    for (Py_ssize_t k = 0; k < j.norder; k++) {
        row_t rv;
        if (row_at(&j, j.order[k], &rv) < 0) {
            PyErr_SetString(PyExc_ValueError, "order or offsets out of range");
            goto done;
        }
        cap += rv.n;
    }
    /* written in place into the bytes objects returned (no copy), shrunk to size at the end */
    b_off = PyBytes_FromStringAndSize(NULL, (j.ngroups + 1) * 4);
    b_bins = PyBytes_FromStringAndSize(NULL, cap * 4);
    b_counts = PyBytes_FromStringAndSize(NULL, cap * 8);
    b_totals = PyBytes_FromStringAndSize(NULL, j.ngroups * 8);
    if (!b_off || !b_bins || !b_counts || !b_totals)
        goto done;
    j.out_offsets = (int32_t *)PyBytes_AS_STRING(b_off);
    j.out_bins = (int32_t *)PyBytes_AS_STRING(b_bins);
    j.out_counts = (double *)PyBytes_AS_STRING(b_counts);
    j.out_totals = (double *)PyBytes_AS_STRING(b_totals);
    Py_ssize_t n;
    Py_BEGIN_ALLOW_THREADS
    n = run(&j);
    Py_END_ALLOW_THREADS
    if (n < 0) {
        PyErr_SetString(j.error && strcmp(j.error, "out of memory") == 0 ? PyExc_MemoryError : PyExc_ValueError,
                        j.error ? j.error : "merge failed");
        goto done;
    }
    if (n < cap && (_PyBytes_Resize(&b_bins, n * 4) < 0 || _PyBytes_Resize(&b_counts, n * 8) < 0))
        goto done;
    result = PyTuple_Pack(4, b_off, b_bins, b_counts, b_totals);
done:
    Py_XDECREF(b_off);
    Py_XDECREF(b_bins);
    Py_XDECREF(b_counts);
    Py_XDECREF(b_totals);
    free(j.dense);
    free(j.sparse);
    if (have_starts)
        PyBuffer_Release(&starts);
    if (have_order)
        PyBuffer_Release(&order);
    if (views)
        release(views, nchunks);
    free(views);
    free(j.chunks);
    free(j.row0);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"merge", merge, METH_VARARGS, "merge(chunks, order, starts[, floor]) -> (offsets, bins, counts, totals) bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sketchmerge", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sketchmerge(void) { return PyModule_Create(&module); }
