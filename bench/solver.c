/* Solver benchmark: the planner's wave problem (partition/planner.h)
 * solved by the planner's heuristic (part_place_movers) and by the MILP
 * (GLPK, started from the heuristic's answer) on the same instances, both
 * scored by part_wave_evaluate; and a scale run of the heuristic and the
 * scorer on every wave. Instances are drawn from real traces (one value per line,
 * 5-minute steps, prepared by solver_prepare.py), seeded:
 *   - each component follows one trace divided by the trace's 95th
 *     percentile and clipped at 2, times a nominal CPU drawn from a
 *     log-normal (median 1 core, at most 3), and a memory footprint of 0.5
 *     to 4 GiB that moves 20 % with the trace;
 *   - scenario k = (past day d, shift j of -2..2 steps) is the same for
 *     every component, so components on one trace are correlated;
 *   - the wave is one hour (12 steps); 10 past days x 5 shifts = 50
 *     scenarios; eps 0.05 for CPU and 0.01 for memory (as the demo);
 *   - P = components / 10 partitions (at least 4), a tenth of them offline
 *     (at least one); three zones; 20 % of components have two replicas;
 *   - placement before the wave: largest 95th percentile first onto the
 *     partition least loaded in CPU and memory;
 *   - capacity: 1.35 (BENCH_HEADROOM) times the cluster's total at its 95th (CPU) or 99th
 *     (memory) percentile shared by the online partitions, half of them
 *     15 % larger and half smaller, and never below 1.05 times what the
 *     partition carries before the wave, at the confidence and at the
 *     planner's co-movement floor (median + 0.5 x the summed spreads).
 * compare-all places every replica from scratch (no partition offline, no
 * load staying): the MILP's hardest case at a given size.
 * Usage: solver compare|compare-all SEED SECONDS COMPONENTS... -- FILE...
 *        solver scale SEED COMPONENTS PARTITIONS OFFLINE_PER_WAVE -- FILE... */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "partition/exact.h"
#include "partition/schedule.h"
#include "util/error.h"

#define RR ADP_RES_COUNT
#define DAY 288
#define STEPS 12
#define DAYS 10
#define SHIFTS 5
#define NSC (DAYS * SHIFTS)
#define MAXN 200000
/* The capacity's margin over the cluster's total; BENCH_HEADROOM sets
 * another (1.0: tight, where the heuristic's placement can miss). */
static double headroom = 1.35;

struct trace {
	double *v, mean;
	size_t n;
};

static struct trace *traces;
static size_t ntraces;

static uint64_t rng_state;

