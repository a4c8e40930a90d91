/* The LSTM network of the lstm model (see lstm.h). */
#include "forecast/lstm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/mathutil.h"

#define C LSTM_CELLS
#define NI LSTM_INPUTS
#define R LSTM_ROW
#define NG (4 * C)
#define LSTM_LR 0.005
#define LSTM_CLIP 1.0
#define LSTM_WARM 256     /* steps of state before the held-out period */

/* What one step keeps for the backward pass. */
struct cache {
	double in[R];
	double gi[C], gf[C], gg[C], go[C], cp[C], tc[C], h[C];
	double z;
};

static double sigm(double a)
{
	return 1 / (1 + exp(-a));
}

/* One step from the state prev (h then c) to next; returns the head's
 * output. k (NULL: none) receives what the backward pass needs. */
static double cell_step(const double *w, const double *u, const double *prev, double *next, struct cache *k)
{
	double in[R], a[NG], z = w[LSTM_HEAD + C];
	size_t r, q;

	memcpy(in, u, NI * sizeof(*in));
	memcpy(in + NI, prev, C * sizeof(*in));
	in[R - 1] = 1;
	for (r = 0; r < NG; r++) {
		const double *row = w + r * R;
		double s = 0;

		for (q = 0; q < R; q++)
			s += row[q] * in[q];
		a[r] = s;
	}
	for (q = 0; q < C; q++) {
		double gi = sigm(a[q]), gf = sigm(a[C + q]), gg = tanh(a[2 * C + q]), go = sigm(a[3 * C + q]);
		double cp = prev[C + q], c = gf * cp + gi * gg, tc = tanh(c), h = go * tc;

		next[q] = h;
		next[C + q] = c;
		z += w[LSTM_HEAD + q] * h;
		if (k) {
			k->gi[q] = gi;
			k->gf[q] = gf;
			k->gg[q] = gg;
			k->go[q] = go;
			k->cp[q] = cp;
			k->tc[q] = tc;
			k->h[q] = h;
		}
	}
	if (k) {
		memcpy(k->in, in, sizeof(in));
		k->z = z;
	}
	return z;
}

/* The series as a forecast from origin j sees it: known before j, its
 * own forecasts pred[] from j on. */
struct view {
	const double *x, *pred;
	size_t j;
};

static double view_at(const struct view *v, size_t i)
{
	return i < v->j ? v->x[i] : v->pred[i - v->j];
}

/* The seasonal mean at t: the values 1..LSTM_SEASONS periods back that
 * exist; the series' mean where none does. */
static double season_at(const struct lstm *net, const struct view *v, size_t t)
{
	double s = 0;
	size_t k, c = 0;

	for (k = 1; k <= LSTM_SEASONS && k * net->m <= t; k++) {
		double y = view_at(v, t - k * net->m);

		if (!isnan(y)) {
			s += y;
			c++;
		}
	}
	return c ? s / (double)c : net->mu;
}

/* The windows of the recent deviation's means: a twelfth of a period
 * (the level now) and a whole one. */
static size_t roll_len(const struct lstm *net, int k)
{
	return k ? net->m : (net->m >= 12 ? net->m / 12 : 1);
}

/* Running sums of the deviations over the last roll_len steps. */
struct roll {
	double sum[2];
	size_t cnt[2];
};

static void roll_add(struct roll *r, int k, double d, int sign)
{
	if (isnan(d))
		return;
	r->sum[k] += sign * d;
	if (sign > 0)
		r->cnt[k]++;
	else
		r->cnt[k]--;
}

static double roll_mean(const struct roll *r, int k)
{
	return r->cnt[k] ? r->sum[k] / (double)r->cnt[k] : 0;
}

