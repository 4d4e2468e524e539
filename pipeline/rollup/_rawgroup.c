/* Group raw datapoints into buckets in one streaming pass (native part of
 * pipeline.rollup.rawgroup; read that module's docstring first).
 *
 *   state = new(nseries)
 *   accumulate(state, ids, rank_of, ts, sample_count, sum, min, max, keep, grp, bins, counts,
 *              lo, hi, period, inv_ln_gamma, offset, unlisted) -> flags
 *   rerank(state, rank_map)
 *   groups(state) -> (rank, bucket, sample_count, sum, min, max)
 *   order(state) -> order or None
 *   entries(grps, bins, counts, dest, nout, unlisted) -> (offsets, bins, counts)
 *
 * accumulate takes one batch of source rows (numpy buffers; rows in file order). Row i of
 * series rank_of[ids[i]] (ids: int32 indices into the batch's dictionary of series ids, rank_of:
 * int32 per dictionary entry, 0 <= rank < nseries) at time ts[i] (any unit; lo, hi and period in the same
 * unit) is kept when lo <= ts < hi and falls into bucket floor(ts / period). Each series has one
 * open group (state kept between calls): a row of its bucket is added to it, a row of any other
 * bucket opens a new group. Rows arrive in time order, so a (series, bucket) is nearly always one
 * group; rows out of order give it several (flag bit 2: some series went back in time), which the
 * caller merges. A group's SampleCount and Sum are added in row order, its Minimum/Maximum kept.
 * grp[i] is row i's group (-1: outside [lo, hi)); bins[i] its sketch bin
 * (pipeline.rollup.sketch: ceil(ln|v| * inv_ln_gamma) + offset, signed, 0 for 0) and counts[i]
 * its sample count when the row enters the sketch -- its series keeps one (keep[rank]) and it is
 * a set of equal values (sample_count > 0, min = max, sum = min * sample_count: CloudWatch's
 * rule, as pipeline.rollup.sql lists it) -- else bins[i] = unlisted and counts[i] = 0.
 * flags: bit 0 -- some listed row has a sample count other than 1; bit 2 (4) -- groups of one key
 * may repeat; bit 1 -- a row in range holds
 * a NaN or an infinity (the batch is then left half added: the caller falls back to SQL, which
 * defines what those mean).
 *
 * The series are numbered as the caller registers them (keep grows with them: its length is the
 * number of series so far); rerank numbers them anew (series r becomes rank_map[r], a
 * permutation), e.g. in output order once every batch is in.
 *
 * groups copies out the groups (group g: series rank, bucket index, partials), as bytes.
 *
 * order gives the groups sorted by (rank, bucket), groups of one key in the order they were
 * opened (int64 bytes): two stable counting sorts (by bucket, then by rank), as the buckets of a
 * task span a few thousand at most; None when they span more than 4 per group + 65,536.
 *
 * entries lists the sketch entries of every batch (grps/bins/counts: the arrays of each batch in
 * order; counts None: every entry counts 1) by output row -- group g goes to output row dest[g]
 * -- each output row's entries in row order (a stable counting sort; rows outside [lo, hi) and
 * unlisted ones left out):
 * int32 offsets (nout + 1), int32 bins and float64 counts (None when counts was), a list column
 * for pipeline.rollup._sketchmerge.merge. The GIL is released while adding and placing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_buffer b;
    int have;
} view_t;

static int view(PyObject *obj, view_t *v, Py_ssize_t itemsize, int writable, const char *name) {
    if (PyObject_GetBuffer(obj, &v->b, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    v->have = 1;
    if (v->b.len % itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of %zd-byte items", name, v->b.len,
                     itemsize);
        return -1;
    }
    return 0;
}

static void release(view_t *v, int n) {
    for (int i = 0; i < n; i++)
        if (v[i].have)
            PyBuffer_Release(&v[i].b);
}

static inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int32_t bin_of(double v, double inv, int32_t offset) {
    if (v > 0)
        return (int32_t)ceil(log(v) * inv) + offset;
    if (v < 0)
        return -((int32_t)ceil(log(-v) * inv) + offset);
    return 0;
}

#define FLAG_WEIGHTED 1
#define FLAG_NONFINITE 2
#define FLAG_BACK 4

typedef struct {
    Py_ssize_t nseries;
    int64_t *cur_b; /* per series: the bucket and group it added to last (group -1: none) */
    int32_t *cur_g;
    Py_ssize_t ngroups, gcap;
    int32_t *g_rank;
    int64_t *g_bucket;
    double *g_count, *g_sum, *g_min, *g_max;
} state_t;