static double urand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double nrand(void)
{
	double u = urand(), v = urand();

	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_asc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int load_traces(char **files, int n)
{
	int f;

	if (n <= 0)
		return -1;
	traces = calloc((size_t)n, sizeof(*traces));
	for (f = 0; f < n; f++) {
		FILE *fp = fopen(files[f], "r");
		struct trace t = { 0 };
		double x, sum = 0;

		if (!fp)
			continue;
		t.v = malloc(MAXN * sizeof(double));
		while (t.n < MAXN && fscanf(fp, "%lf", &x) == 1) {
			t.v[t.n++] = x;
			sum += x;
		}
		fclose(fp);
		t.mean = t.n ? sum / (double)t.n : 0;
		if (t.n) {
			/* Scale by the trace's 95th percentile: typical values near
			 * 1, spikes kept but clipped at 2 in demand(). */
			double *tmp = malloc(t.n * sizeof(double));
			size_t i;

			memcpy(tmp, t.v, t.n * sizeof(double));
			qsort(tmp, t.n, sizeof(double), cmp_asc);
			t.mean = tmp[(size_t)(0.95 * (double)(t.n - 1))];
			free(tmp);
			(void)i;
		}
		/* Long enough for ten past days, the shifts and the wave. */
		if (t.n < (DAYS + 1) * DAY + STEPS + SHIFTS || t.mean <= 0) {
			free(t.v);
			continue;
		}
		traces[ntraces++] = t;
	}
	return ntraces ? 0 : -1;
}

struct comp {
	size_t trace, tod, replicas, home[2];
	int tier;
	double cpu, mem;  /* nominal cores, footprint bytes */
	double p95;       /* per replica, over the wave's steps and scenarios */
};

struct world {
	size_t ncomps, nparts;
	struct comp *c;
	double cap[4096][2];
	int zone[4096];
};

/* Demand of one replica of c for resource r (0 cpu, 1 memory) at step s
 * of the wave in scenario k. */
static double demand(const struct comp *c, int r, size_t s, size_t k)
{
	const struct trace *t = &traces[c->trace];
	size_t d = k / SHIFTS, j = k % SHIFTS;
	size_t idx = d * DAY + c->tod + s + j;
	double x = fmin(2, t->v[idx] / t->mean);

	return r == 0 ? c->cpu * x / (double)c->replicas : c->mem * (0.8 + 0.2 * x);
}

static void replica_rows(const struct comp *c, int r, double eps, float *d, double *q, double *q50);

static const struct world *cmp_w;

static int cmp_p95(const void *a, const void *b)
{
	double x = cmp_w->c[*(const size_t *)a].p95, y = cmp_w->c[*(const size_t *)b].p95;
	return x < y ? 1 : x > y ? -1 : (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static void world_make(struct world *w, size_t ncomps, size_t nparts, size_t offline)
{
	double *load = calloc(nparts, sizeof(double)), *mload = calloc(nparts, sizeof(double));
	double tot_cpu = 0, tot_mem = 0, tot_p95 = 0;
	size_t *ord = malloc(ncomps * sizeof(size_t)), i, j, p;

	w->ncomps = ncomps;
	w->nparts = nparts;
	w->c = calloc(ncomps, sizeof(*w->c));
	for (i = 0; i < ncomps; i++) {
		struct comp *c = &w->c[i];

		c->trace = (size_t)(urand() * (double)ntraces) % ntraces;
		c->tod = 12;  /* 01:00 after the trace's first timestamp */
		c->replicas = urand() < 0.2 ? 2 : 1;
		c->tier = (int)(urand() * 4);
		c->cpu = fmin(3, fmax(0.1, exp(0.5 * nrand())));
		c->mem = (0.5 + 3.5 * urand()) * 1073741824.0;
		tot_cpu += c->cpu;
		tot_mem += c->mem * (double)c->replicas;
		ord[i] = i;
	}
	/* Largest first onto the partition with the least sum of per-replica
	 * 95th percentiles, so that no partition starts overloaded. */
	for (i = 0; i < ncomps; i++) {
		struct comp *c = &w->c[i];
		double v[STEPS * NSC];
		size_t s, k;

		for (s = 0; s < STEPS; s++)
			for (k = 0; k < NSC; k++)
				v[s * NSC + k] = demand(c, 0, s, k);
		qsort(v, STEPS * NSC, sizeof(double), cmp_asc);
		c->p95 = v[(size_t)(0.95 * (STEPS * NSC - 1))];
	}
	for (i = 0; i < ncomps; i++) {
		ord[i] = i;
		tot_p95 += w->c[i].p95 * (double)w->c[i].replicas;
	}
	cmp_w = w;
	qsort(ord, ncomps, sizeof(size_t), cmp_p95);
	for (i = 0; i < ncomps; i++) {
		struct comp *c = &w->c[ord[i]];

		for (j = 0; j < c->replicas; j++) {
			size_t best = nparts;
			double bs = INFINITY;

			for (p = 0; p < nparts; p++) {
				double f = p % 2 ? 1.15 : 0.85;
				double sc = fmax((load[p] + c->p95) / tot_p95, (mload[p] + c->mem) / tot_mem) / f;

				if ((j == 0 || c->home[0] != p) && sc < bs) {
					bs = sc;
					best = p;
				}
			}
			c->home[j] = best;
			load[best] += c->p95;
			mload[best] += c->mem;
		}
	}
	/* Capacity: headroom times the cluster's total at its 95th (CPU) or
	 * 99th (memory) percentile over steps and scenarios, shared by the
	 * online partitions, half of them 15 % larger and half smaller. */
	{
		double *tot[2], q[2];
		size_t s, k;
		int r;

		for (r = 0; r < 2; r++) {
			tot[r] = calloc(STEPS * NSC, sizeof(double));
			for (i = 0; i < ncomps; i++)
				for (s = 0; s < STEPS; s++)
					for (k = 0; k < NSC; k++)
						tot[r][s * NSC + k] += demand(&w->c[i], r, s, k) * (double)w->c[i].replicas;
			qsort(tot[r], STEPS * NSC, sizeof(double), cmp_asc);
			q[r] = tot[r][(size_t)((r ? 0.99 : 0.95) * (STEPS * NSC - 1))];
			free(tot[r]);
			/* At least the planner's co-movement floor of the whole
			 * estate: median + 0.5 x the summed spreads. */
			{
				float row[NSC * STEPS];
				double qc[STEPS], qm[STEPS], med[STEPS] = { 0 }, spr[STEPS] = { 0 };

				for (i = 0; i < ncomps; i++) {
					replica_rows(&w->c[i], r, r ? 0.01 : 0.05, row, qc, qm);
					for (s = 0; s < STEPS; s++) {
						med[s] += qm[s] * (double)w->c[i].replicas;
						spr[s] += (qc[s] - qm[s]) * (double)w->c[i].replicas;
					}
				}
				for (s = 0; s < STEPS; s++)
					q[r] = fmax(q[r], med[s] + SCHEDULE_DEFAULT_DEPENDENCE * spr[s]);
			}
		}
		/* ... and never below 1.05 times what the partition already
		 * carries at the confidence before the wave, so that the
		 * replicas that stay always fit. */
		{
			double *home = calloc(nparts * 2 * STEPS * NSC, sizeof(double));
			double *hsp = calloc(nparts * 2 * STEPS, sizeof(double));
			float row[NSC * STEPS];
			double qc[STEPS], qm[STEPS];

			for (i = 0; i < ncomps; i++)
				for (j = 0; j < w->c[i].replicas; j++)
					for (r = 0; r < 2; r++) {
						replica_rows(&w->c[i], r, r ? 0.01 : 0.05, row, qc, qm);
						for (s = 0; s < STEPS; s++) {
							hsp[(w->c[i].home[j] * 2 + (size_t)r) * STEPS + s] += qc[s] - qm[s];
							for (k = 0; k < NSC; k++)
								home[((w->c[i].home[j] * 2 + (size_t)r) * STEPS + s) * NSC + k] +=
									demand(&w->c[i], r, s, k);
						}
					}
			for (p = 0; p < nparts; p++) {
				double f = p % 2 ? 1.15 : 0.85, need[2] = { 0, 0 };

				for (r = 0; r < 2; r++)
					for (s = 0; s < STEPS; s++) {
						double *v = home + ((p * 2 + (size_t)r) * STEPS + s) * NSC;

						qsort(v, NSC, sizeof(double), cmp_asc);
						need[r] = fmax(need[r], v[NSC - 1 - (size_t)floor((r ? 0.01 : 0.05) * NSC + 1e-9)]);
						/* and the planner's co-movement floor */
						need[r] = fmax(need[r], v[NSC / 2] + SCHEDULE_DEFAULT_DEPENDENCE *
											    hsp[(p * 2 + (size_t)r) * STEPS + s]);
					}
				w->cap[p][0] = ceil(8 * fmax(headroom * f * q[0] / (double)(nparts - offline), 1.05 * need[0])) / 8;
				w->cap[p][1] = ceil(fmax(headroom * f * q[1] / (double)(nparts - offline), 1.05 * need[1]) /
						    67108864.0) * 67108864.0;
				w->zone[p] = (int)(p % 3);
			}
			free(home);
			free(hsp);
		}
	}
	(void)tot_cpu;
	(void)tot_mem;
	free(load);
	free(mload);
	free(ord);
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The planner's wave problem (partition/planner.h) with its arrays owned. */
struct wave {
	struct part_wave_problem pb;
	struct part_wave_mover *m;
	double *cap, *base, *bmin, *bsp, *sp;
	float *dem;
	unsigned char *online;
	int *hosts;
};

static void wave_release(struct wave *x)
{
	free(x->m);
	free(x->cap);
	free(x->base);
	free(x->bmin);
	free(x->bsp);
	free(x->dem);
	free(x->sp);
	free(x->online);
	free(x->hosts);
	memset(x, 0, sizeof(*x));
}

/* Per replica: the demand over (k, h), its quantile at 1 - eps and median
 * per step. */
static void replica_rows(const struct comp *c, int r, double eps, float *d, double *q, double *q50)
{
	double tmp[NSC];
	size_t s, k, a = (size_t)floor(eps * NSC + 1e-9);

	for (s = 0; s < STEPS; s++) {
		for (k = 0; k < NSC; k++)
			d[k * STEPS + s] = (float)(tmp[k] = demand(c, r, s, k));
		qsort(tmp, NSC, sizeof(double), cmp_desc);
		q[s] = tmp[a];
		q50[s] = tmp[(NSC - 1) / 2];
	}
}

/* The wave that takes partitions [off0, off0 + noff) offline, as the
 * planner builds it: movers are the replicas whose home is offline, the
 * others stay (load, guarantees, spreads, anti-affinity). With all, every
 * replica is placed from scratch on every partition instead. */
static int wave_make(struct wave *x, const struct world *w, size_t off0, size_t noff, int all)
{
	struct part_wave_problem *pb = &x->pb;
	size_t N = 0, P = w->nparts, C = w->ncomps, i, j, s, k, n, p;
	double eps[2] = { 0.05, 0.01 }, q[STEPS], q50[STEPS];
	float row[NSC * STEPS];
	int r;

	memset(x, 0, sizeof(*x));
	for (i = 0; i < C; i++)
		for (j = 0; j < w->c[i].replicas; j++)
			N += all || (w->c[i].home[j] >= off0 && w->c[i].home[j] < off0 + noff);
	x->m = calloc(N + 1, sizeof(*x->m));
	x->cap = calloc(P * RR, sizeof(double));
	x->base = calloc(P * RR * NSC * STEPS, sizeof(double));
	x->bmin = calloc(P * RR, sizeof(double));
	x->bsp = calloc(P * RR * STEPS, sizeof(double));
	x->dem = calloc(N * 2 * NSC * STEPS + 1, sizeof(float));
	x->sp = calloc(N * RR * STEPS + 1, sizeof(double));
	x->online = calloc(P, 1);
	x->hosts = calloc(C * P, sizeof(int));
	if (!x->m || !x->cap || !x->base || !x->bmin || !x->bsp || !x->dem || !x->sp || !x->online || !x->hosts) {
		wave_release(x);
		return -1;
	}
	for (p = 0; p < P; p++) {
		x->cap[p * RR + ADP_RES_CPU] = w->cap[p][0];
		x->cap[p * RR + ADP_RES_MEMORY] = w->cap[p][1];
		x->online[p] = all || p < off0 || p >= off0 + noff;
	}
	for (i = 0, n = 0; i < C; i++) {
		const struct comp *c = &w->c[i];

		for (j = 0; j < c->replicas; j++) {
			size_t home = c->home[j];
			struct part_wave_mover *m = &x->m[n];
			double worst = 0;

			if (!all && x->online[home]) {
				/* Stays: load, guarantees, spreads and anti-affinity. */
				for (r = 0; r < 2; r++) {
					int res = r ? ADP_RES_MEMORY : ADP_RES_CPU;

					replica_rows(c, r, eps[r], row, q, q50);
					for (k = 0; k < NSC; k++)
						for (s = 0; s < STEPS; s++)
							x->base[((home * RR + (size_t)res) * NSC + k) * STEPS + s] += row[k * STEPS + s];
					for (s = 0; s < STEPS; s++)
						x->bsp[(home * RR + (size_t)res) * STEPS + s] += q[s] - q50[s];
					x->bmin[home * RR + (size_t)res] += r ? 0.5 * c->mem : 0.25 * c->cpu / (double)c->replicas;
				}
				x->hosts[i * P + home]++;
				continue;
			}
			m->comp = i;
			m->replica = j;
			m->home = home;
			m->tier = c->tier;
			m->factor = 1;
			m->spread_h = x->sp + n * RR * STEPS;
			for (r = 0; r < 2; r++) {
				int res = r ? ADP_RES_MEMORY : ADP_RES_CPU;
				float *d = x->dem + (n * 2 + (size_t)r) * NSC * STEPS;
				double qmax = 0, smax = 0;

				replica_rows(c, r, eps[r], d, q, q50);
				m->demand[res] = d;
				for (s = 0; s < STEPS; s++) {
					x->sp[n * RR * STEPS + (size_t)res * STEPS + s] = q[s] - q50[s];
					qmax = fmax(qmax, q[s]);
					smax = fmax(smax, q[s] - q50[s]);
				}
				m->min[res] = r ? 0.5 * c->mem : 0.25 * c->cpu / (double)c->replicas;
				worst = fmax(worst, qmax > 0 ? smax / qmax : 0);
			}
			m->spread = worst;
			n++;
		}
	}
	pb->nparts = P;
	pb->ncomps = C;
	pb->nmovers = N;
	pb->K = NSC;
	pb->H = STEPS;
	pb->stride = STEPS;
	pb->offset = 0;
	pb->capacity = x->cap;
	pb->online = x->online;
	pb->base = x->base;
	pb->base_min = x->bmin;
	pb->hosts = x->hosts;
	pb->movers = x->m;
	pb->eps[ADP_RES_CPU] = eps[0];
	pb->eps[ADP_RES_MEMORY] = eps[1];
	memcpy(pb->weights, schedule_weight_defaults, sizeof(pb->weights));
	pb->dependence = SCHEDULE_DEFAULT_DEPENDENCE;
	pb->base_spread = x->bsp;
	return 0;
}

static void print_num(double v)
{
	if (isinf(v))
		printf(" %10s", "-");
	else
		printf(" %10.4g", v);
}

static int compare(unsigned long seed, double seconds, char **sizes, int nsizes, int all)
{
	int si;

	printf("%-6s %-5s %-6s | %10s %4s %8s | %10s %10s %8s %8s %8s | %-11s %s\n", "comps", "parts", "movers",
	       "heur cost", "viol", "heur s", "milp cost", "bound", "gap heur", "gap kept", "milp s", "status",
	       "rounds/steps/rows/nonzeros");
	for (si = 0; si < nsizes; si++) {
		size_t C = (size_t)atol(sizes[si]), P = C / 10 < 4 ? 4 : C / 10, off = all ? 0 : P / 10 ? P / 10 : 1;
		struct world w = { 0 };
		struct wave x;
		struct part_exact_result m;
		struct part_exact_opts o = { 0 };
		size_t *assign, viol;
		double gh, cost;
		int rc;

		rng_state = seed * 2654435761u + C;
		world_make(&w, C, P, off);
		if (wave_make(&x, &w, 0, off, all) || !(assign = malloc((x.pb.nmovers + 1) * sizeof(size_t)))) {
			fprintf(stderr, "solver: out of memory\n");
			return 1;
		}
		o.time_limit = seconds;
		/* The MILP starts from the planner's heuristic and reports its
		 * cost, both scored by part_wave_evaluate. */
		rc = part_exact_solve(assign, &m, &x.pb, NULL, &o);
		if (rc && rc != ADP_EINFEASIBLE) {
			fprintf(stderr, "solver: %s\n", adp_error_last());
			return 1;
		}
		if (part_wave_evaluate(&x.pb, assign, &cost, &viol) || viol != m.violations ||
		    fabs(cost - m.objective) > 1e-9 * (1 + fabs(cost))) {
			fprintf(stderr, "solver: the kept assignment does not score as reported\n");
			return 1;
		}
		gh = m.heuristic_violations || isinf(m.bound) ? INFINITY
			: (m.heuristic_objective - m.bound) / (fabs(m.heuristic_objective) + 2.2e-16);
		printf("%-6zu %-5zu %-6zu |", C, P, x.pb.nmovers);
		print_num(m.heuristic_objective);
		printf(" %4zu %8.3f |", m.heuristic_violations, m.heur_seconds);
		print_num(m.milp_objective);
		print_num(m.bound);
		printf(" %7.2f%% %7.2f%% %8.2f | %-11s %zu/%zu/%zu/%zu%s%s%s\n", 100 * gh, 100 * m.gap, m.milp_seconds,
		       part_exact_status_name(m.status), m.rounds, m.steps_used, m.rows, m.nonzeros,
		       m.time_limit_hit ? " time-limit" : "", m.too_large ? " too-large" : "",
		       m.replaced ? " milp-kept" : " heuristic-kept");
		fflush(stdout);
		free(assign);
		wave_release(&x);
		free(w.c);
	}
	return 0;
}

/* Every wave of the estate through the planner's heuristic and scorer,
 * as part_plan runs them per wave. */
static int scale(unsigned long seed, size_t C, size_t P, size_t off)
{
	struct world w = { 0 };
	struct rusage ru;
	double t0 = now(), tbuild = 0, theur = 0, teval = 0, worst = 0, total = 0;
	size_t wave, nw = (P + off - 1) / off, movers = 0, clean_waves = 0;

	if (P > 4096)
		return 1;
	rng_state = seed * 2654435761u + C;
	world_make(&w, C, P, off);
	for (wave = 0; wave < nw; wave++) {
		struct wave x;
		double t1 = now(), t2, t3, cost;
		size_t n = off < P - wave * off ? off : P - wave * off, *assign, viol;

		if (wave_make(&x, &w, wave * off, n, 0) || !(assign = malloc((x.pb.nmovers + 1) * sizeof(size_t)))) {
			fprintf(stderr, "solver: out of memory\n");
			return 1;
		}
		t2 = now();
		tbuild += t2 - t1;
		if (part_place_movers(&x.pb, assign)) {
			fprintf(stderr, "solver: %s\n", adp_error_last());
			return 1;
		}
		t3 = now();
		theur += t3 - t2;
		worst = fmax(worst, t3 - t2);
		if (part_wave_evaluate(&x.pb, assign, &cost, &viol)) {
			fprintf(stderr, "solver: %s\n", adp_error_last());
			return 1;
		}
		teval += now() - t3;
		total += cost;
		movers += x.pb.nmovers;
		clean_waves += !viol;
		free(assign);
		wave_release(&x);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("scale: %zu components on %zu partitions, %zu waves of %zu offline, %zu moves, %zu scenarios x %d steps\n",
	       C, P, nw, off, movers, (size_t)NSC, STEPS);
	printf("scale: part_place_movers %.2f s (slowest wave %.2f s), part_wave_evaluate %.2f s, instances %.2f s, total %.2f s; cost %.4g; %zu of %zu waves without violations; peak RSS %.1f MiB\n",
	       theur, worst, teval, tbuild, now() - t0, total, clean_waves, nw, (double)ru.ru_maxrss / 1024);
	free(w.c);
	return 0;
}

int main(int argc, char **argv)
{
	int sep, i, rc;

	if (getenv("BENCH_HEADROOM"))
		headroom = atof(getenv("BENCH_HEADROOM"));
	for (sep = 1; sep < argc && strcmp(argv[sep], "--"); sep++)
		;
	if (argc < 4 || sep >= argc || load_traces(argv + sep + 1, argc - sep - 1)) {
		fprintf(stderr, "usage: solver compare|compare-all SEED SECONDS SIZE... -- FILE...\n"
				"       solver scale SEED COMPONENTS PARTITIONS OFFLINE -- FILE...\n");
		return 2;
	}
	if ((!strcmp(argv[1], "compare") || !strcmp(argv[1], "compare-all")) && sep > 4)
		rc = compare(strtoul(argv[2], NULL, 10), atof(argv[3]), argv + 4, sep - 4, !strcmp(argv[1], "compare-all"));
	else if (!strcmp(argv[1], "scale") && sep == 6)
		rc = scale(strtoul(argv[2], NULL, 10), (size_t)atol(argv[3]), (size_t)atol(argv[4]), (size_t)atol(argv[5]));
	else
		rc = 2;
	for (i = 0; i < (int)ntraces; i++)
		free(traces[i].v);
	free(traces);
	return rc;
}
