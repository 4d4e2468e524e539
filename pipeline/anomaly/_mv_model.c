/* The forecaster and the calibrator of the multiview core (native part of
 * pipeline.anomaly.multiview; read _mv.c's comment first): SeasonalModel._forecasts, best, learn and
 * relevel, TailCalibrator.surprise, learn and _refresh_low, each the Python's operation for
 * operation. */
#include "_mv.h"
#include <math.h>

/* computed at import by libm as model.py and calibrate.py compute them (not folded at compile time) */
static double SQRT_PI_2, LOG10, VMAX_DECAY, TAIL_EXP;
static const double SIGMA_MIN = 1e-150; /* pipeline.anomaly.model.SIGMA_MIN */

void mv_constants(void) {
    /* math.sqrt(math.pi / 2), math.log(10.0), 0.99995 ** REFRESH and TAIL_EXP, by libm at run time */
    volatile double pi = Py_MATH_PI, ten = 10.0, decay = 0.99995, refresh = 128.0, four = 4.0;
    SQRT_PI_2 = sqrt(pi / 2);
    LOG10 = log(ten);
    VMAX_DECAY = pow(decay, refresh);
    TAIL_EXP = four;
}

/* int() of a float Python cannot convert */
int mv_int_error(double v) {
    if (v != v)
        PyErr_SetString(PyExc_ValueError, "cannot convert float NaN to integer");
    else
        PyErr_SetString(PyExc_OverflowError, "cannot convert float infinity to integer");
    return -1;
}

int mv_zero_division(void) {
    PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
    return -1;
}

/* ---- SeasonalModel -------------------------------------------------------------------- */

/* SeasonalModel._forecasts */
int mv_forecasts(const MvCore *c, double t, Forecasts *f) {
    /* h = int(t // 3600): _float_div_mod of Objects/floatobject.c, the divisor positive */
    double mod = fmod(t, 3600.0), div = (t - mod) / 3600.0, h;
    if (mod < 0)
        div -= 1.0;
    if (div) {
        h = floor(div);
        if (div - h > 0.5)
            h += 1.0;
    } else {
        h = 0.0;
    }
    if (!isfinite(h))
        return mv_int_error(h);
    /* h % 24 and (h + 72) % 168 as Python's ints (fmod of an integral double is exact) */
    double r = fmod(h, 24.0);
    int hod = (int)(r < 0 ? r + 24.0 : r);
    r = fmod(h, 168.0);
    int how = ((int)(r < 0 ? r + 168.0 : r) + 72) % 168;
    double span = t - c->t0;
    f->p0 = c->fast;
    f->has1 = span >= 2 * 86400.0 && c->daily_n[hod] >= 3;
    f->p1 = c->slow + c->daily[hod];
    f->has2 = span >= 2 * 604800.0 && c->weekly_n[how] >= 2;
    f->p2 = c->slow + c->weekly[how];
    f->hod = hod, f->how = how;
    return 0;
}

/* SeasonalModel.best after the warm-up: (expected, sigma) into j */
void mv_best(const MvCore *c, Judged *j) {
    const Forecasts *f = &j->f;
    double choice = f->p0, e = c->err[0];
    if (f->has1 && c->err_n[1] >= 20 && c->err[1] < 0.9 * e)
        choice = f->p1, e = c->err[1];
    if (f->has2 && c->err_n[2] >= 20 && c->err[2] < 0.9 * e)
        choice = f->p2, e = c->err[2];
    double sigma = SQRT_PI_2 * e;
    double fl = c->resolution != INFINITY ? 0.5 * c->resolution : 0.0;
    double third = 1e-9 * fabs(choice);
    double m = sigma; /* max(sigma, floor, third, SIGMA_MIN): the first of the largest, NaN never replacing */
    if (fl > m)
        m = fl;
    if (third > m)
        m = third;
    if (SIGMA_MIN > m)
        m = SIGMA_MIN;
    if (choice < 0.0 && c->nonneg) /* a series never below 0 is not expected below 0 */
        choice = 0.0;
    j->p = choice, j->sigma = m;
}