static void state_free(PyObject *capsule) {
    state_t *st = PyCapsule_GetPointer(capsule, "rawgroup.state");
    if (!st)
        return;
    free(st->cur_b);
    free(st->cur_g);
    free(st->g_rank);
    free(st->g_bucket);
    free(st->g_count);
    free(st->g_sum);
    free(st->g_min);
    free(st->g_max);
    free(st);
}

/* Room for nseries series (more are registered as the batches name them); the new ones have no
 * open group. 0, or -1 when out of memory (the state unchanged). */
static int grow_series(state_t *st, Py_ssize_t nseries) {
    if (nseries > INT32_MAX)
        return -1;
    int64_t *b = realloc(st->cur_b, (size_t)nseries * sizeof(int64_t));
    if (!b)
        return -1;
    st->cur_b = b;
    int32_t *g = realloc(st->cur_g, (size_t)nseries * sizeof(int32_t));
    if (!g)
        return -1;
    st->cur_g = g;
    for (Py_ssize_t r = st->nseries; r < nseries; r++)
        st->cur_g[r] = -1;
    st->nseries = nseries;
    return 0;
}

static int grow_groups(state_t *st, Py_ssize_t need) {
    if (need <= st->gcap)
        return 0;
    Py_ssize_t cap = need > 2 * st->gcap ? need : 2 * st->gcap;
    void *p[6] = {st->g_rank, st->g_bucket, st->g_count, st->g_sum, st->g_min, st->g_max};
    size_t size[6] = {4, 8, 8, 8, 8, 8};
    for (int k = 0; k < 6; k++) {
        void *q = realloc(p[k], (size_t)cap * size[k]);
        if (!q)
            return -1;
        p[k] = q;
        switch (k) {
        case 0: st->g_rank = q; break;
        case 1: st->g_bucket = q; break;
        case 2: st->g_count = q; break;
        case 3: st->g_sum = q; break;
        case 4: st->g_min = q; break;
        default: st->g_max = q;
        }
    }
    st->gcap = cap;
    return 0;
}

static PyObject *new_state(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t nseries;
    if (!PyArg_ParseTuple(args, "n", &nseries))
        return NULL;
    if (nseries < 0 || nseries > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "nseries must be within [0, 2^31)");
        return NULL;
    }
    state_t *st = calloc(1, sizeof(state_t));
    if (!st)
        return PyErr_NoMemory();
    st->nseries = nseries;
    st->cur_b = malloc((size_t)(nseries ? nseries : 1) * sizeof(int64_t));
    st->cur_g = malloc((size_t)(nseries ? nseries : 1) * sizeof(int32_t));
    PyObject *capsule = PyCapsule_New(st, "rawgroup.state", state_free);
    if (!capsule) {
        free(st);
        return NULL;
    }
    if (!st->cur_b || !st->cur_g) {
        Py_DECREF(capsule);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t r = 0; r < nseries; r++)
        st->cur_g[r] = -1;
    return capsule;
}

enum { IDS, RANK_OF, TS, SC, SUM, MIN, MAX, KEEP, GRP, BINS, COUNTS, NVIEWS };

