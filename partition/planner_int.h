/* The planner's private state, shared by its stages (not for use outside
 * partition/): demand.c, the per-replica demand and its statistics;
 * place.c, one wave's placement problem (the heuristic and the score);
 * search.c, the moves and swaps that improve the heuristic's placement;
 * waves.c, which partitions go together and when the waves start;
 * wave.c, planning one wave (placement, limits, shortage, reservations);
 * planner.c, the pipeline, the rollback check and the advice on
 * shortfalls; consolidate.c, the advice on partitions that could go
 * empty. */
#ifndef ADP_PLANNER_INT_H
#define ADP_PLANNER_INT_H

#include "partition/planner.h"

#define R ADP_RES_COUNT
#define PART_MAX_WIDENING 2.0    /* beyond this the tail is a guess: the plan says so */


/* Per-replica demand of every component over the window's H steps and
 * K joint scenarios: row[c * R + r][k * H + h], or NULL for a resource
 * without history, planned at the guarantee (no scenario memory spent). */
struct demand {
	size_t K, H;
	float **row;   /* per replica, its scenarios (k, h) at [k*H + h]: see part_wave_mover.demand */
	double *q;     /* per-replica quantile at the resource's confidence: [(c*R+r)*H + h] */
	double *q50, *q95;
	double *sp;    /* per replica, q - q50: [(c*R+r)*H + h] */
	const struct forecast_series **fs; /* [c*R+r] or NULL; only while the demand is built */
};

/* One replica's place in a wave being planned. */
struct slot {
	size_t comp, replica, part, home;
	int moved;
	double alloc[R];       /* the limit */
	double reserve[R];     /* what the partition sets aside: see wave_reserve */
};

struct ctx {
	const struct part_request *req;
	const struct inventory *inv;
	const struct schedule *s;
	int64_t grid0;         /* time of step 0 */
	struct demand d;
	struct plan *p;
	double *base;          /* home placement load [((part * R + r) * H + h) * K + k]: a step's scenarios side by side */
	double *sbase;         /* its spreads, q_conf - q50 summed: [(part * R + r) * H + h] */
	double *cap;           /* [part * R + r], the capacities in use (trials change them) */
	/* The forecast's scenarios stay after the demand is built (a plan
	 * planned again for a remedy needs them; the outer plan frees them
	 * once its remedies are checked). */
	int keep_scen;
	double eps[R];         /* in use (trials change them) */
	double *minsum;        /* [part * R + r] guarantees of the stayers (the rollback check's: of the home replicas) */
	int *hosts;            /* [comp * nparts + part] replicas of comp on part this wave */
	size_t *active;        /* [comp] replicas that carry the component this wave */
	unsigned char *online; /* [part] this wave */
	double *scratch;       /* K */
	/* The waves' partitions: group g holds gpart[gfirst[g] .. gfirst[g + 1]). */
	size_t *gpart, *gfirst, ngroups;
	int64_t *gdur;
	size_t capped;         /* series whose widening hit PART_MAX_WIDENING */
};


/* Borrowed, or NULL: the demand is the guarantee at every step. */
static inline float *dem_at(struct ctx *c, size_t comp, int r)
{
	return c->d.row[comp * R + (size_t)r];
}

static inline double *base_at(struct ctx *c, size_t part, int r)
{
	return c->base + ((part * R + (size_t)r) * c->d.K) * c->d.H;
}

/* demand.c (part_select_desc and part_total_at_confidence: planner.h) */
/* How many of K scenarios may be over capacity at risk eps. */
size_t part_allowed_over(double eps, size_t K);
/* Fills c->d, c->base and c->sbase from the forecast. */
int part_build_demand(struct ctx *c);

/* place.c: one wave's placement problem, as the heuristic and the search
 * hold it while they move replicas around. */
struct wp_state {
	const struct part_wave_problem *pb;
	double **delta;        /* [p]: movers' load, (r, h, k) at [(r * H + h) * K + k], or NULL */
	double **dspread;      /* [p]: movers' spreads, (r, h) at [r * H + h], or NULL */
	double *dmin;          /* [p * R + r]: movers' guarantees */
	struct wp_score *score; /* [p]: as placed, where fresh: see part_wp_score */
	unsigned char *fresh;  /* [p]: score[p] holds since p last changed */
	unsigned char *taken;  /* [comp * nparts + p]: a mover of comp is on p */
	double *scratch;       /* K */
};

/* A partition's state against the chance constraint and the guarantees. */
struct wp_score {
	size_t bad;            /* resource-steps over (and resources whose guarantees do not fit) */
	double excess;         /* by how much, summed as fractions of capacity */
	double risk;           /* the largest share of scenarios over capacity */
	double head;           /* the smallest headroom at the confidence, as a fraction of capacity */
};

int part_wp_init(struct wp_state *st, const struct part_wave_problem *pb);
void part_wp_free(struct wp_state *st);
/* Partition p as it would be with add added and sub taken away (either
 * NULL: none); st is unchanged but for its scratch. */
void part_wp_check(struct wp_state *st, const struct part_wave_mover *add, const struct part_wave_mover *sub,
		   size_t p, struct wp_score *out);
/* Partition p as placed, checked once after each change (a wave's
 * heuristic, search and score each read many and change few); borrowed,
 * valid until p next changes. Its head is p's slack. */
const struct wp_score *part_wp_score(struct wp_state *st, size_t p);
int part_wp_add(struct wp_state *st, const struct part_wave_mover *m, size_t p);
int part_wp_remove(struct wp_state *st, const struct part_wave_mover *m, size_t p);
/* Online, and no replica of m's component there yet. */
int part_wp_eligible(const struct wp_state *st, const struct part_wave_mover *m, size_t p);
double part_wp_share(const struct part_wave_problem *pb, const struct part_wave_mover *m, size_t p);
/* The score of m on a partition of overload share risk (see part_wave_evaluate). */
double part_wp_cost(const struct part_wave_problem *pb, const struct part_wave_mover *m, double risk,
		    double share);

/* search.c */
/* Improves the placement assign (st holds it) by moving and swapping
 * movers between online partitions. */
int part_search(struct wp_state *st, size_t *assign);

/* waves.c */
/* The load each partition pushes out when it goes offline: its home
 * replicas' peak quantiles at the confidence, as a share of its capacity,
 * the largest over resources; out[part]. */
int part_carried(const struct ctx *c, double *out);
/* The update time of the schedule's part-th partition. */
int64_t part_update_time(const struct schedule *s, size_t part);
/* The steps [*h0, *h1) of the grid that [start, end) covers. */
void part_wave_steps(const struct ctx *c, int64_t start, int64_t end, size_t *h0, size_t *h1);
/* Groups the partitions into waves and lays them out from the start. */
int part_build_waves(struct ctx *c);

/* wave.c */
/* Appends a shortfall to p (its strings copied). */
int part_add_shortfall(struct plan *p, size_t wave, const char *partition, const char *component, int resource,
		       double demand, double capacity, int64_t at, const char *advice);
/* v rounded up to whole units. */
double part_round_up(double v, double unit);
/* Adds factor x comp's per-replica demand to part over [h0, h1). */
void part_shift_load(struct ctx *c, size_t part, size_t comp, double factor, size_t h0, size_t h1);
/* Plans wave w (index wi) into sink: c->p, or a trial's scratch plan. */
int part_plan_wave(struct ctx *c, struct plan *sink, struct plan_wave *w, size_t wi);

/* consolidate.c */
/* Fills c->p->consolidation for a plan that fits, whose proof holds and
 * that cuts no allocation (else leaves it absent): see the file. */
int part_consolidate(struct ctx *c);

#endif
