/* Shared by the two sources of pipeline.anomaly._mv (read _mv.c's comment first): the core's
 * struct (MultiViewDetector with its SeasonalModel and its ten-view TailCalibrator) and the
 * state's way in and out (_mv_state.c). */
#ifndef WATCHLAKE_MV_H
#define WATCHLAKE_MV_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MV_MEDIAN_OF 7 /* multiview.MEDIAN_OF */
#define MV_VIEWS 10    /* the calibrator's views: five views × (up, down) */
#define MV_BINS 64     /* calibrate.BINS */

typedef struct {
    PyObject_HEAD
    /* the parameters as given (state() hands back these objects: the Python types) */
    PyObject *o_k, *o_flag, *o_scale, *o_alpha_fast, *o_alpha_slow, *o_alpha_err, *o_growth;
    /* MultiViewDetector */
    double k, flag, scale;
    long relevel_after, refractory, warm_n, flagged_run, since_alert;
    double m_short, drift_mean, drift_dev, hi, lo;
    double recent[MV_MEDIAN_OF];
    int slow_views;
    /* SeasonalModel */
    double alpha_fast, alpha_slow, alpha_err;
    long warmup, n;
    double t0, tl, dt, fast, slow, resolution, prev;
    double daily[24], weekly[168], err[3];
    long daily_n[24], weekly_n[168], err_n[3];
    int nonneg;
    /* TailCalibrator(10) */
    long c_n;
    long low[MV_VIEWS];
    double growth, w, total;
    double hist[MV_VIEWS][MV_BINS];
    double vmax[MV_VIEWS];
} MvCore;

/* MvCore(state): the detector whose MultiViewDetector.state() is `state` */
int mv_init(MvCore *c, PyObject *args, PyObject *kwds);
void mv_dealloc(MvCore *c);
/* MultiViewDetector.state()'s dict */
PyObject *mv_state(MvCore *c, PyObject *Py_UNUSED(ignored));

#endif