static PyObject *accumulate(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *capsule, *o[NVIEWS];
    long long lo, hi, period;
    double inv;
    int offset, unlisted;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOLLLdii", &capsule, &o[IDS], &o[RANK_OF], &o[TS], &o[SC], &o[SUM],
                          &o[MIN], &o[MAX],
                          &o[KEEP], &o[GRP], &o[BINS], &o[COUNTS], &lo, &hi, &period, &inv, &offset, &unlisted))
        return NULL;
    state_t *st = PyCapsule_GetPointer(capsule, "rawgroup.state");
    if (!st)
        return NULL;
    static const Py_ssize_t size[NVIEWS] = {4, 4, 8, 8, 8, 8, 8, 1, 4, 4, 8};
    static const int writable[NVIEWS] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    static const char *names[NVIEWS] = {"ids", "rank_of", "ts", "sample_count", "sum", "min", "max", "keep", "grp",
                                        "bins", "counts"};
    view_t v[NVIEWS] = {0};
    PyObject *result = NULL;
    for (int k = 0; k < NVIEWS; k++)
        if (view(o[k], &v[k], size[k], writable[k], names[k]) < 0)
            goto done;
    Py_ssize_t n = v[IDS].b.len / 4, nranks = v[RANK_OF].b.len / 4;
    if (period <= 0) {
        PyErr_SetString(PyExc_ValueError, "period must be positive");
        goto done;
    }
    if (v[KEEP].b.len < st->nseries) {
        PyErr_SetString(PyExc_ValueError, "keep must have one item per series");
        goto done;
    }
    if (v[KEEP].b.len > st->nseries && grow_series(st, v[KEEP].b.len) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    for (int k = TS; k < NVIEWS; k++)
        if (k != KEEP && v[k].b.len / size[k] != n) {
            PyErr_Format(PyExc_ValueError, "%s: %zd rows, ids has %zd", names[k], v[k].b.len / size[k], n);
            goto done;
        }
    if (grow_groups(st, st->ngroups + n) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    const int32_t *ids = v[IDS].b.buf, *rank_of = v[RANK_OF].b.buf;
    const int64_t *ts = v[TS].b.buf;
    const double *sc = v[SC].b.buf, *sm = v[SUM].b.buf, *mn = v[MIN].b.buf, *mx = v[MAX].b.buf;
    const uint8_t *keep = v[KEEP].b.buf;
    int32_t *grp = v[GRP].b.buf, *bins = v[BINS].b.buf;
    double *counts = v[COUNTS].b.buf;
    int flags = 0, toomany = 0;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t t = ts[i];
        grp[i] = -1;
        bins[i] = unlisted;
        counts[i] = 0.0;
        if (t < lo || t >= hi)
            continue;
        int32_t id = ids[i];
        int32_t r = id >= 0 && id < nranks ? rank_of[id] : -1;
        if (r < 0 || r >= st->nseries) {
            bad = i;
            break;
        }
        double c = sc[i], s = sm[i], a = mn[i], z = mx[i];
        if (!isfinite(c) || !isfinite(s) || !isfinite(a) || !isfinite(z)) {
            flags |= FLAG_NONFINITE;
            break;
        }
        int64_t b = floor_div(t, period);
        Py_ssize_t g = st->cur_g[r];
        if (g < 0 || st->cur_b[r] != b) {
            if (g >= 0 && b < st->cur_b[r])
                flags |= FLAG_BACK;
            if (st->ngroups >= INT32_MAX - 1) {
                toomany = 1;
                break;
            }
            g = st->ngroups++;
            st->g_rank[g] = r;
            st->g_bucket[g] = b;
            st->g_count[g] = 0.0;
            st->g_sum[g] = 0.0;
            st->g_min[g] = a;
            st->g_max[g] = z;
            st->cur_b[r] = b;
            st->cur_g[r] = (int32_t)g;
        }
        st->g_count[g] += c;
        st->g_sum[g] += s;
        if (a < st->g_min[g])
            st->g_min[g] = a;
        if (z > st->g_max[g])
            st->g_max[g] = z;
        grp[i] = (int32_t)g;
        if (keep[r] && c > 0 && a == z && s == a * c) {
            bins[i] = bin_of(a, inv, offset);
            counts[i] = c;
            if (c != 1.0)
                flags |= FLAG_WEIGHTED;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "row %zd: series id index %d has no rank below %zd", bad, (int)ids[bad],
                     st->nseries);
        goto done;
    }
    if (toomany) {
        PyErr_SetString(PyExc_ValueError, "more than 2^31 groups");
        goto done;
    }
    result = PyLong_FromLong(flags);
done:
    release(v, NVIEWS);
    return result;
}

/* The state a function of one argument is given (NULL and an exception if it is none). */
static state_t *state_arg(PyObject *args) {
    PyObject *capsule;
    if (!PyArg_ParseTuple(args, "O", &capsule))
        return NULL;
    return PyCapsule_GetPointer(capsule, "rawgroup.state");
}

static PyObject *groups(PyObject *self, PyObject *args) {
    (void)self;
    state_t *st = state_arg(args);
    if (!st)
        return NULL;
    Py_ssize_t n = st->ngroups;
    return Py_BuildValue("y#y#y#y#y#y#", (char *)st->g_rank, n * 4, (char *)st->g_bucket, n * 8,
                         (char *)st->g_count, n * 8, (char *)st->g_sum, n * 8, (char *)st->g_min, n * 8,
                         (char *)st->g_max, n * 8);
}

