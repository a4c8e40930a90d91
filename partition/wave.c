/* Planning one wave: stayers, absorbed replicas, the movers placed by
 * the solver, the allocations, the predicted utilisation, and the
 * shortage shared or reported. */
#include "partition/planner_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int part_add_shortfall(struct plan *p, size_t wave, const char *partition, const char *component,
			 int resource, double demand, double capacity, int64_t at, const char *advice)
{
	struct plan_shortfall *g = realloc(p->shortfalls, (p->nshortfalls + 1) * sizeof(*g)), *s;

	if (!g)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->shortfalls = g;
	s = &g[p->nshortfalls++];
	memset(s, 0, sizeof(*s));
	s->wave = wave;
	s->resource = resource;
	s->demand = demand;
	s->capacity = capacity;
	s->missing = demand - capacity;
	s->at = at;
	s->partition = partition ? strdup(partition) : NULL;
	s->component = component ? strdup(component) : NULL;
	s->advice = advice ? strdup(advice) : NULL;
	if ((partition && !s->partition) || (component && !s->component) || (advice && !s->advice))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}


/* ---- one wave ---- */

static int add_reduction(struct plan *p, size_t wave, const char *comp, size_t replica, const char *part,
			 int r, double wanted, double granted)
{
	struct plan_reduction *g = realloc(p->reductions, (p->nreductions + 1) * sizeof(*g)), *x;

	if (!g)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	p->reductions = g;
	x = &g[p->nreductions++];
	memset(x, 0, sizeof(*x));
	x->wave = wave;
	x->replica = replica;
	x->resource = r;
	x->wanted = wanted;
	x->granted = granted;
	x->component = strdup(comp);
	x->partition = strdup(part);
	if (!x->component || !x->partition)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

double part_round_up(double v, double unit)
{
	return ceil(v / unit - 1e-9) * unit;
}

static double round_down(double v, double unit)
{
	return floor(v / unit + 1e-9) * unit;
}

/* Adds sign x factor x comp's per-replica demand to part over [h0, h1). */
void part_shift_load(struct ctx *c, size_t part, size_t comp, double factor, size_t h0, size_t h1)
{
	size_t K = c->d.K, H = c->d.H, k, h;
	int r;

	for (r = 0; r < R; r++) {
		double *l = base_at(c, part, r);
		const float *d = dem_at(c, comp, r);
		double *sb = c->sbase + (part * R + (size_t)r) * H, *sp = c->d.sp + (comp * R + (size_t)r) * H;

		double flat = factor * c->inv->comps[comp].min[r];

		/* Without history and with no guarantee there is nothing to
		 * add (the base is never -0, which adding 0 would change). */
		if (!d && flat == 0)
			continue;
		for (h = h0; h < h1; h++)
			for (k = 0; k < K; k++)
				l[h * K + k] += d ? factor * d[k * H + h] : flat;
		for (h = h0; h < h1; h++)
			sb[h] += factor * sp[h];
	}
}


/* The largest overload share and whether the chance constraint holds on
 * part over [h0, h1), with extra x comp's demand added (comp may be
 * (size_t)-1 for none). */
static void part_risk(struct ctx *c, size_t part, size_t comp, double extra, size_t h0, size_t h1, int *fits,
		      double *risk)
{
	size_t K = c->d.K, H = c->d.H, k, h;
	int r;

	*fits = 1;
	*risk = 0;
	for (r = 0; r < R; r++) {
		double cap = c->cap[part * R + (size_t)r], *l = base_at(c, part, r);
		int with = comp != (size_t)-1;
		const float *d = with ? dem_at(c, comp, r) : NULL;
		double flat = with ? extra * c->inv->comps[comp].min[r] : 0;
		size_t allowed = part_allowed_over(c->eps[r], K);

		if (cap <= 0)
			continue;
		for (h = h0; h < h1; h++) {
			size_t over = 0;
			double spread = c->sbase[(part * R + (size_t)r) * H + h] +
					(with ? extra * c->d.sp[(comp * R + (size_t)r) * H + h] : 0);

			for (k = 0; k < K; k++) {
				c->scratch[k] = l[h * K + k] + (d ? extra * d[k * H + h] : flat);
				over += c->scratch[k] > cap;
			}
			*fits &= part_total_at_confidence(c->scratch, K, allowed, spread, c->s->dependence) <= cap;
			*risk = fmax(*risk, (double)over / (double)K);
		}
	}
}

/* The relative spread of a component's forecast over the wave. */
static double spread_of(struct ctx *c, size_t comp, size_t h0, size_t h1)
{
	double worst = 0;
	size_t h, H = c->d.H;
	int r;

	for (r = 0; r < R; r++)
		for (h = h0; h < h1; h++) {
			double q = c->d.q[(comp * R + (size_t)r) * H + h], m = c->d.q50[(comp * R + (size_t)r) * H + h];
			if (q > 0)
				worst = fmax(worst, (q - m) / q);
		}
	return worst;
}

struct undo {
	size_t part, comp;
	double factor;
};

/* Max-min fair water level: the largest L with sum(min(room_i, L)) <= avail. */
static double water_level(const double *room, size_t n, double avail)
{
	double lo = 0, hi = 0;
	size_t i, it;

	for (i = 0; i < n; i++)
		hi = fmax(hi, room[i]);
	for (it = 0; it < 100; it++) {
		double mid = (lo + hi) / 2, sum = 0;

		for (i = 0; i < n; i++)
			sum += fmin(room[i], mid);
		if (sum <= avail)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Shares part's capacity of r among its slots (the non indices on[] into
 * slots, and granted) when the forecast does not fit: guarantees first,
 * then tier by tier, the tier where capacity runs out max-min fairly
 * above the guarantees (in whole units). Returns 1 when even the
 * guarantees do not fit. */
static int share_capacity(struct ctx *c, struct slot *slots, const size_t *on, size_t non, size_t part, int r,
			  double *granted)
{
	double cap = c->cap[part * R + (size_t)r], unit = part_granularity[r], avail = cap, *room;
	size_t i, n, q, *idx;
	int tier, rc = 0;

	for (q = 0; q < non; q++) {
		i = on[q];
		granted[i] = c->inv->comps[slots[i].comp].min[r];
		avail -= granted[i];
	}
	if (avail < -1e-9)
		return 1;
	room = calloc(non + 1, sizeof(double));
	idx = calloc(non + 1, sizeof(size_t));
	if (!room || !idx) {
		free(room);
		free(idx);
		return -1;
	}
	for (tier = 0; tier <= INV_MAX_TIER && avail > 1e-12; tier++) {
		double need = 0, level;

		for (q = 0, n = 0; q < non; q++) {
			i = on[q];
			if (c->inv->comps[slots[i].comp].tier == tier && slots[i].alloc[r] > granted[i]) {
				idx[n] = i;
				room[n] = slots[i].alloc[r] - granted[i];
				need += room[n++];
			}
		}
		if (!n)
			continue;
		if (need <= avail + 1e-9) {
			for (i = 0; i < n; i++)
				granted[idx[i]] = slots[idx[i]].alloc[r];
			avail -= need;
			continue;
		}
		level = water_level(room, n, avail);
		for (i = 0; i < n; i++) {
			double g = granted[idx[i]] + fmin(room[i], level);
			double down = round_down(g, unit);

			granted[idx[i]] = fmax(down, c->inv->comps[slots[idx[i]].comp].min[r]);
			avail -= granted[idx[i]] - (slots[idx[i]].alloc[r] - room[i]);
		}
		avail = 0;
	}
	free(room);
	free(idx);
	return rc;
}

/* One wave being planned: its replicas' slots, the movers' problem and
 * what the base must lose again when the wave is done. */
struct wave_state {
	struct ctx *c;                  /* borrowed */
	struct plan *sink;              /* borrowed: c->p, or a trial's scratch plan */
	struct plan_wave *w;            /* borrowed: the wave being filled */
	size_t wi, h0, h1;
	struct slot *slots;             /* owned: one per replica */
	size_t nslots;
	struct part_wave_mover *movers; /* owned: the replicas to place */
	size_t *mslot, *assign;         /* owned: per mover, its slot and partition */
	size_t nmov;
	struct undo *undo;              /* owned: load shifts to take back */
	size_t nundo;
	double *granted;                /* owned: per slot, scratch of share_capacity */
	/* owned: the slots on each partition once placed, in slot order:
	 * on[first[part] .. first[part + 1]) */
	size_t *on, *first;
};

static int wave_alloc(struct wave_state *ws)
{
	const struct inventory *inv = ws->c->inv;
	struct plan_wave *w = ws->w;
	size_t total = 0, i;

	for (i = 0; i < inv->ncomps; i++)
		total += inv->comps[i].replicas;
	ws->slots = calloc(total + 1, sizeof(*ws->slots));
	ws->movers = calloc(total + 1, sizeof(*ws->movers));
	ws->mslot = calloc(total + 1, sizeof(size_t));
	ws->assign = calloc(total + 1, sizeof(size_t));
	ws->undo = calloc(2 * total + 1, sizeof(*ws->undo));
	ws->granted = calloc(total + 1, sizeof(double));
	ws->on = calloc(total + 1, sizeof(size_t));
	ws->first = calloc(inv->nparts + 2, sizeof(size_t));
	w->placements = calloc(total + 1, sizeof(*w->placements));
	w->absorbed = calloc(total + 1, sizeof(*w->absorbed));
	w->usage = calloc(inv->nparts * R + 1, sizeof(*w->usage));
	if (!ws->slots || !ws->movers || !ws->mslot || !ws->assign || !ws->undo || !ws->granted || !ws->on ||
	    !ws->first || !w->placements || !w->absorbed || !w->usage)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	return 0;
}

/* Marks the wave's partitions online or not; replicas at home on an
 * online partition stay, the rest move. */
static void wave_sort_replicas(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t i, j, part;
	int r;

	/* c->hosts is all zero here: each wave clears what it set (a memset
	 * of components x partitions per wave would dominate large estates). */
	memset(c->minsum, 0, inv->nparts * R * sizeof(double));
	for (part = 0; part < inv->nparts; part++) {
		c->online[part] = 1;
		for (j = 0; j < ws->w->noffline; j++)
			if (!strcmp(ws->w->offline[j], inv->parts[part].name))
				c->online[part] = 0;
	}
	for (i = 0; i < inv->ncomps; i++) {
		c->active[i] = inv->comps[i].replicas;
		for (j = 0; j < inv->comps[i].replicas; j++) {
			size_t home = inv->comps[i].placement[j];
			struct slot *x = &ws->slots[ws->nslots++];

			x->comp = i;
			x->replica = j;
			x->home = home;
			x->part = home;
			if (c->online[home]) {
				c->hosts[i * inv->nparts + home]++;
				for (r = 0; r < R; r++)
					c->minsum[home * R + (size_t)r] += inv->comps[i].min[r];
			} else {
				x->moved = 1;
				x->part = PART_UNPLACED;
			}
		}
	}
}

/* Adds factor x comp's demand to part and remembers to take it back. */
static void wave_shift(struct wave_state *ws, size_t part, size_t comp, double factor)
{
	part_shift_load(ws->c, part, comp, factor, ws->h0, ws->h1);
	ws->undo[ws->nundo].part = part;
	ws->undo[ws->nundo].comp = comp;
	ws->undo[ws->nundo++].factor = factor;
}

/* Whether the stayers of slot x's component carry its share extra each
 * within the chance constraint; *added is the risk that adds. */
static int absorb_fits(struct wave_state *ws, size_t comp, double extra, double *added)
{
	size_t q;
	int ok = 1;

	*added = 0;
	for (q = 0; q < ws->nslots && ok; q++) {
		double before, after;
		int f0, f1;

		if (ws->slots[q].comp != comp || ws->slots[q].moved)
			continue;
		part_risk(ws->c, ws->slots[q].part, (size_t)-1, 0, ws->h0, ws->h1, &f0, &before);
		part_risk(ws->c, ws->slots[q].part, comp, extra, ws->h0, ws->h1, &f1, &after);
		ok = f1;
		*added += after - before;
	}
	return ok;
}

/* Absorb: with a cost on moves, a replica whose share the component's
 * stayers can carry within the chance constraint stops with its home
 * when the added risk costs less than the move. The least critical
 * are considered first. */
static void wave_absorb(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	const struct schedule *s = c->s;
	size_t j, q;
	int tier;

	for (tier = INV_MAX_TIER; s->weights[SCHEDULE_W_MOVES] > 0 && tier >= 0; tier--)
		for (j = 0; j < ws->nslots; j++) {
			struct slot *x = &ws->slots[j];
			size_t comp = x->comp, na = c->active[comp], stay = 0;
			double rep = (double)inv->comps[comp].replicas, extra, added;

			if (x->moved != 1 || na < 2 || inv->comps[comp].tier != tier)
				continue;
			for (q = 0; q < ws->nslots; q++)
				stay += ws->slots[q].comp == comp && !ws->slots[q].moved;
			if (!stay)
				continue;
			extra = rep * (1.0 / (double)(na - 1) - 1.0 / (double)na);
			if (!absorb_fits(ws, comp, extra, &added) ||
			    s->weights[SCHEDULE_W_RISK] * part_tier_impact(inv->comps[comp].tier) * added +
					    s->weights[SCHEDULE_W_CONFIDENCE] * spread_of(c, comp, ws->h0, ws->h1) * extra / rep >=
				    s->weights[SCHEDULE_W_MOVES])
				continue;
			for (q = 0; q < ws->nslots; q++)
				if (ws->slots[q].comp == comp && !ws->slots[q].moved)
					wave_shift(ws, ws->slots[q].part, comp, extra);
			c->active[comp]--;
			x->moved = 2; /* absorbed */
		}
}

/* The movers' problem: see part_place_movers. */
static void wave_movers(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t j;
	int r;

	for (j = 0; j < ws->nslots; j++) {
		struct slot *x = &ws->slots[j];
		struct part_wave_mover *m = &ws->movers[ws->nmov];

		if (x->moved != 1)
			continue;
		m->comp = x->comp;
		m->replica = x->replica;
		m->home = x->home;
		m->tier = inv->comps[x->comp].tier;
		for (r = 0; r < R; r++)
			m->demand[r] = dem_at(c, x->comp, r);
		m->factor = (double)inv->comps[x->comp].replicas / (double)c->active[x->comp];
		memcpy(m->min, inv->comps[x->comp].min, sizeof(m->min));
		m->spread = spread_of(c, x->comp, ws->h0, ws->h1);
		m->spread_h = c->d.sp + x->comp * R * c->d.H;
		ws->mslot[ws->nmov++] = j;
	}
}

/* Adds the placement's cost to the plan's, split into its terms. */
static int wave_cost(struct wave_state *ws, const struct part_wave_problem *pb)
{
	struct ctx *c = ws->c;
	const struct schedule *s = c->s;
	size_t bad, placed = 0, q;
	double cost, conf = 0;
	int rc;

	for (q = 0; q < ws->nmov; q++)
		if (ws->assign[q] != PART_UNPLACED) {
			placed++;
			conf += s->weights[SCHEDULE_W_CONFIDENCE] * ws->movers[q].spread *
				part_wave_share(pb, q, ws->assign[q]);
		}
	if (!(rc = part_wave_evaluate(pb, ws->assign, &cost, &bad)))
		c->p->cost.risk += cost - conf - (double)placed * s->weights[SCHEDULE_W_MOVES];
	c->p->cost.confidence += conf;
	c->p->cost.moves += (double)placed * s->weights[SCHEDULE_W_MOVES];
	return rc;
}

/* Hands the movers' problem to the solver (and, for the plan itself,
 * not a trial, counts its cost). */
static int wave_solve(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	const struct schedule *s = c->s;
	struct part_wave_problem pb = { 0 };
	const char **zones = calloc(inv->nparts + 1, sizeof(char *));
	size_t part;
	int rc;

	if (!zones)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (part = 0; part < inv->nparts; part++)
		zones[part] = inv->parts[part].zone;
	pb.nparts = inv->nparts;
	pb.ncomps = inv->ncomps;
	pb.nmovers = ws->nmov;
	pb.K = c->d.K;
	pb.H = ws->h1 - ws->h0;
	pb.stride = c->d.H;
	pb.offset = ws->h0;
	pb.capacity = c->cap;
	pb.online = c->online;
	pb.base = c->base;
	pb.base_min = c->minsum;
	pb.hosts = c->hosts;
	pb.zone = zones;
	pb.movers = ws->movers;
	memcpy(pb.eps, c->eps, sizeof(pb.eps));
	memcpy(pb.weights, s->weights, sizeof(pb.weights));
	pb.dependence = s->dependence;
	pb.base_spread = c->sbase;
	pb.wave = ws->wi + 1;
	pb.trial = ws->sink != c->p;
	rc = c->req->place_movers ? c->req->place_movers(&pb, ws->assign, c->req->place_arg)
				  : part_place_movers(&pb, ws->assign);
	if (!rc && ws->sink == c->p)
		rc = wave_cost(ws, &pb);
	free(zones);
	return rc;
}

/* Moves each mover where the solver put it; one left nowhere is a
 * shortfall. */
static int wave_apply_assign(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t i;
	int rc, r;

	for (i = 0; i < ws->nmov; i++) {
		struct slot *x = &ws->slots[ws->mslot[i]];

		if (ws->assign[i] == PART_UNPLACED) {
			char advice[256];

			snprintf(advice, sizeof(advice),
				 "every online partition already runs a replica of '%s': add a partition, take fewer partitions offline per wave, or run fewer replicas",
				 inv->comps[x->comp].name);
			if ((rc = part_add_shortfall(ws->sink, ws->wi + 1, inv->parts[x->home].name, inv->comps[x->comp].name, -1,
						1, 0, ws->w->start, advice)))
				return rc;
			x->moved = 3; /* nowhere */
			continue;
		}
		x->part = ws->assign[i];
		wave_shift(ws, x->part, x->comp, ws->movers[i].factor);
		c->hosts[x->comp * inv->nparts + x->part]++;
		for (r = 0; r < R; r++)
			c->minsum[x->part * R + (size_t)r] += inv->comps[x->comp].min[r];
	}
	return 0;
}

/* Allocations: the highest quantile at the confidence over the wave's
 * steps, at the replica's share, so that every step is covered. (A
 * quantile of the wave's steps pooled reserves less but was exceeded
 * more often than the baselines on the real traces of bench/quality.sh.) */
static void wave_allocations(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	size_t j, h;
	int r;

	for (j = 0; j < ws->nslots; j++) {
		struct slot *x = &ws->slots[j];
		double share = (double)inv->comps[x->comp].replicas / (double)c->active[x->comp];

		if (x->part == PART_UNPLACED)
			continue;
		for (r = 0; r < R; r++) {
			size_t qi = (x->comp * R + (size_t)r) * c->d.H;
			double peak = 0;

			for (h = ws->h0; h < ws->h1; h++)
				peak = fmax(peak, c->d.q[qi + h] * share);
			x->alloc[r] = fmax(part_round_up(peak, part_granularity[r]), inv->comps[x->comp].min[r]);
		}
	}
}

/* Fills u, the predicted utilisation of r on part; *worst is the largest
 * excess of the bound over the capacity (-inf: none), at step *worst_h. */
static int wave_usage_of(struct wave_state *ws, struct plan_usage *u, size_t part, int r, double *worst,
			 size_t *worst_h)
{
	struct ctx *c = ws->c;
	size_t K = c->d.K, H = c->d.H, h, k, h0 = ws->h0, allowed = part_allowed_over(c->eps[r], K);
	double cap = c->cap[part * R + (size_t)r], *l = base_at(c, part, r);

	*worst = -INFINITY;
	*worst_h = h0;
	u->partition = strdup(c->inv->parts[part].name);
	u->resource = r;
	u->capacity = cap;
	u->nsteps = ws->h1 - h0;
	u->p50 = calloc(u->nsteps + 1, sizeof(double));
	u->p95 = calloc(u->nsteps + 1, sizeof(double));
	u->bound = calloc(u->nsteps + 1, sizeof(double));
	u->prob = calloc(u->nsteps + 1, sizeof(double));
	if (!u->partition || !u->p50 || !u->p95 || !u->bound || !u->prob)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	u->headroom = cap;
	for (h = h0; h < ws->h1; h++) {
		size_t over = 0;

		for (k = 0; k < K; k++) {
			c->scratch[k] = l[h * K + k];
			over += cap > 0 && l[h * K + k] > cap;
		}
		u->bound[h - h0] = part_total_at_confidence(c->scratch, K, allowed, c->sbase[(part * R + (size_t)r) * H + h],
						       c->s->dependence);
		u->p95[h - h0] = part_select_desc(c->scratch, K, (size_t)floor(0.05 * (double)(K - 1)));
		u->p50[h - h0] = part_select_desc(c->scratch, K, (K - 1) / 2);
		u->prob[h - h0] = (double)over / (double)K;
		u->overload_prob = fmax(u->overload_prob, u->prob[h - h0]);
		u->headroom = fmin(u->headroom, cap - u->p95[h - h0]);
		if (cap > 0 && u->bound[h - h0] - cap > *worst) {
			*worst = u->bound[h - h0] - cap;
			*worst_h = h;
		}
	}
	return 0;
}

/* Where the forecast of r does not fit part: a shortfall when the
 * schedule refuses shortage or even the guarantees do not fit, else the
 * capacity shared and the cuts listed as reductions. */
static int wave_shortage(struct wave_state *ws, size_t part, int r, double worst, size_t worst_h)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	double cap = c->cap[part * R + (size_t)r];
	const size_t *on = ws->on + ws->first[part];
	size_t q, non = ws->first[part + 1] - ws->first[part];
	char advice[300];
	int rc;

	if (c->s->shortage_refuse) {
		snprintf(advice, sizeof(advice),
			 "the forecast at %.3g confidence does not fit '%s' and the schedule refuses shortage: add capacity, lower the confidence, take fewer partitions offline per wave, or allow \"shortage\": \"share\"",
			 1 - c->eps[r], inv->parts[part].name);
		return part_add_shortfall(ws->sink, ws->wi + 1, inv->parts[part].name, NULL, r, worst + cap, cap,
				     c->grid0 + (int64_t)worst_h * c->s->step, advice);
	}
	rc = share_capacity(c, ws->slots, on, non, part, r, ws->granted);
	if (rc < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (rc == 1) {
		double mins = 0;

		for (q = 0; q < non; q++)
			mins += inv->comps[ws->slots[on[q]].comp].min[r];
		snprintf(advice, sizeof(advice),
			 "even the minimum guarantees of what runs on '%s' in this wave exceed its %s capacity: add capacity, take fewer partitions offline per wave, or lower guarantees",
			 inv->parts[part].name, adp_resource_name(r));
		return part_add_shortfall(ws->sink, ws->wi + 1, inv->parts[part].name, NULL, r, mins, cap, ws->w->start,
				     advice);
	}
	for (q = 0; q < non; q++) {
		struct slot *x = &ws->slots[on[q]];

		if (ws->granted[on[q]] >= x->alloc[r] - 1e-12)
			continue;
		if ((rc = add_reduction(ws->sink, ws->wi + 1, inv->comps[x->comp].name, x->replica, inv->parts[part].name,
					r, x->alloc[r], ws->granted[on[q]])))
			return rc;
		x->alloc[r] = ws->granted[on[q]];
	}
	return 0;
}

/* The reservations of r on part: together what the partition needs at
 * the confidence (the highest total the chance constraint bounds over the
 * wave, at least the guarantees, at most the capacity), each replica's
 * guarantee plus the same share of the way to its limit, in whole units
 * rounded down. Limits are each replica's own forecast and may sum above
 * the capacity; reservations never do, so a host can honour all of them
 * at once. */
static void wave_reserve(struct wave_state *ws, size_t part, int r, const struct plan_usage *u)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	double cap = c->cap[part * R + (size_t)r], need = 0, mins = 0, above = 0, share;
	size_t q, h;

	for (q = ws->first[part]; q < ws->first[part + 1]; q++) {
		struct slot *x = &ws->slots[ws->on[q]];

		x->reserve[r] = x->alloc[r];
		mins += inv->comps[x->comp].min[r];
		above += x->alloc[r] - inv->comps[x->comp].min[r];
	}
	if (cap <= 0)
		return; /* unmetered: nothing to share */
	for (h = 0; h < u->nsteps; h++)
		need = fmax(need, u->bound[h]);
	need = fmin(fmax(need, mins), cap);
	share = above > 0 ? fmin(1, fmax(0, (need - mins) / above)) : 1;
	for (q = ws->first[part]; q < ws->first[part + 1]; q++) {
		struct slot *x = &ws->slots[ws->on[q]];
		double min = inv->comps[x->comp].min[r], g = part_granularity[r];

		x->reserve[r] = fmin(x->alloc[r], fmax(min, floor((min + share * (x->alloc[r] - min)) / g + 1e-9) * g));
	}
}

/* The slots on each partition (ws->on, ws->first), placed as they now
 * are: each partition's own loops need not go through every slot. */
static void wave_index_slots(struct wave_state *ws)
{
	size_t nparts = ws->c->inv->nparts, j, part;

	memset(ws->first, 0, (nparts + 2) * sizeof(size_t));
	for (j = 0; j < ws->nslots; j++)
		if (ws->slots[j].part < nparts)
			ws->first[ws->slots[j].part + 2]++;
	for (part = 0; part < nparts; part++)
		ws->first[part + 2] += ws->first[part + 1];
	/* first[part + 1] is now where part's slots start; each one placed
	 * moves it on, to where the next partition's start. */
	for (j = 0; j < ws->nslots; j++)
		if (ws->slots[j].part < nparts)
			ws->on[ws->first[ws->slots[j].part + 1]++] = j;
}

/* Predicted utilisation, shortage where the forecast does not fit, and
 * the reservations. */
static int wave_usage(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	size_t part, q, worst_h;
	double worst;
	int rc, r;

	wave_index_slots(ws);
	for (part = 0; part < c->inv->nparts; part++) {
		if (!c->online[part])
			continue;
		for (r = 0; r < R; r++) {
			double cap = c->cap[part * R + (size_t)r], asum = 0;

			struct plan_usage *u = &ws->w->usage[ws->w->nusage++];

			if ((rc = wave_usage_of(ws, u, part, r, &worst, &worst_h)))
				return rc;
			for (q = ws->first[part]; cap > 0 && q < ws->first[part + 1]; q++)
				asum += ws->slots[ws->on[q]].alloc[r];
			/* Short where the bound is over and the limits do not
			 * cap the total within capacity. */
			if (cap > 0 && worst > 1e-9 && asum > cap + 1e-9 && (rc = wave_shortage(ws, part, r, worst, worst_h)))
				return rc;
			wave_reserve(ws, part, r, u);
		}
	}
	return 0;
}

/* The placement of slot x in the wave's document: its allocation, its
 * forecast peaks and, for apply's monitoring, the same forecast per step. */
static int wave_placement(struct wave_state *ws, const struct slot *x, struct plan_placement *pl)
{
	struct ctx *c = ws->c;
	const struct inventory *inv = c->inv;
	const struct inv_component *cc = &inv->comps[x->comp];
	double share = (double)cc->replicas / (double)c->active[x->comp];
	size_t H = c->d.H, h0 = ws->h0, h1 = ws->h1, h;
	int r;

	pl->component = strdup(cc->name);
	pl->partition = strdup(inv->parts[x->part].name);
	pl->from = x->moved ? strdup(inv->parts[x->home].name) : NULL;
	pl->replica = x->replica;
	pl->tier = cc->tier;
	if (!pl->component || !pl->partition || (x->moved && !pl->from))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	memcpy(pl->alloc, x->alloc, sizeof(pl->alloc));
	memcpy(pl->reserve, x->reserve, sizeof(pl->reserve));
	memcpy(pl->guarantee, cc->min, sizeof(pl->guarantee));
	for (r = 0; r < R; r++) {
		size_t qi = (x->comp * R + (size_t)r) * H;

		for (h = h0; h < h1; h++) {
			pl->p50_peak[r] = fmax(pl->p50_peak[r], c->d.q50[qi + h] * share);
			pl->p95_peak[r] = fmax(pl->p95_peak[r], c->d.q95[qi + h] * share);
		}
		if (ws->sink == c->p && c->cap[x->part * R + (size_t)r] > 0)
			c->p->cost.waste += c->s->weights[SCHEDULE_W_WASTE] * (pl->alloc[r] - pl->p50_peak[r]) /
					    c->cap[x->part * R + (size_t)r];
	}
	if (h1 <= h0)
		return 0;
	pl->band_p50 = calloc((h1 - h0) * R, sizeof(double));
	pl->band_p95 = calloc((h1 - h0) * R, sizeof(double));
	if (!pl->band_p50 || !pl->band_p95)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	pl->nband = h1 - h0;
	pl->band_start = c->grid0 + (int64_t)h0 * c->s->step;
	for (r = 0; r < R; r++)
		for (h = h0; h < h1; h++) {
			size_t qi = (x->comp * R + (size_t)r) * H + h;
			pl->band_p50[(h - h0) * R + (size_t)r] = c->d.q50[qi] * share;
			pl->band_p95[(h - h0) * R + (size_t)r] = c->d.q95[qi] * share;
		}
	return 0;
}

/* The wave's document: placements (stayers and moved), absorbed. */
static int wave_document(struct wave_state *ws)
{
	const struct inventory *inv = ws->c->inv;
	struct plan_wave *w = ws->w;
	size_t j;
	int rc;

	for (j = 0; j < ws->nslots; j++) {
		const struct slot *x = &ws->slots[j];

		if (x->moved == 2) {
			struct plan_absorbed *ab = &w->absorbed[w->nabsorbed++];

			ab->component = strdup(inv->comps[x->comp].name);
			ab->replica = x->replica;
			ab->partition = strdup(inv->parts[x->home].name);
			if (!ab->component || !ab->partition)
				return adp_error_set(ADP_ENOMEM, "out of memory");
			continue;
		}
		if (x->part == PART_UNPLACED)
			continue;
		if ((rc = wave_placement(ws, x, &w->placements[w->nplacements++])))
			return rc;
	}
	if (!w->nabsorbed) {
		free(w->absorbed);
		w->absorbed = NULL;
	}
	return 0;
}

/* The base goes back to the home placement for the next wave, and the
 * hosts map to zero. */
static void wave_release(struct wave_state *ws)
{
	struct ctx *c = ws->c;
	size_t nparts = c->inv->nparts, i, j;

	for (i = ws->nundo; i-- > 0;)
		part_shift_load(c, ws->undo[i].part, ws->undo[i].comp, -ws->undo[i].factor, ws->h0, ws->h1);
	for (j = 0; ws->slots && j < ws->nslots; j++) {
		if (ws->slots[j].part != PART_UNPLACED && ws->slots[j].part < nparts)
			c->hosts[ws->slots[j].comp * nparts + ws->slots[j].part] = 0;
		c->hosts[ws->slots[j].comp * nparts + ws->slots[j].home] = 0;
	}
	free(ws->slots);
	free(ws->movers);
	free(ws->mslot);
	free(ws->assign);
	free(ws->undo);
	free(ws->granted);
	free(ws->on);
	free(ws->first);
}

int part_plan_wave(struct ctx *c, struct plan *sink, struct plan_wave *w, size_t wi)
{
	struct wave_state ws = { .c = c, .sink = sink, .w = w, .wi = wi };
	int rc;

	part_wave_steps(c, w->start, w->end, &ws.h0, &ws.h1);
	if ((rc = wave_alloc(&ws)))
		goto done;
	wave_sort_replicas(&ws);
	wave_absorb(&ws);
	wave_movers(&ws);
	if ((rc = wave_solve(&ws)) || (rc = wave_apply_assign(&ws)))
		goto done;
	wave_allocations(&ws);
	if ((rc = wave_usage(&ws)))
		goto done;
	rc = wave_document(&ws);
done:
	wave_release(&ws);
	return rc;
}
