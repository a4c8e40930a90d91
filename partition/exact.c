/* Exact mode: the planner's wave problem as a MILP (see exact.h and
 * adpart-update(1), EXACT MODE). Indices: i a mover, p a partition, r a
 * resource, h a step of the wave, k a joint scenario. */
#include "partition/exact.h"

#include <float.h>
#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "util/fault.h"

#define R ADP_RES_COUNT
/* A MILP larger than this is not built: GLPK aborts on out of memory. */
#define MAX_NONZEROS ((size_t)4 << 20)
#define NONE ((size_t)-1)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *part_exact_status_name(int status)
{
	switch (status) {
	case PART_EXACT_OPTIMAL: return "optimal";
	case PART_EXACT_FEASIBLE: return "feasible";
	case PART_EXACT_INFEASIBLE: return "infeasible";
	case PART_EXACT_NOSOLUTION: return "no solution";
	}
	return "unknown";
}

/* ---- the instance, read as the planner lays it out ---- */

static double cap_of(const struct part_wave_problem *pb, size_t p, int r)
{
	return pb->capacity[p * R + (size_t)r];
}

static double dem_of(const struct part_wave_problem *pb, size_t i, int r, size_t k, size_t h)
{
	const struct part_wave_mover *m = &pb->movers[i];

	return m->factor * (m->demand[r] ? m->demand[r][k * pb->stride + pb->offset + h] : m->min[r]);
}

static double base_of(const struct part_wave_problem *pb, size_t p, int r, size_t k, size_t h)
{
	return pb->base[((p * R + (size_t)r) * pb->stride + pb->offset + h) * pb->K + k];
}

/* dependence x the mover's spread (0 without the floor). */
static double msp_of(const struct part_wave_problem *pb, size_t i, int r, size_t h)
{
	const struct part_wave_mover *m = &pb->movers[i];

	if (pb->dependence <= 0 || !m->spread_h)
		return 0;
	return pb->dependence * m->factor * m->spread_h[(size_t)r * pb->stride + pb->offset + h];
}

static double bsp_of(const struct part_wave_problem *pb, size_t p, int r, size_t h)
{
	if (pb->dependence <= 0 || !pb->base_spread)
		return 0;
	return pb->dependence * pb->base_spread[(p * R + (size_t)r) * pb->stride + pb->offset + h];
}

static size_t allowed_over(const struct part_wave_problem *pb, int r)
{
	return (size_t)floor(pb->eps[r] * (double)pb->K + 1e-9);
}