static PyObject *rerank(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *capsule, *o_map;
    if (!PyArg_ParseTuple(args, "OO", &capsule, &o_map))
        return NULL;
    state_t *st = PyCapsule_GetPointer(capsule, "rawgroup.state");
    if (!st)
        return NULL;
    view_t map = {0};
    if (view(o_map, &map, 4, 0, "rank_map") < 0) {
        release(&map, 1);
        return NULL;
    }
    const int32_t *to = map.b.buf;
    Py_ssize_t n = map.b.len / 4;
    if (n != st->nseries) {
        release(&map, 1);
        PyErr_SetString(PyExc_ValueError, "rank_map must have one item per series");
        return NULL;
    }
    for (Py_ssize_t r = 0; r < n; r++)
        if (to[r] < 0 || to[r] >= n) {
            release(&map, 1);
            PyErr_SetString(PyExc_ValueError, "rank_map must map the series onto 0 .. nseries - 1");
            return NULL;
        }
    for (Py_ssize_t g = 0; g < st->ngroups; g++)
        st->g_rank[g] = to[st->g_rank[g]];
    for (Py_ssize_t r = 0; r < n; r++)
        st->cur_g[r] = -1; /* the series are numbered anew: no group is open */
    release(&map, 1);
    Py_RETURN_NONE;
}

static PyObject *order(PyObject *self, PyObject *args) {
    (void)self;
    state_t *st = state_arg(args);
    if (!st)
        return NULL;
    Py_ssize_t n = st->ngroups;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (Py_ssize_t g = 0; g < n; g++) {
        if (st->g_bucket[g] < lo)
            lo = st->g_bucket[g];
        if (st->g_bucket[g] > hi)
            hi = st->g_bucket[g];
    }
    if (n && (hi - lo > 4 * (int64_t)n + 65536))
        Py_RETURN_NONE;
    Py_ssize_t width = n ? (Py_ssize_t)(hi - lo + 1) : 0, bins = width > st->nseries ? width : st->nseries;
    PyObject *b_out = PyBytes_FromStringAndSize(NULL, (n ? n : 1) * 8);
    int64_t *by_bucket = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int64_t *count = calloc((size_t)bins + 1, sizeof(int64_t));
    if (!b_out || !by_bucket || !count) {
        Py_XDECREF(b_out);
        free(by_bucket);
        free(count);
        return PyErr_NoMemory();
    }
    int64_t *out = (int64_t *)PyBytes_AS_STRING(b_out);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t g = 0; g < n; g++)
        count[st->g_bucket[g] - lo + 1]++;
    for (Py_ssize_t b = 0; b < width; b++)
        count[b + 1] += count[b];
    for (Py_ssize_t g = 0; g < n; g++)
        by_bucket[count[st->g_bucket[g] - lo]++] = g;
    memset(count, 0, ((size_t)bins + 1) * sizeof(int64_t));
    for (Py_ssize_t g = 0; g < n; g++)
        count[st->g_rank[g] + 1]++;
    for (Py_ssize_t r = 0; r < st->nseries; r++)
        count[r + 1] += count[r];
    for (Py_ssize_t k = 0; k < n; k++) {
        int64_t g = by_bucket[k];
        out[count[st->g_rank[g]]++] = g;
    }
    Py_END_ALLOW_THREADS
    free(by_bucket);
    free(count);
    if (!n && _PyBytes_Resize(&b_out, 0) < 0)
        return NULL;
    return b_out;
}