static void make_inputs(const struct lstm *net, double *u, double s, double wk, size_t t, const struct roll *r)
{
	size_t m = net->m, wl = LSTM_WEEK * m, pw = (net->phase0 + t) % wl;
	double ad = 2 * M_PI * (double)(pw % m) / (double)m, aw = 2 * M_PI * (double)pw / (double)wl;

	u[LSTM_IN_LEVEL] = roll_mean(r, 0);
	u[1] = roll_mean(r, 1);
	u[2] = (s - net->mu) / net->sd;
	u[3] = isnan(wk) ? 0 : (wk - s) / net->sd;
	u[4] = sin(ad);
	u[5] = cos(ad);
	u[6] = sin(aw);
	u[7] = cos(aw);
}

/* With the true values as inputs: S[t], the inputs U[t * NI..], the
 * deviation D[t] (NAN where x is) and the head's target Y[t], the
 * deviation beyond the recent level, for t in [m, n). */
static void prepare(const struct lstm *net, const double *x, size_t n, double *S, double *U, double *D, double *Y)
{
	struct view v = { .x = x, .j = n };
	struct roll r = { 0 };
	size_t t, m = net->m, wl = LSTM_WEEK * m;
	int k;

	for (t = m; t < n; t++) {
		S[t] = season_at(net, &v, t);
		D[t] = (x[t] - S[t]) / net->sd;
	}
	for (t = m; t < n; t++) {
		for (k = 0; k < 2 && t > m; k++) {
			roll_add(&r, k, D[t - 1], 1);
			if (t - 1 >= m + roll_len(net, k))
				roll_add(&r, k, D[t - 1 - roll_len(net, k)], -1);
		}
		make_inputs(net, U + t * NI, S[t], t >= wl ? x[t - wl] : NAN, t, &r);
		Y[t] = D[t] - U[t * NI + LSTM_IN_LEVEL];
	}
}

/* Forward over targets a..b-1 from state s0 (final state into s1, which
 * may be s0), then, when grad is not NULL, the backward pass adding the
 * gradient of the summed loss to grad. k: b - a caches. Returns half the
 * summed squared error; *cnt the targets counted. */
static double window(const double *w, const double *U, const double *Y, size_t a, size_t b, const double *s0,
		     double *s1, double *grad, struct cache *k, size_t *cnt)
{
	double prev[2 * C], next[2 * C], loss = 0, dh[C] = { 0 }, dc[C] = { 0 };
	size_t t, q, r;

	*cnt = 0;
	memcpy(prev, s0, sizeof(prev));
	for (t = a; t < b; t++) {
		double z = cell_step(w, U + t * NI, prev, next, grad ? &k[t - a] : NULL);

		if (!isnan(Y[t])) {
			loss += 0.5 * (z - Y[t]) * (z - Y[t]);
			++*cnt;
		}
		memcpy(prev, next, sizeof(prev));
	}
	memcpy(s1, prev, sizeof(prev));
	if (!grad)
		return loss;
	for (t = b; t-- > a;) {
		const struct cache *c = &k[t - a];
		double dz = isnan(Y[t]) ? 0 : c->z - Y[t], da[NG];

		grad[LSTM_HEAD + C] += dz;
		for (q = 0; q < C; q++) {
			double dhq = dz * w[LSTM_HEAD + q] + dh[q];
			double dcq = dhq * c->go[q] * (1 - c->tc[q] * c->tc[q]) + dc[q];

			grad[LSTM_HEAD + q] += dz * c->h[q];
			da[q] = dcq * c->gg[q] * c->gi[q] * (1 - c->gi[q]);
			da[C + q] = dcq * c->cp[q] * c->gf[q] * (1 - c->gf[q]);
			da[2 * C + q] = dcq * c->gi[q] * (1 - c->gg[q] * c->gg[q]);
			da[3 * C + q] = dhq * c->tc[q] * c->go[q] * (1 - c->go[q]);
			dc[q] = dcq * c->gf[q];
		}
		for (r = 0; r < NG; r++) {
			double *g = grad + r * R;

			for (q = 0; q < R; q++)
				g[q] += da[r] * c->in[q];
		}
		for (q = 0; q < C; q++) {
			double s = 0;

			for (r = 0; r < NG; r++)
				s += da[r] * w[r * R + NI + q];
			dh[q] = s;
		}
	}
	return loss;
}

