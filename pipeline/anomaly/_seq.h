/* Shared by the two sources of pipeline.anomaly._seq (read _seq.c's comment first): the sequence
 * judge's data, its core (_seq.c) and the state's way in and out (_seq_state.c). */
#ifndef WATCHLAKE_SEQ_H
#define WATCHLAKE_SEQ_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define SEQ_HBINS 64 /* calibrate.BINS */
#define SEQ_MAX_BINS 256
#define SEQ_MAX_WARMUP (1L << 24)
#define SEQ_MAX_WINDOW (1L << 20)

/* SequenceModel's fields, with its one-view TailCalibrator (calib) flattened in */
typedef struct {
    long bins, warmup, window, report_after, seen, prev1, prev2;
    double decay, lo, hi;             /* lo != lo (NaN): the grid is not fixed yet */
    double *warm;                     /* the warm-up values, n_warm of them (NULL once fixed) */
    long n_warm;
    double *counts, *scale, *total;   /* bins³ stored counts, bins² lazy scales and totals */
    double *recent;                   /* ring of `window` surprises, n_rec from rec_head */
    long rec_head, n_rec;
    /* TailCalibrator(1, halflife): growth, w, total, n, low[0], vmax[0], hist[0] */
    double growth, w, ctotal, vmax;
    long n, low;
    double hist[SEQ_HBINS];
} SeqData;

typedef struct {
    PyObject_HEAD
    int ready; /* set by a successful __init__; the arrays are valid only then */
    SeqData d;
} SeqCore;

/* the arrays of d freed (the pointers left dangling: reset or discard d afterwards) */
void seq_free(SeqData *d);
/* d filled from SequenceModel.state()'s dict; -1 with ValueError naming the key */
int seq_from_state(SeqData *d, PyObject *state);
/* d as a fresh SequenceModel(bins=…, …, halflife=…); -1 with ValueError (or ZeroDivisionError
 * for halflife 0, as the Python) */
int seq_fresh(SeqData *d, long bins, long warmup, double decay, long window, double halflife,
              long report_after);
/* SequenceModel.state()'s dict */
PyObject *seq_state_dict(const SeqData *d);

#endif
