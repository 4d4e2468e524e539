/* Shared by the two sources of pipeline.anomaly._art (read _art.c's comment first): the judge's
 * struct, numpy's pairwise sum (_art.c) and the state's way in and out (_art_state.c). */
#ifndef WATCHLAKE_ART_H
#define WATCHLAKE_ART_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    long window, probation, step, trend, mask, levels, cap, dim2;
    double chomp, margin;
    long n, b_n, dsi, med_n, ub_n, hist_n, last_anom_i, last_rho_i, no_new;
    double b_sum, b_min, b_max, ma, lo, hi, ub_sum, hist_sum, hist_last, last_anom_sim;
    int mask_cat;
    long *medbin;               /* levels + 1 */
    double *fwin;               /* window */
    double *sim_win, *sim_diff; /* n_win, n_diff */
    long n_win, n_diff;
    /* fuzzy ART */
    double *w, *used; /* cap × dim2, cap */
    double *wsum;     /* |w| of each category (numpy's pairwise sum), kept up to date */
    long n_cat, clock;
    double rho_lb, rho_ub;
    double *m, *e, *x, *feat; /* scratch: cap, cap, dim2, dim2 / 2 */
} ArtCore;

/* numpy's pairwise sum of n contiguous doubles (what ndarray.sum(axis=1) does per row) */
double art_pairwise(const double *a, long n);
/* ArtCore(state): the judge from ArtJudge.state()'s dict (categories as lists or raw bytes) */
int art_init(ArtCore *c, PyObject *args, PyObject *kwds);
void art_dealloc(ArtCore *c);
/* ArtJudge.state()'s dict; raw: the categories and their use times as bytes of doubles */
PyObject *art_state_dict(ArtCore *c, int raw);
/* core.state(raw=False) */
PyObject *art_state(ArtCore *c, PyObject *args, PyObject *kwds);

#endif