/* Runs from origin j with state st for nsteps steps, the forecasts into
 * pred; D holds the deviations of the known values. Nothing the network
 * forecast is fed back but the seasonal lags that fall after the origin:
 * the level inputs are held at the origin's. Fed its own output as the
 * last value or the level, a network trained on true values drifted
 * (bench MASE 0.842 at 4 h and 1.168 at 24 h with both, 0.787 and 1.141
 * without). */
static void run_free(const struct lstm *net, const double *x, const double *D, size_t j, const double *st,
		     size_t nsteps, double *pred)
{
	struct view v = { .x = x, .pred = pred, .j = j };
	struct roll r = { 0 };
	double prev[2 * C], next[2 * C], u[NI];
	size_t k, i, wl = LSTM_WEEK * net->m, m = net->m;
	int q;

	memcpy(prev, st, sizeof(prev));
	/* The deviations before the origin, as prepare() saw them at j. */
	for (q = 0; q < 2; q++)
		for (i = j > m + roll_len(net, q) ? j - roll_len(net, q) : m; i < j; i++)
			roll_add(&r, q, D[i], 1);
	for (k = 0; k < nsteps; k++) {
		size_t t = j + k;
		double s = season_at(net, &v, t);

		make_inputs(net, u, s, t >= wl ? view_at(&v, t - wl) : NAN, t, &r);
		pred[k] = s + net->sd * (u[LSTM_IN_LEVEL] + cell_step(net->w, u, prev, next, NULL));
		memcpy(prev, next, sizeof(prev));
	}
}

void lstm_init_weights(struct lstm *net, uint64_t seed)
{
	double a = 1 / sqrt((double)C);
	uint64_t st = seed;
	size_t i, q;

	for (i = 0; i < LSTM_HEAD; i++)
		net->w[i] = a * (2 * adp_uniform(&st) - 1);
	/* A forget gate open at first, so that the state carries from the start. */
	for (q = 0; q < C; q++)
		net->w[(C + q) * R + R - 1] = 1;
	/* A small head: an untrained network forecasts the seasonal mean. */
	for (q = 0; q < C; q++)
		net->w[LSTM_HEAD + q] = 0.1 * a * (2 * adp_uniform(&st) - 1);
	net->w[LSTM_HEAD + C] = 0;
}

/* The free run's mean squared error over the held-out period [te, te + V),
 * from a state warmed up on the true values before it. */
static double validate(const struct lstm *net, const double *x, const double *U, const double *Y, const double *D,
		       size_t te, size_t V, double *pred)
{
	double st[2 * C] = { 0 }, sum = 0;
	size_t a = te > net->m + LSTM_WARM ? te - LSTM_WARM : net->m, k, cnt = 0;

	window(net->w, U, Y, a, te, st, st, NULL, NULL, &cnt);
	run_free(net, x, D, te, st, V, pred);
	cnt = 0;
	for (k = 0; k < V; k++)
		if (!isnan(x[te + k])) {
			double e = (pred[k] - x[te + k]) / net->sd;
			sum += e * e;
			cnt++;
		}
	return cnt ? sum / (double)cnt : INFINITY;
}

/* One Adam update of w by the gradient g (scaled to mean loss by the
 * caller), its norm clipped at LSTM_CLIP; mo and ve are the moments, tstep
 * the update's number from 1. */
static void adam(double *w, double *g, double *mo, double *ve, size_t tstep)
{
	const double b1 = 0.9, b2 = 0.999;
	double norm = 0, c1 = 1 - pow(b1, (double)tstep), c2 = 1 - pow(b2, (double)tstep);
	size_t i;

	for (i = 0; i < LSTM_NPARAMS; i++)
		norm += g[i] * g[i];
	norm = sqrt(norm);
	for (i = 0; i < LSTM_NPARAMS; i++) {
		double gi = norm > LSTM_CLIP ? g[i] * LSTM_CLIP / norm : g[i];

		mo[i] = b1 * mo[i] + (1 - b1) * gi;
		ve[i] = b2 * ve[i] + (1 - b2) * gi * gi;
		w[i] -= LSTM_LR * (mo[i] / c1) / (sqrt(ve[i] / c2) + 1e-8);
	}
}

