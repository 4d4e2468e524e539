/* Shared by the three sources of pipeline.anomaly._mv (read _mv.c's comment first): the core's
 * struct (MultiViewDetector with its SeasonalModel and its ten-view TailCalibrator), the detector
 * (_mv.c), the forecaster and the calibrator (_mv_model.c) and the state's way in and out
 * (_mv_state.c). */
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
    int bin0; /* TailCalibrator.bin0 */
} MvCore;

typedef struct { /* SeasonalModel._forecasts: (fast, p1 or None, p2 or None, hod, how) */
    double p0, p1, p2;
    int has1, has2, hod, how;
} Forecasts;

typedef struct { /* MultiViewDetector._views's tuple (bins filled by the calibrator's surprise) */
    int nv, views[5], bins[5];
    double raws[5], p, sigma, m, dm;
    Forecasts f;
} Judged;

/* _mv_model.c: the constants, by libm at import as the Python computes them */
void mv_constants(void);
/* int() of a float Python cannot convert (NaN, ±inf): the exception Python raises; -1 */
int mv_int_error(double v);
/* ZeroDivisionError("float division by zero"); -1 */
int mv_zero_division(void);
/* SeasonalModel._forecasts(t) (-1: t NaN or infinite, raised) */
int mv_forecasts(const MvCore *c, double t, Forecasts *f);
/* SeasonalModel.best after the warm-up, from j->f: j->p and j->sigma */
void mv_best(const MvCore *c, Judged *j);
/* SeasonalModel.learn (f: the forecasts of t already computed, or NULL) */
int mv_model_learn(MvCore *c, double t, double x, const Forecasts *f);
/* SeasonalModel.relevel */
void mv_relevel(MvCore *c, double x);
/* TailCalibrator.surprise of j's views (fills j->bins) */
int mv_calib_surprise(const MvCore *c, Judged *j, double *out);
/* TailCalibrator.learn of j's views */
void mv_calib_learn(MvCore *c, const Judged *j);

/* _mv_state.c: MvCore(state): the detector whose MultiViewDetector.state() is `state` */
int mv_init(MvCore *c, PyObject *args, PyObject *kwds);
void mv_dealloc(MvCore *c);
/* MultiViewDetector.state()'s dict */
PyObject *mv_state(MvCore *c, PyObject *Py_UNUSED(ignored));

#endif