static PyObject *entries(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o_grps, *o_bins, *o_counts, *o_dest;
    Py_ssize_t nout;
    int unlisted;
    if (!PyArg_ParseTuple(args, "OOOOni", &o_grps, &o_bins, &o_counts, &o_dest, &nout, &unlisted))
        return NULL;
    if (nout < 0) {
        PyErr_SetString(PyExc_ValueError, "nout must not be negative");
        return NULL;
    }
    int weighted = o_counts != Py_None;
    PyObject *sg = PySequence_Fast(o_grps, "grps must be a sequence of arrays");
    PyObject *sb = sg ? PySequence_Fast(o_bins, "bins must be a sequence of arrays") : NULL;
    PyObject *sc = sb && weighted ? PySequence_Fast(o_counts, "counts must be a sequence of arrays or None") : NULL;
    PyObject *result = NULL, *b_off = NULL, *b_bins = NULL, *b_counts = NULL;
    view_t *v = NULL, dest = {0};
    Py_ssize_t nb = 0;
    if (!sb || (weighted && !sc))
        goto done;
    nb = PySequence_Fast_GET_SIZE(sg);
    if (PySequence_Fast_GET_SIZE(sb) != nb || (weighted && PySequence_Fast_GET_SIZE(sc) != nb)) {
        PyErr_SetString(PyExc_ValueError, "grps, bins and counts must hold as many batches");
        goto done;
    }
    v = calloc((size_t)(3 * nb + 1), sizeof(view_t));
    if (!v) {
        PyErr_NoMemory();
        goto done;
    }
    if (view(o_dest, &dest, 4, 0, "dest") < 0)
        goto done;
    Py_ssize_t ngroups = dest.b.len / 4;
    const int32_t *dst = dest.b.buf;
    b_off = PyBytes_FromStringAndSize(NULL, (nout + 1) * 4);
    if (!b_off)
        goto done;
    int32_t *off = (int32_t *)PyBytes_AS_STRING(b_off);
    int64_t *fill = calloc((size_t)nout + 1, sizeof(int64_t));
    if (!fill) {
        PyErr_NoMemory();
        goto done;
    }
    const char *error = NULL;
    for (Py_ssize_t k = 0; k < nb && !error; k++) {
        if (view(PySequence_Fast_GET_ITEM(sg, k), &v[3 * k], 4, 0, "grp") < 0 ||
            view(PySequence_Fast_GET_ITEM(sb, k), &v[3 * k + 1], 4, 0, "bins") < 0 ||
            (weighted && view(PySequence_Fast_GET_ITEM(sc, k), &v[3 * k + 2], 8, 0, "counts") < 0)) {
            free(fill);
            goto done;
        }
        Py_ssize_t n = v[3 * k].b.len / 4;
        if (v[3 * k + 1].b.len / 4 != n || (weighted && v[3 * k + 2].b.len / 8 != n)) {
            error = "grp, bins and counts of a batch must be as long";
            break;
        }
        const int32_t *grp = v[3 * k].b.buf, *bin = v[3 * k + 1].b.buf;
        for (Py_ssize_t i = 0; i < n; i++) {
            int32_t g = grp[i];
            if (g < 0 || bin[i] == unlisted)
                continue;
            if (g >= ngroups || dst[g] < 0 || dst[g] >= nout) {
                error = "a group or its output row is out of range";
                break;
            }
            fill[dst[g] + 1]++;
        }
    }
    if (error) {
        free(fill);
        PyErr_SetString(PyExc_ValueError, error);
        goto done;
    }
    for (Py_ssize_t r = 0; r < nout; r++)
        fill[r + 1] += fill[r];
    if (fill[nout] > INT32_MAX) {
        free(fill);
        PyErr_SetString(PyExc_ValueError, "more than 2^31 sketch entries");
        goto done;
    }
    Py_ssize_t total = (Py_ssize_t)fill[nout];
    for (Py_ssize_t r = 0; r <= nout; r++)
        off[r] = (int32_t)fill[r];
    b_bins = PyBytes_FromStringAndSize(NULL, (total ? total : 1) * 4);
    b_counts = weighted ? PyBytes_FromStringAndSize(NULL, (total ? total : 1) * 8) : (Py_INCREF(Py_None), Py_None);
    if (!b_bins || !b_counts) {
        free(fill);
        goto done;
    }
    int32_t *out_bins = (int32_t *)PyBytes_AS_STRING(b_bins);
    double *out_counts = weighted ? (double *)PyBytes_AS_STRING(b_counts) : NULL;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < nb; k++) {
        const int32_t *grp = v[3 * k].b.buf, *bin = v[3 * k + 1].b.buf;
        const double *cnt = weighted ? v[3 * k + 2].b.buf : NULL;
        for (Py_ssize_t i = 0, n = v[3 * k].b.len / 4; i < n; i++) {
            if (grp[i] < 0 || bin[i] == unlisted)
                continue;
            int64_t at = fill[dst[grp[i]]]++;
            out_bins[at] = bin[i];
            if (cnt)
                out_counts[at] = cnt[i];
        }
    }
    Py_END_ALLOW_THREADS
    free(fill);
    if (_PyBytes_Resize(&b_bins, total * 4) < 0 ||
        (weighted && _PyBytes_Resize(&b_counts, total * 8) < 0))
        goto done;
    result = PyTuple_Pack(3, b_off, b_bins, b_counts);
done:
    Py_XDECREF(b_off);
    Py_XDECREF(b_bins);
    Py_XDECREF(b_counts);
    if (v) {
        release(v, (int)(3 * nb));
        free(v);
    }
    release(&dest, 1);
    Py_XDECREF(sg);
    Py_XDECREF(sb);
    Py_XDECREF(sc);
    return result;
}

static PyMethodDef methods[] = {
    {"new", new_state, METH_VARARGS, "A grouping state for nseries series."},
    {"accumulate", accumulate, METH_VARARGS, "Add a batch of raw rows to the (series, bucket) groups."},
    {"groups", groups, METH_VARARGS, "The groups: series rank, bucket and partials."},
    {"rerank", rerank, METH_VARARGS, "Number the series of every group anew."},
    {"order", order, METH_VARARGS, "The groups sorted by (rank, bucket), stably."},
    {"entries", entries, METH_VARARGS, "The sketch entries of every batch by output row (a counting sort)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rawgroup", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rawgroup(void) { return PyModule_Create(&module); }