/* SeasonalModel.learn; f: the forecasts of t already computed (the Python's cache), or NULL */
int mv_model_learn(MvCore *c, double t, double x, const Forecasts *f) {
    if (c->n == 0) {
        c->t0 = c->tl = t;
        c->fast = c->slow = x;
        c->prev = x;
        c->nonneg = x >= 0;
        c->n = 1;
        return 0;
    }
    double gap = t - c->tl;
    if (gap > 0) {
        c->dt = c->dt == 0.0 ? gap : c->dt + 0.05 * (gap - c->dt);
        c->tl = t;
    }
    double d = x >= c->prev ? x - c->prev : c->prev - x;
    if (0.0 < d && d < c->resolution)
        c->resolution = d;
    c->prev = x;
    if (x < 0)
        c->nonneg = 0;
    Forecasts own;
    if (f == NULL) {
        if (mv_forecasts(c, t, &own))
            return -1;
        f = &own;
    }
    double ae = c->alpha_err, *err = c->err;
    long *err_n = c->err_n;
    double ax = fabs(x); /* the caps' epsilon is relative: 1e-12 of |x| + |forecast| (unit-free) */
    double r = x >= f->p0 ? x - f->p0 : f->p0 - x;
    double cap = 4.0 * (err_n[0] ? err[0] : r) + 1e-12 * (ax + fabs(f->p0));
    if (r > cap)
        r = cap;
    err[0] = err_n[0] == 0 ? r : err[0] + ae * (r - err[0]);
    err_n[0] += 1;
    if (f->has1) {
        r = x >= f->p1 ? x - f->p1 : f->p1 - x;
        double c1 = err_n[1] ? 4.0 * err[1] + 1e-12 * (ax + fabs(f->p1)) : cap;
        if (r > c1)
            r = c1;
        err[1] = err_n[1] == 0 ? r : err[1] + ae * (r - err[1]);
        err_n[1] += 1;
    }
    if (f->has2) {
        r = x >= f->p2 ? x - f->p2 : f->p2 - x;
        double c2 = err_n[2] ? 4.0 * err[2] + 1e-12 * (ax + fabs(f->p2)) : cap;
        if (r > c2)
            r = c2;
        err[2] = err_n[2] == 0 ? r : err[2] + ae * (r - err[2]);
        err_n[2] += 1;
    }
    c->fast += c->alpha_fast * (x - c->fast);
    double per_hour = c->dt > 0 ? 3600.0 / c->dt : 12.0;
    double dev = x - c->slow;
    int hod = f->hod, how = f->how;
    long dn = c->daily_n[hod] + 1;
    c->daily_n[hod] = dn;
    if (3.0 * per_hour == 0.0)
        return mv_zero_division();
    double g = 1.0 / (3.0 * per_hour);
    if ((double)dn * g < 1.0)
        g = 1.0 / (double)dn;
    if (g > 1.0) /* sparser than one value per bin in its memory: the newest replaces (model.py) */
        g = 1.0;
    c->daily[hod] += g * (dev - c->daily[hod]);
    long wn = c->weekly_n[how] + 1;
    c->weekly_n[how] = wn;
    if (2.0 * per_hour == 0.0)
        return mv_zero_division();
    g = 1.0 / (2.0 * per_hour);
    if ((double)wn * g < 1.0)
        g = 1.0 / (double)wn;
    if (g > 1.0)
        g = 1.0;
    c->weekly[how] += g * (dev - c->weekly[how]);
    c->slow += c->alpha_slow * (x - c->daily[hod] - c->slow);
    c->n += 1;
    return 0;
}

/* SeasonalModel.relevel */
void mv_relevel(MvCore *c, double x) {
    c->fast = x;
    double sum = 0.0;
    for (int i = 0; i < 24; i++)
        sum += c->daily[i];
    c->slow = x - (sum / 24.0);
    c->prev = x;
}

/* ---- TailCalibrator ------------------------------------------------------------------- */

/* TailCalibrator.surprise of j's views; fills j->bins */
int mv_calib_surprise(const MvCore *c, Judged *j, double *out) {
    double total = c->total + c->w, half = 0.5 * c->w, top = 0.0;
    int extrapolate = c->c_n >= 100; /* MIN_EXTRAPOLATE */
    for (int i = 0; i < j->nv; i++) {
        int v = j->views[i];
        double raw = j->raws[i];
        if (raw <= 0.0) {
            j->bins[i] = 0;
            continue;
        }
        double fb = 4.0 * log2(1.0 + raw);
        if (!isfinite(fb))
            return mv_int_error(fb);
        int b = fb >= MV_BINS ? MV_BINS - 1 : (int)fb;
        j->bins[i] = b;
        if (b < c->low[v])
            continue;
        double acc = 0.0; /* sum(hist[v][b:]) */
        for (int k = b; k < MV_BINS; k++)
            acc += c->hist[v][k];
        if (total == 0.0)
            return mv_zero_division();
        double p = (acc + half) / total;
        double m = c->vmax[v];
        if (raw > m && extrapolate) {
            if (m > 0)
                p *= pow(m / raw, TAIL_EXP);
            else if (b > 0 || !c->bin0) /* TailCalibrator.bin0: bin 0 is not extrapolated past 0 */
                p *= 1e-6;
        }
        double s = p > 0 ? -log(p) / LOG10 : 300.0;
        if (s > top)
            top = s;
    }
    *out = top;
    return 0;
}

/* TailCalibrator._refresh_low */
static void refresh_low(MvCore *c) {
    if (c->c_n < 1000)
        return;
    double limit = 0.25 * (c->total + c->w);
    for (int v = 0; v < MV_VIEWS; v++) {
        const double *h = c->hist[v];
        double acc = 0.0;
        int b = MV_BINS;
        while (b > 0 && acc + h[b - 1] < limit) {
            b -= 1;
            acc += h[b];
        }
        c->low[v] = b > 0 ? b - 1 : 0;
    }
}

/* TailCalibrator.learn of j's views */
void mv_calib_learn(MvCore *c, const Judged *j) {
    double w = c->w * c->growth;
    if (w > 1e100) {
        for (int v = 0; v < MV_VIEWS; v++)
            for (int i = 0; i < MV_BINS; i++)
                c->hist[v][i] /= w;
        c->total /= w;
        w = 1.0;
    }
    c->w = w;
    c->c_n += 1;
    c->total += w;
    if (c->c_n % 128 == 0) { /* REFRESH */
        for (int v = 0; v < MV_VIEWS; v++)
            c->vmax[v] = c->vmax[v] * VMAX_DECAY;
        refresh_low(c);
    }
    for (int i = 0; i < j->nv; i++) {
        int v = j->views[i];
        c->hist[v][j->bins[i]] += w;
        if (j->raws[i] > c->vmax[v])
            c->vmax[v] = j->raws[i];
    }
}