/* The mean and standard deviation of x[a..b-1] (NANs skipped) into net;
 * a flat span gets a unit scale of its level, so that inputs stay finite. */
static int set_scale(struct lstm *net, const double *x, size_t a, size_t b)
{
	double s = 0, ss = 0;
	size_t t, c = 0;

	for (t = a; t < b; t++)
		if (!isnan(x[t])) {
			s += x[t];
			c++;
		}
	if (c < 2)
		return adp_error_set(ADP_EINPUT, "no values to train the LSTM on");
	net->mu = s / (double)c;
	for (t = a; t < b; t++)
		if (!isnan(x[t]))
			ss += (x[t] - net->mu) * (x[t] - net->mu);
	net->sd = sqrt(ss / (double)(c - 1));
	if (!(net->sd > 1e-9 * fmax(1, fabs(net->mu))))
		net->sd = fmax(1, fabs(net->mu));
	return 0;
}

static int train(struct lstm_fit *f, const double *U, const double *Y, size_t ntrain)
{
	struct lstm *net = &f->net;
	size_t m = net->m, te = ntrain - m, t0 = te > m + LSTM_MAX_TRAIN ? te - LSTM_MAX_TRAIN : m;
	size_t ep, best_ep = 0, updates = 0, a, cnt, i;
	double *grad = malloc(4 * LSTM_NPARAMS * sizeof(*grad)), *mo, *ve, *best, best_val = INFINITY;
	struct cache *k = malloc(LSTM_BPTT * sizeof(*k));
	double *pred = malloc(m * sizeof(*pred));
	int rc = 0;

	if (!grad || !k || !pred) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	mo = grad + LSTM_NPARAMS;
	ve = mo + LSTM_NPARAMS;
	best = ve + LSTM_NPARAMS;
	memset(mo, 0, 2 * LSTM_NPARAMS * sizeof(*mo));
	for (ep = 0; ep < LSTM_MAX_EPOCHS; ep++) {
		double st[2 * C] = { 0 }, val;

		for (a = t0; a < te; a += LSTM_BPTT) {
			size_t b = a + LSTM_BPTT < te ? a + LSTM_BPTT : te;

			memset(grad, 0, LSTM_NPARAMS * sizeof(*grad));
			window(net->w, U, Y, a, b, st, st, grad, k, &cnt);
			if (!cnt)
				continue;
			for (i = 0; i < LSTM_NPARAMS; i++)
				grad[i] /= (double)cnt;
			adam(net->w, grad, mo, ve, ++updates);
		}
		val = validate(net, f->x, U, Y, f->D, te, m, pred);
		if (val < best_val) {
			best_val = val;
			best_ep = ep;
			memcpy(best, net->w, sizeof(net->w));
		} else if (ep - best_ep >= LSTM_PATIENCE) {
			break;
		}
	}
	if (!isfinite(best_val)) {
		rc = adp_error_set(ADP_EINPUT, "the LSTM's held-out period has no values");
		goto done;
	}
	memcpy(net->w, best, sizeof(net->w));
	net->epochs = best_ep + 1;
	net->val_mse = best_val;
done:
	free(grad);
	free(k);
	free(pred);
	return rc;
}