static int eligible(const struct part_wave_problem *pb, size_t i, size_t p)
{
	return pb->online[p] && !pb->hosts[pb->movers[i].comp * pb->nparts + p];
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The median the floor uses: the value with (K - 1) / 2 values above it. */
static double median(double *v, size_t K)
{
	qsort(v, K, sizeof(double), cmp_desc);
	return v[(K - 1) / 2];
}

/* ---- the loads of an assignment, step by step ---- */

struct loads {
	double *l;   /* (p, r, k, h) at [((p * R + r) * K + k) * H + h] */
	double *s;   /* dependence x spreads, (p, r, h) at [(p * R + r) * H + h] */
	double *v;   /* K scratch */
};

static void loads_release(struct loads *L)
{
	free(L->l);
	free(L->s);
	free(L->v);
	memset(L, 0, sizeof(*L));
}

/* The stayers' load plus the movers' that assign places (NONE: not). */
static int loads_build(struct loads *L, const struct part_wave_problem *pb, const size_t *assign)
{
	size_t P = pb->nparts, K = pb->K, H = pb->H, i, p, k, h;
	int r;

	memset(L, 0, sizeof(*L));
	L->l = malloc((P * R * K * H + 1) * sizeof(double));
	L->s = malloc((P * R * H + 1) * sizeof(double));
	L->v = malloc((K + 1) * sizeof(double));
	if (!L->l || !L->s || !L->v) {
		loads_release(L);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	for (p = 0; p < P; p++)
		for (r = 0; r < R; r++) {
			for (h = 0; h < H; h++) {
				L->s[(p * R + (size_t)r) * H + h] = bsp_of(pb, p, r, h);
				for (k = 0; k < K; k++)
					L->l[((p * R + (size_t)r) * K + k) * H + h] = base_of(pb, p, r, k, h);
			}
		}
	for (i = 0; assign && i < pb->nmovers; i++) {
		if ((p = assign[i]) == NONE || p >= P)
			continue;
		for (r = 0; r < R; r++)
			for (h = 0; h < H; h++) {
				L->s[(p * R + (size_t)r) * H + h] += msp_of(pb, i, r, h);
				for (k = 0; k < K; k++)
					L->l[((p * R + (size_t)r) * K + k) * H + h] += dem_of(pb, i, r, k, h);
			}
	}
	return 0;
}

/* On (p, r, h), with mover i added (NONE: as it is): scenarios over
 * capacity, and whether the co-movement floor breaks. */
static size_t step_over(struct loads *L, const struct part_wave_problem *pb, size_t p, int r, size_t h, size_t i,
			int *floor_broken)
{
	size_t K = pb->K, H = pb->H, k, over = 0;
	double cap = cap_of(pb, p, r), s = L->s[(p * R + (size_t)r) * H + h];

	for (k = 0; k < K; k++) {
		L->v[k] = L->l[((p * R + (size_t)r) * K + k) * H + h] + (i == NONE ? 0 : dem_of(pb, i, r, k, h));
		over += L->v[k] > cap;
	}
	*floor_broken = 0;
	if (pb->dependence > 0)
		*floor_broken = median(L->v, K) + s + (i == NONE ? 0 : msp_of(pb, i, r, h)) > cap;
	return over;
}

/* Whether mover i fits on p beside the stayers alone, on every step: if
 * not, it fits there in no assignment (loads only add up). */
static int fits_alone(struct loads *L, const struct part_wave_problem *pb, size_t i, size_t p)
{
	size_t h;
	int r, fl;

	if (!eligible(pb, i, p))
		return 0;
	for (r = 0; r < R; r++) {
		double cap = cap_of(pb, p, r);

		if (cap <= 0)
			continue;
		if (pb->base_min[p * R + (size_t)r] + pb->movers[i].min[r] > cap + 1e-9)
			return 0;
		for (h = 0; h < pb->H; h++)
			if (step_over(L, pb, p, r, h, i, &fl) > allowed_over(pb, r) || fl)
				return 0;
	}
	return 1;
}

/* ---- the MILP ---- */

struct lp_build {
	int *ia, *ja;
	double *ar;
	size_t ne, cap_ne;
	int too_big;
};

static int lp_add(struct lp_build *b, int row, int col, double v)
{
	if (b->ne + 1 >= b->cap_ne) {
		size_t n = b->cap_ne ? 2 * b->cap_ne : 4096;
		int *ia, *ja;
		double *ar;

		if (n > MAX_NONZEROS + 2) {
			b->too_big = 1;
			return -1;
		}
		ia = realloc(b->ia, n * sizeof(int));
		if (ia)
			b->ia = ia;
		ja = realloc(b->ja, n * sizeof(int));
		if (ja)
			b->ja = ja;
		ar = realloc(b->ar, n * sizeof(double));
		if (ar)
			b->ar = ar;
		if (!ia || !ja || !ar)
			return -1;
		b->cap_ne = n;
	}
	b->ne++;
	b->ia[b->ne] = row;
	b->ja[b->ne] = col;
	b->ar[b->ne] = v;
	return 0;
}

enum { COL_X, COL_Y, COL_V, COL_Z, COL_W };

struct col_desc {
	unsigned char kind, r;
	size_t i, p, h, k;
};

struct cols {
	struct col_desc *d;   /* [1..n] */
	size_t n, cap;
};

/* Adds a column to lp and notes what it stands for; 0 when out of memory. */
static int add_col(glp_prob *lp, struct cols *c, int kind, size_t i, size_t p, int r, size_t h, size_t k)
{
	struct col_desc *d;

	if (c->n + 2 > c->cap) {
		size_t n = c->cap ? 2 * c->cap : 1024;

		if (!(d = realloc(c->d, n * sizeof(*d))))
			return 0;
		c->d = d;
		c->cap = n;
	}
	d = &c->d[++c->n];
	d->kind = (unsigned char)kind;
	d->r = (unsigned char)r;
	d->i = i;
	d->p = p;
	d->h = h;
	d->k = k;
	return glp_add_cols(lp, 1);
}

struct milp_result {
	int status;        /* for the steps modelled */
	int time_limit_hit, too_large;
	int solver_failed; /* GLPK's return code when it failed (numerically) */
	double objective, bound;
	size_t *assign;    /* owned when status is OPTIMAL or FEASIBLE */
	size_t *checked;   /* owned or NULL: the best incumbent without violations */
	double checked_cost;
	size_t rows, cols, nonzeros;
};

struct cb_info {
	const double *warm;  /* 1-based column values, or NULL */
	int given;
	double bound;
	glp_prob *lp;
	const struct part_wave_problem *pb;
	const int *xcol;
	size_t *scratch;     /* [N] */
	size_t *best;        /* best incumbent without violations, or NULL */
	double best_cost;
	double deadline;     /* now_s() at which the search stops */
	int stopped;         /* it stopped there */
};

static void read_assign(glp_prob *lp, const struct part_wave_problem *pb, const int *xcol, size_t *assign, int mip)
{
	size_t i, p;

	for (i = 0; i < pb->nmovers; i++) {
		assign[i] = PART_UNPLACED;
		for (p = 0; p < pb->nparts; p++)
			if (xcol[i * pb->nparts + p] && glp_mip_col_val(lp, xcol[i * pb->nparts + p]) > 0.5 && mip)
				assign[i] = p;
	}
}

/* Every incumbent is scored by part_wave_evaluate as it appears: a later
 * one may be better on the modelled steps only. */
static void check_incumbent(struct cb_info *cb)
{
	const struct part_wave_problem *pb = cb->pb;
	double c;
	size_t bad;

	read_assign(cb->lp, pb, cb->xcol, cb->scratch, 1);
	if (part_wave_evaluate(pb, cb->scratch, &c, &bad) == 0 && !bad && c < cb->best_cost &&
	    (cb->best || (cb->best = malloc((pb->nmovers + 1) * sizeof(size_t))))) {
		memcpy(cb->best, cb->scratch, pb->nmovers * sizeof(size_t));
		cb->best_cost = c;
	}
	adp_error_clear();
}

/* Offers the start once, checks each new incumbent, and keeps the best
 * bound of the tree (the lowest local bound of an active node). */
static void milp_callback(glp_tree *T, void *arg)
{
	struct cb_info *cb = arg;
	int p, reason = glp_ios_reason(T);

	if (reason == GLP_IHEUR && cb->warm && !cb->given) {
		glp_ios_heur_sol(T, cb->warm);
		cb->given = 1;
	}
	if (reason == GLP_IBINGO && cb->scratch)
		check_incumbent(cb);
	if ((p = glp_ios_best_node(T)) != 0) {
		double b = glp_ios_node_bound(T, p);

		if (b > cb->bound)
			cb->bound = b;
	}
	/* GLPK checks its own limit only between nodes; this is checked at
	 * every callback of a node too. */
	if (now_s() > cb->deadline && !cb->stopped) {
		cb->stopped = 1;
		glp_ios_terminate(T);
	}
}

/* Every column's value for an assignment without violations: x from it,
 * z and w where the scenario is over capacity or over the floor's
 * threshold, v the largest share of scenarios over capacity on the
 * modelled steps, y = v x. */
static int warm_values(double **out, const struct part_wave_problem *pb, const struct cols *c, const size_t *assign)
{
	size_t K = pb->K, H = pb->H, j;
	double *x = calloc(c->n + 1, sizeof(double)), *cnt = calloc(pb->nparts * R * H + 1, sizeof(double));
	double *v = calloc(pb->nparts + 1, sizeof(double));
	struct loads L;
	int rc;

	if (!x || !cnt || !v) {
		free(x);
		free(cnt);
		free(v);
		return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if ((rc = loads_build(&L, pb, assign)) == 0) {
		for (j = 1; j <= c->n; j++) {
			const struct col_desc *d = &c->d[j];
			size_t idx = (d->p * R + d->r) * H + d->h;
			double l = d->kind >= COL_Z ? L.l[((d->p * R + d->r) * K + d->k) * H + d->h] : 0;
			double cap = cap_of(pb, d->p, d->r);

			if (d->kind == COL_X) {
				x[j] = assign[d->i] == d->p;
			} else if (d->kind == COL_Z && l > cap) {
				x[j] = 1;
				cnt[idx] += 1;
				v[d->p] = fmax(v[d->p], cnt[idx] / (double)K);
			} else if (d->kind == COL_W && l + L.s[idx] > cap) {
				x[j] = 1;
			}
		}
		for (j = 1; j <= c->n; j++) {
			const struct col_desc *d = &c->d[j];

			if (d->kind == COL_V)
				x[j] = v[d->p];
			else if (d->kind == COL_Y && assign[d->i] == d->p)
				x[j] = v[d->p];
		}
		loads_release(&L);
	}
	free(cnt);
	free(v);
	if (rc)
		free(x);
	else
		*out = x;
	return rc;
}

/* The MILP being built: its columns, rows and matrix. The model
 * functions return 0, or -1 when out of memory or too large (b.too_big). */
struct milp_model {
	const struct part_wave_problem *pb; /* borrowed */
	glp_prob *lp;                       /* owned */
	struct lp_build b;                  /* owned */
	struct cols cols;                   /* owned */
	int *xcol;                          /* owned: [i * P + p], x[i,p]'s column or 0 */
	int *vcol;                          /* owned: [p], v[p]'s column or 0 */
	double *coef;                       /* owned: scratch, one per mover */
	int ncols, nrows;
};

/* x[i,p]: mover i on p, where it may go and fits alone; each mover on
 * exactly one. 1 when a mover may go nowhere. */
static int milp_assign_rows(struct milp_model *m, const unsigned char *offer, const double *share)
{
	const struct part_wave_problem *pb = m->pb;
	size_t N = pb->nmovers, P = pb->nparts, i, p;
	double wconf = pb->weights[SCHEDULE_W_CONFIDENCE];

	for (i = 0; i < N; i++) {
		int any = 0;

		for (p = 0; p < P; p++) {
			if (!offer[i * P + p])
				continue;
			if (!(m->xcol[i * P + p] = m->ncols = add_col(m->lp, &m->cols, COL_X, i, p, 0, 0, 0)))
				return -1;
			glp_set_col_kind(m->lp, m->ncols, GLP_BV);
			glp_set_obj_coef(m->lp, m->ncols, wconf * pb->movers[i].spread * share[i * P + p]);
			any = 1;
		}
		if (!any)
			return 1;
		m->nrows = glp_add_rows(m->lp, 1);
		glp_set_row_bnds(m->lp, m->nrows, GLP_FX, 1, 1);
		for (p = 0; p < P; p++)
			if (m->xcol[i * P + p] && lp_add(&m->b, m->nrows, m->xcol[i * P + p], 1))
				return -1;
	}
	return 0;
}

/* Anti-affinity between movers of one component. */
static int milp_anti_affinity(struct milp_model *m)
{
	const struct part_wave_problem *pb = m->pb;
	size_t N = pb->nmovers, P = pb->nparts, i, j, p;

	for (i = 0; i < N; i++) {
		size_t same = 0;

		for (j = 0; j < i && pb->movers[j].comp != pb->movers[i].comp; j++)
			;
		if (j < i)
			continue;  /* the group is handled at its first mover */
		for (j = i; j < N; j++)
			same += pb->movers[j].comp == pb->movers[i].comp;
		if (same < 2)
			continue;
		for (p = 0; p < P; p++) {
			m->nrows = glp_add_rows(m->lp, 1);
			glp_set_row_bnds(m->lp, m->nrows, GLP_UP, 0, 1);
			for (j = i; j < N; j++)
				if (pb->movers[j].comp == pb->movers[i].comp && m->xcol[j * P + p] &&
				    lp_add(&m->b, m->nrows, m->xcol[j * P + p], 1))
					return -1;
		}
	}
	return 0;
}

/* Guarantees of r within p's capacity, in shares of it. */
static int milp_guarantee_row(struct milp_model *m, size_t p, int r)
{
	const struct part_wave_problem *pb = m->pb;
	size_t N = pb->nmovers, P = pb->nparts, i;
	double cap = cap_of(pb, p, r), gtot = 0, bmin = pb->base_min[p * R + (size_t)r];

	for (i = 0; i < N; i++)
		if (m->xcol[i * P + p])
			gtot += pb->movers[i].min[r];
	if (bmin + gtot <= cap)
		return 0;
	m->nrows = glp_add_rows(m->lp, 1);
	glp_set_row_bnds(m->lp, m->nrows, GLP_UP, 0, 1 - bmin / cap);
	for (i = 0; i < N; i++)
		if (m->xcol[i * P + p] && pb->movers[i].min[r] > 0 &&
		    lp_add(&m->b, m->nrows, m->xcol[i * P + p], pb->movers[i].min[r] / cap))
			return -1;
	return 0;
}

/* One step's rows for r on p. Pass 0 the chance constraint: scenario row
 * k holds unless z = 1, at most a of the z are 1; pass 1 the floor: the
 * total plus dependence x spreads is within capacity unless w = 1, at
 * most (K - 1) / 2 of the w are 1 (the median plus the spreads is then
 * within it). */
static int milp_step_rows(struct milp_model *m, size_t p, int r, size_t h, int pass)
{
	const struct part_wave_problem *pb = m->pb;
	size_t N = pb->nmovers, P = pb->nparts, K = pb->K, i, k;
	size_t lim = pass ? (K - 1) / 2 : allowed_over(pb, r);
	double cap = cap_of(pb, p, r), wrisk = pb->weights[SCHEDULE_W_RISK];
	int cntrow = 0, vrow = 0;

	for (i = 0; i < N; i++)
		m->coef[i] = pass ? msp_of(pb, i, r, h) : 0;
	for (k = 0; k < K; k++) {
		double B = base_of(pb, p, r, k, h) + (pass ? bsp_of(pb, p, r, h) : 0), M = B - cap;
		int row, z;

		for (i = 0; i < N; i++)
			if (m->xcol[i * P + p])
				M += dem_of(pb, i, r, k, h) + m->coef[i];
		if (M <= 0)
			continue;  /* cannot be over */
		row = m->nrows = glp_add_rows(m->lp, 1);
		glp_set_row_bnds(m->lp, row, GLP_UP, 0, 1 - B / cap);
		for (i = 0; i < N; i++) {
			double d = dem_of(pb, i, r, k, h) + m->coef[i];

			if (m->xcol[i * P + p] && d != 0 && lp_add(&m->b, row, m->xcol[i * P + p], d / cap))
				return -1;
		}
		if (lim == 0)
			continue;  /* a hard row */
		if (!(z = m->ncols = add_col(m->lp, &m->cols, pass ? COL_W : COL_Z, 0, p, r, h, k)))
			return -1;
		glp_set_col_kind(m->lp, z, GLP_BV);
		if (lp_add(&m->b, row, z, -M / cap))
			return -1;
		if (!cntrow) {
			cntrow = m->nrows = glp_add_rows(m->lp, 1);
			glp_set_row_bnds(m->lp, cntrow, GLP_UP, 0, (double)lim);
		}
		if (lp_add(&m->b, cntrow, z, 1))
			return -1;
		if (pass || wrisk <= 0)
			continue;
		/* v[p] >= the share of scenarios over capacity. */
		if (!m->vcol[p]) {
			if (!(m->vcol[p] = m->ncols = add_col(m->lp, &m->cols, COL_V, 0, p, 0, 0, 0)))
				return -1;
			glp_set_col_bnds(m->lp, m->ncols, GLP_DB, 0, 1);
		}
		if (!vrow) {
			vrow = m->nrows = glp_add_rows(m->lp, 1);
			glp_set_row_bnds(m->lp, vrow, GLP_LO, 0, 0);
			if (lp_add(&m->b, vrow, m->vcol[p], 1))
				return -1;
		}
		if (lp_add(&m->b, vrow, z, -1.0 / (double)K))
			return -1;
	}
	return 0;
}

/* Risk by tier: y[i,p] >= v[p] - (1 - x[i,p]), so y = v[p] x[i,p] at
 * the optimum (v <= 1, x binary). */
static int milp_risk_cols(struct milp_model *m, size_t p)
{
	const struct part_wave_problem *pb = m->pb;
	size_t N = pb->nmovers, P = pb->nparts, i;
	double wrisk = pb->weights[SCHEDULE_W_RISK];

	if (!m->vcol[p])
		return 0;
	for (i = 0; i < N; i++) {
		double wgt = wrisk * part_tier_impact(pb->movers[i].tier);
		int y, row;

		if (!m->xcol[i * P + p] || wgt <= 0)
			continue;
		if (!(y = m->ncols = add_col(m->lp, &m->cols, COL_Y, i, p, 0, 0, 0)))
			return -1;
		glp_set_col_bnds(m->lp, y, GLP_DB, 0, 1);
		glp_set_obj_coef(m->lp, y, wgt);
		row = m->nrows = glp_add_rows(m->lp, 1);
		glp_set_row_bnds(m->lp, row, GLP_LO, -1, 0);
		if (lp_add(&m->b, row, y, 1) || lp_add(&m->b, row, m->vcol[p], -1) ||
		    lp_add(&m->b, row, m->xcol[i * P + p], -1))
			return -1;
	}
	return 0;
}

/* Every online partition's rows on the steps listed in steps[0..nsel). */
static int milp_partition_rows(struct milp_model *m, const size_t *steps, size_t nsel)
{
	const struct part_wave_problem *pb = m->pb;
	size_t p, n;
	int r, pass;

	for (p = 0; p < pb->nparts; p++) {
		if (!pb->online[p])
			continue;
		for (r = 0; r < R; r++) {
			if (cap_of(pb, p, r) <= 0)
				continue;
			if (milp_guarantee_row(m, p, r))
				return -1;
			for (n = 0; n < nsel; n++)
				for (pass = 0; pass < 2; pass++) {
					if (pass && pb->dependence <= 0)
						break;
					if (milp_step_rows(m, p, r, steps[n], pass))
						return -1;
				}
		}
		if (milp_risk_cols(m, p))
			return -1;
	}
	return 0;
}

/* GLPK's time limit in ms for what is left of seconds since t0. */
static int milp_time_left(double seconds, double t0)
{
	double left = seconds - (now_s() - t0);

	return left <= 0.001 ? 1 : left * 1000 > 2e9 ? 2000000000 : (int)(left * 1000);
}

/* Solves the built model: the LP relaxation, then branch and bound from
 * the warm start (1-based column values, or NULL). */
static int milp_run(struct milp_result *res, struct milp_model *m, const double *warm, double seconds, double t0,
		    double mip_gap)
{
	const struct part_wave_problem *pb = m->pb;
	size_t N = pb->nmovers;
	struct cb_info cb = { 0 };
	glp_smcp sm;
	glp_iocp io;
	int ret, rc = 0;

	glp_scale_prob(m->lp, GLP_SF_AUTO);
	glp_init_smcp(&sm);
	sm.msg_lev = GLP_MSG_OFF;
	sm.presolve = GLP_OFF;
	sm.tm_lim = milp_time_left(seconds, t0);
	ret = glp_simplex(m->lp, &sm);
	if (ret == GLP_ETMLIM) {
		res->status = PART_EXACT_NOSOLUTION;
		res->time_limit_hit = 1;
		return 0;
	}
	if (!ret && glp_get_status(m->lp) == GLP_NOFEAS) {
		res->status = PART_EXACT_INFEASIBLE;
		return 0;
	}
	/* A numerical failure of GLPK's (seen on large tight waves) is no
	 * reason to lose the plan: the MILP gives nothing, the start stands. */
	if (ret) {
		res->status = PART_EXACT_NOSOLUTION;
		res->solver_failed = ret;
		return 0;
	}
	cb.bound = glp_get_obj_val(m->lp);
	cb.warm = warm;
	cb.lp = m->lp;
	cb.pb = pb;
	cb.xcol = m->xcol;
	cb.best_cost = INFINITY;
	cb.scratch = malloc((N + 1) * sizeof(size_t));
	cb.deadline = t0 + seconds;
	glp_init_iocp(&io);
	io.msg_lev = GLP_MSG_OFF;
	io.presolve = GLP_OFF;
	io.bt_tech = GLP_BT_BLB;
	/* Most fractional: the default (Driebeck-Tomlin) evaluates a
	 * tableau row per candidate, minutes per node on a large wave,
	 * and GLPK checks its time limit only between nodes. */
	io.br_tech = GLP_BR_MFV;
	/* No cuts: on these rows they cost more time than they gain in
	 * bound, and GLPK checks its time limit only between nodes. */
	io.mip_gap = mip_gap;
	io.tm_lim = milp_time_left(seconds, t0);
	io.cb_func = milp_callback;
	io.cb_info = &cb;
	ret = adp_fault_hit(ADP_FAULT_SOLVER) ? GLP_EFAIL : glp_intopt(m->lp, &io);
	if (ret && ret != GLP_ETMLIM && ret != GLP_EMIPGAP && !(ret == GLP_ESTOP && cb.stopped)) {
		/* As above; an incumbent checked before the failure is kept. */
		res->status = PART_EXACT_NOSOLUTION;
		res->solver_failed = ret;
		res->checked = cb.best;
		res->checked_cost = cb.best_cost;
		cb.best = NULL;
		goto done;
	}
	res->time_limit_hit = ret == GLP_ETMLIM || ret == GLP_ESTOP;
	res->checked = cb.best;
	res->checked_cost = cb.best_cost;
	cb.best = NULL;
	switch (glp_mip_status(m->lp)) {
	case GLP_OPT:
		res->status = PART_EXACT_OPTIMAL;
		break;
	case GLP_FEAS:
		res->status = PART_EXACT_FEASIBLE;
		break;
	case GLP_NOFEAS:
		res->status = PART_EXACT_INFEASIBLE;
		goto done;
	default:
		res->status = PART_EXACT_NOSOLUTION;
		res->bound = cb.bound;
		goto done;
	}
	res->objective = glp_mip_obj_val(m->lp);
	res->bound = res->status == PART_EXACT_OPTIMAL ? res->objective : fmin(cb.bound, res->objective);
	if (!(res->assign = malloc((N + 1) * sizeof(size_t)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	read_assign(m->lp, pb, m->xcol, res->assign, 1);
done:
	free(cb.scratch);
	free(cb.best);
	return rc;
}

/* Builds and solves the MILP on the wave's steps listed in steps[0..nsel).
 * offer[i * P + p]: mover i may go on p; share[i * P + p]: its
 * confidence coefficient. */
static int milp_solve(struct milp_result *res, const struct part_wave_problem *pb, const unsigned char *offer,
		      const double *share, const size_t *steps, size_t nsel, const size_t *warm_assign,
		      double seconds, double mip_gap)
{
	size_t N = pb->nmovers, P = pb->nparts;
	struct milp_model m = { .pb = pb };
	double *warm = NULL;
	int rc = 0, term = glp_term_out(GLP_OFF), built;
	double t0 = now_s();

	m.lp = glp_create_prob();
	m.xcol = calloc(N * P + 1, sizeof(int));
	m.vcol = calloc(P + 1, sizeof(int));
	memset(res, 0, sizeof(*res));
	res->bound = -INFINITY;
	res->objective = INFINITY;
	if (!m.xcol || !m.vcol || !(m.coef = malloc((N + 1) * sizeof(double)))) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	glp_set_obj_dir(m.lp, GLP_MIN);
	/* Every mover moves once, whatever the assignment. */
	glp_set_obj_coef(m.lp, 0, pb->weights[SCHEDULE_W_MOVES] * (double)N);
	built = milp_assign_rows(&m, offer, share);
	if (built == 1) {
		res->status = PART_EXACT_INFEASIBLE;
		goto done;
	}
	if (built || milp_anti_affinity(&m) || milp_partition_rows(&m, steps, nsel)) {
		if (!m.b.too_big) {
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
			goto done;
		}
		/* Not an error: the start stands unproven. */
		res->status = PART_EXACT_NOSOLUTION;
		res->too_large = 1;
		goto done;
	}
	glp_load_matrix(m.lp, (int)m.b.ne, m.b.ia, m.b.ja, m.b.ar);
	res->rows = (size_t)m.nrows;
	res->cols = (size_t)m.ncols;
	res->nonzeros = m.b.ne;
	if (!(warm_assign && (rc = warm_values(&warm, pb, &m.cols, warm_assign))))
		rc = milp_run(res, &m, warm, seconds, t0, mip_gap);
done:
	glp_delete_prob(m.lp);
	glp_term_out(term);
	free(m.b.ia);
	free(m.b.ja);
	free(m.b.ar);
	free(m.xcol);
	free(m.vcol);
	free(warm);
	free(m.coef);
	free(m.cols.d);
	return rc;
}

/* ---- steps: a few first, the ones an answer breaks added ---- */

static int cmp_score(const void *a, const void *b, void *arg)
{
	const double *sc = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return sc[x] < sc[y] ? 1 : sc[x] > sc[y] ? -1 : (x < y ? -1 : x > y);
}

/* The steps with the highest mean total load, as a share of all metered
 * capacity, summed over the resources. */
static size_t first_steps(const struct part_wave_problem *pb, size_t *steps, size_t want)
{
	size_t H = pb->H, K = pb->K, h, p, i, k, n;
	double *sc = calloc(H + 1, sizeof(double));
	size_t *ord = malloc((H + 1) * sizeof(size_t));
	int r;

	if (!sc || !ord) {
		free(sc);
		free(ord);
		return 0;
	}
	for (r = 0; r < R; r++) {
		double tot = 0;

		for (p = 0; p < pb->nparts; p++)
			if (pb->online[p] && cap_of(pb, p, r) > 0)
				tot += cap_of(pb, p, r);
		if (tot <= 0)
			continue;
		for (h = 0; h < H; h++) {
			double sum = 0;

			for (p = 0; p < pb->nparts; p++)
				if (pb->online[p] && cap_of(pb, p, r) > 0)
					for (k = 0; k < K; k++)
						sum += base_of(pb, p, r, k, h);
			for (i = 0; i < pb->nmovers; i++)
				for (k = 0; k < K; k++)
					sum += dem_of(pb, i, r, k, h);
			sc[h] += sum / (double)K / tot;
		}
	}
	for (h = 0; h < H; h++)
		ord[h] = h;
	qsort_r(ord, H, sizeof(size_t), cmp_score, sc);
	n = want < H ? want : H;
	memcpy(steps, ord, n * sizeof(size_t));
	free(sc);
	free(ord);
	return n;
}

/* Steps where an assignment is worse than the MILP saw: a breach of the
 * chance constraint or the floor, or more scenarios over capacity than
 * on the modelled steps. Appends at most max_add; returns how many. */
static int missed_steps(const struct part_wave_problem *pb, const size_t *assign, size_t *steps, size_t *nsel,
			size_t max_add, size_t *added)
{
	struct loads L;
	unsigned char *in = calloc(pb->H + 1, 1);
	size_t p, h, n;
	int r, rc, fl;

	*added = 0;
	if (!in)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = loads_build(&L, pb, assign))) {
		free(in);
		return rc;
	}
	for (n = 0; n < *nsel; n++)
		in[steps[n]] = 1;
	for (p = 0; p < pb->nparts && *added < max_add; p++) {
		if (!pb->online[p])
			continue;
		for (r = 0; r < R && *added < max_add; r++) {
			size_t seen = 0, worst = 0, ws = NONE, a = allowed_over(pb, r);

			if (cap_of(pb, p, r) <= 0)
				continue;
			int wbreach = 0;

			for (h = 0; h < pb->H; h++) {
				size_t over = step_over(&L, pb, p, r, h, NONE, &fl);
				int breach = over > a || fl;

				if (in[h]) {
					seen = over > seen ? over : seen;
					continue;
				}
				if (ws == NONE || breach > wbreach || (breach == wbreach && over > worst)) {
					ws = h;
					worst = over;
					wbreach = breach;
				}
			}
			if (ws != NONE && (wbreach || worst > seen)) {
				steps[(*nsel)++] = ws;
				in[ws] = 1;
				(*added)++;
			}
		}
	}
	loads_release(&L);
	free(in);
	return 0;
}

/* GLPK aborts on a coefficient that is not a number. */
static int check_finite(const struct part_wave_problem *pb)
{
	size_t i, p, k, h;
	int r;

	for (i = 0; i < pb->nmovers; i++)
		for (r = 0; r < R; r++) {
			if (!isfinite(pb->movers[i].min[r]) || pb->movers[i].min[r] < 0 || !isfinite(pb->movers[i].factor))
				return adp_error_set(ADP_EINPUT, "mover %zu: guarantee or share is not a finite non-negative number", i);
			for (h = 0; h < pb->H; h++) {
				for (k = 0; k < pb->K; k++) {
					double d = dem_of(pb, i, r, k, h);

					if (!isfinite(d) || d < 0)
						return adp_error_set(ADP_EINPUT, "mover %zu: demand %g is not a finite non-negative number",
								     i, d);
				}
				if (!isfinite(msp_of(pb, i, r, h)))
					return adp_error_set(ADP_EINPUT, "mover %zu: spread is not finite", i);
			}
		}
	for (p = 0; p < pb->nparts; p++)
		for (r = 0; r < R; r++) {
			if (!isfinite(cap_of(pb, p, r)) || !isfinite(pb->base_min[p * R + (size_t)r]))
				return adp_error_set(ADP_EINPUT, "partition %zu: capacity or guarantees are not finite", p);
			for (h = 0; h < pb->H; h++) {
				for (k = 0; k < pb->K; k++)
					if (!isfinite(base_of(pb, p, r, k, h)) || base_of(pb, p, r, k, h) < 0)
						return adp_error_set(ADP_EINPUT, "partition %zu: load %g is not a finite non-negative number",
								     p, base_of(pb, p, r, k, h));
				if (!isfinite(bsp_of(pb, p, r, h)))
					return adp_error_set(ADP_EINPUT, "partition %zu: spread is not finite", p);
			}
		}
	for (r = 0; r < R; r++)
		if (!(pb->eps[r] >= 0 && pb->eps[r] < 1))
			return adp_error_set(ADP_EINPUT, "eps of %s must be in [0, 1)", adp_resource_name(r));
	for (i = 0; i < SCHEDULE_NWEIGHTS; i++)
		if (!isfinite(pb->weights[i]) || pb->weights[i] < 0)
			return adp_error_set(ADP_EINPUT, "cost weight %zu is not a finite non-negative number", i);
	if (!isfinite(pb->dependence) || pb->dependence < 0)
		return adp_error_set(ADP_EINPUT, "the dependence is not a finite non-negative number");
	return 0;
}

/* (cost, violations) better than the other's: fewer violations, then a
 * lower cost. */
static int better(double c, size_t v, double c0, size_t v0)
{
	return v < v0 || (v == v0 && c < c0 - 1e-12 * (1 + fabs(c0)));
}

/* Where each mover may go (it fits there alone), and its confidence
 * coefficient there. */
static int offers(const struct part_wave_problem *pb, unsigned char *offer, double *share)
{
	size_t N = pb->nmovers, P = pb->nparts, i, p;
	struct loads L = { 0 };
	int rc;

	if ((rc = loads_build(&L, pb, NULL)))
		return rc;
	for (i = 0; i < N; i++)
		for (p = 0; p < P; p++)
			if ((offer[i * P + p] = (unsigned char)fits_alone(&L, pb, i, p)))
				share[i * P + p] = part_wave_share(pb, i, p);
	loads_release(&L);
	return 0;
}

/* Keeps assign (without violations, of cost) when it beats the one kept. */
static void keep_if_better(struct part_exact_result *out, size_t *keep, const size_t *assign, double cost, size_t N)
{
	if (!better(cost, 0, out->objective, out->violations))
		return;
	memcpy(keep, assign, N * sizeof(size_t));
	out->objective = cost;
	out->violations = 0;
	out->replaced = 1;
}

/* The status, bound and gap of what is kept. */
static void verdict(struct part_exact_result *out, size_t N, int proven, int infeasible, double lb)
{
	if (!N) {
		/* Nothing moves: the stayers alone decide. */
		out->status = out->violations ? PART_EXACT_INFEASIBLE : PART_EXACT_OPTIMAL;
		out->bound = out->violations ? INFINITY : out->objective;
	} else if (out->violations) {
		out->status = infeasible ? PART_EXACT_INFEASIBLE : PART_EXACT_NOSOLUTION;
		out->bound = infeasible ? INFINITY : lb;
	} else if (proven) {
		out->status = PART_EXACT_OPTIMAL;
		out->bound = out->objective;
	} else {
		out->bound = fmin(lb, out->objective);
		out->status = out->bound >= out->objective - 1e-9 * (1 + fabs(out->objective)) ? PART_EXACT_OPTIMAL
											  : PART_EXACT_FEASIBLE;
	}
	out->gap = out->violations || isinf(out->bound)
			   ? INFINITY
			   : (out->objective - out->bound) / (fabs(out->objective) + DBL_EPSILON);
	if (out->status == PART_EXACT_OPTIMAL)
		out->gap = 0;
}

int part_exact_solve(size_t *assign, struct part_exact_result *res, const struct part_wave_problem *pb,
		     const size_t *start, const struct part_exact_opts *o)
{
	size_t N = pb->nmovers, P = pb->nparts, *keep = NULL, *steps = NULL, nsel, round, bad;
	size_t max_rounds = o->max_rounds ? o->max_rounds : 8;
	struct part_exact_result out = { 0 };
	unsigned char *offer = NULL;
	double *share = NULL, t0, lb = -INFINITY, cost, milp_best = INFINITY;
	int rc, proven = 0, infeasible = 0;

	if (!(o->time_limit > 0))
		return adp_error_set(ADP_EINPUT, "the exact mode needs a time limit above zero");
	if (!(o->mip_gap >= 0 && o->mip_gap < 1))
		return adp_error_set(ADP_EINPUT, "the MIP gap tolerance must be in [0, 1)");
	if (!pb->K || (N && !pb->H))
		return adp_error_set(ADP_EINPUT, "a wave problem needs at least one scenario and one step");
	if ((rc = check_finite(pb)))
		return rc;
	keep = malloc((N + 1) * sizeof(size_t));
	steps = malloc((pb->H + 1) * sizeof(size_t));
	offer = calloc(N * P + 1, 1);
	share = calloc(N * P + 1, sizeof(double));
	if (!keep || !steps || !offer || !share) {
		rc = adp_error_set(ADP_ENOMEM, "out of memory");
		goto done;
	}
	/* The start: the caller's, or the planner's heuristic. */
	t0 = now_s();
	if (start)
		memcpy(keep, start, N * sizeof(size_t));
	else if ((rc = part_place_movers(pb, keep)))
		goto done;
	out.heur_seconds = now_s() - t0;
	if ((rc = part_wave_evaluate(pb, keep, &out.heuristic_objective, &out.heuristic_violations)))
		goto done;
	out.objective = out.heuristic_objective;
	out.violations = out.heuristic_violations;
	out.milp_objective = INFINITY;
	t0 = now_s();
	if ((rc = offers(pb, offer, share)))
		goto done;
	nsel = N ? first_steps(pb, steps, o->init_steps ? o->init_steps : 2) : 0;
	for (round = 0; N && round < max_rounds; round++) {
		struct milp_result m;
		double left = o->time_limit - (now_s() - t0);
		size_t added = 0;

		if (left <= 0) {
			out.time_limit_hit = 1;
			break;
		}
		rc = milp_solve(&m, pb, offer, share, steps, nsel, o->cold || out.violations ? NULL : keep, left,
				o->mip_gap);
		out.rounds++;
		out.steps_used = nsel;
		out.rows = m.rows;
		out.cols = m.cols;
		out.nonzeros = m.nonzeros;
		out.time_limit_hit |= m.time_limit_hit;
		out.too_large |= m.too_large;
		if (m.solver_failed)
			out.solver_failed = m.solver_failed;
		if (rc) {
			free(m.assign);
			free(m.checked);
			goto done;
		}
		/* A bound on fewer steps is a bound on all of them. */
		lb = fmax(lb, m.bound);
		if (m.checked) {
			milp_best = fmin(milp_best, m.checked_cost);
			keep_if_better(&out, keep, m.checked, m.checked_cost, N);
		}
		free(m.checked);
		if (m.status == PART_EXACT_INFEASIBLE) {
			infeasible = 1;
			free(m.assign);
			break;
		}
		if (m.status == PART_EXACT_NOSOLUTION) {
			free(m.assign);
			break;
		}
		if ((rc = part_wave_evaluate(pb, m.assign, &cost, &bad))) {
			free(m.assign);
			goto done;
		}
		if (!bad) {
			milp_best = fmin(milp_best, cost);
			keep_if_better(&out, keep, m.assign, cost, N);
			/* Optimal on the modelled steps and no worse on the rest. */
			if (m.status == PART_EXACT_OPTIMAL && cost <= m.objective + 1e-9 * (1 + fabs(cost)))
				proven = 1;
		}
		if (!proven && !m.time_limit_hit &&
		    (rc = missed_steps(pb, m.assign, steps, &nsel, 8, &added))) {
			free(m.assign);
			goto done;
		}
		free(m.assign);
		if (proven || m.time_limit_hit || m.status == PART_EXACT_FEASIBLE || !added)
			break;
	}
	out.milp_seconds = now_s() - t0;
	out.milp_objective = milp_best;
	verdict(&out, N, proven, infeasible, lb);
	memcpy(assign, keep, N * sizeof(size_t));
	*res = out;
	rc = 0;
	if (out.violations)
		rc = adp_error_set(ADP_EINFEASIBLE, out.status == PART_EXACT_INFEASIBLE
				   ? "no assignment of the wave's %zu movers fits"
				   : "no assignment of the wave's %zu movers without violations was found within the time limit",
				   N);
done:
	free(keep);
	free(steps);
	free(offer);
	free(share);
	return rc;
}