int lstm_fit_init(struct lstm_fit *f, const double *x, size_t n, size_t ntrain, size_t m, size_t phase0,
		  uint64_t seed)
{
	struct lstm_fit g = { 0 };
	double *U = NULL, *Y = NULL;
	size_t t;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	if (m == 0 || ntrain > n || ntrain < LSTM_MIN_PERIODS * m)
		return adp_error_set(ADP_EINPUT, "too short to train an LSTM: %zu steps of history before the newest backtest origin, at least %d periods (%zu) needed",
				     ntrain, LSTM_MIN_PERIODS, LSTM_MIN_PERIODS * m);
	g.x = x;
	g.n = n;
	g.net.m = m;
	g.net.phase0 = phase0 % (LSTM_WEEK * m);
	{
		size_t te = ntrain - m, t0 = te > m + LSTM_MAX_TRAIN ? te - LSTM_MAX_TRAIN : m;

		if ((rc = set_scale(&g.net, x, t0, ntrain)))
			return rc;
	}
	lstm_init_weights(&g.net, seed);
	g.S = malloc(n * sizeof(*g.S));
	g.state = malloc((n + 1) * 2 * C * sizeof(*g.state));
	U = malloc(n * NI * sizeof(*U));
	g.D = malloc(n * sizeof(*g.D));
	Y = malloc(n * sizeof(*Y));
	if (!g.S || !g.state || !U || !g.D || !Y) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	prepare(&g.net, x, n, g.S, U, g.D, Y);
	if ((rc = train(&g, U, Y, ntrain)))
		goto done;
	/* The state ready at every origin, from the trained weights. */
	memset(g.state, 0, (m + 1) * 2 * C * sizeof(*g.state));
	for (t = m; t < n; t++)
		cell_step(g.net.w, U + t * NI, g.state + t * 2 * C, g.state + (t + 1) * 2 * C, NULL);
done:
	free(U);
	free(Y);
	if (rc)
		lstm_fit_release(&g);
	else
		*f = g;
	return rc;
}

int lstm_fit_reserve(struct lstm_fit *f, size_t steps)
{
	double *p;

	if (f->npred >= steps)
		return 0;
	if (!(p = realloc(f->pred, steps * sizeof(*p))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	f->pred = p;
	f->npred = steps;
	return 0;
}

void lstm_fit_path(struct lstm_fit *f, size_t j, size_t lead, size_t H, double *out)
{
	run_free(&f->net, f->x, f->D, j, f->state + j * 2 * C, lead + H, f->pred);
	memcpy(out, f->pred + lead, H * sizeof(*out));
}

void lstm_fit_release(struct lstm_fit *f)
{
	if (!f)
		return;
	free(f->S);
	free(f->D);
	free(f->state);
	free(f->pred);
	memset(f, 0, sizeof(*f));
}

int lstm_loss_grad(const struct lstm *net, const double *x, size_t n, size_t t0, size_t t1, double *loss,
		   double *grad)
{
	double *S = malloc(n * sizeof(*S)), *U = malloc(n * NI * sizeof(*U)), *D = malloc(n * sizeof(*D));
	double *Y = malloc(n * sizeof(*Y)), st[2 * C] = { 0 }, sum;
	struct cache *k = t1 > t0 ? malloc((t1 - t0) * sizeof(*k)) : NULL;
	size_t cnt, i;
	int rc = 0;

	if (!(net->m && net->m <= t0 && t0 < t1 && t1 <= n)) {
		rc = adp_error_set(ADP_EINPUT, "targets %zu to %zu are outside %zu to %zu", t0, t1, net->m, n);
		goto done;
	}
	if (!S || !U || !D || !Y || !k) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	prepare(net, x, n, S, U, D, Y);
	memset(grad, 0, LSTM_NPARAMS * sizeof(*grad));
	sum = window(net->w, U, Y, t0, t1, st, st, grad, k, &cnt);
	if (!cnt) {
		rc = adp_error_set(ADP_EINPUT, "no targets with values");
		goto done;
	}
	for (i = 0; i < LSTM_NPARAMS; i++)
		grad[i] /= (double)cnt;
	*loss = sum / (double)cnt;
done:
	free(S);
	free(U);
	free(D);
	free(Y);
	free(k);
	return rc;
}
