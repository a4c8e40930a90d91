/* Solver benchmark: one wave's assignment solved by the heuristic and by
 * the MILP (GLPK) on the same instances, and a scale run of the heuristic
 * alone. Instances are drawn from real traces (one value per line,
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
 *   - capacity: 1.35 times the cluster's total at its 95th (CPU) or 99th
 *     (memory) percentile shared by the online partitions, half of them
 *     15 % larger and half smaller, and never below 1.05 times what the
 *     partition carries before the wave.
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
#include "util/error.h"

#define RR ADP_RES_COUNT
#define DAY 288
#define STEPS 12
#define DAYS 10
#define SHIFTS 5
#define K (DAYS * SHIFTS)
#define MAXN 200000
#define HEADROOM 1.35

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
		double v[STEPS * K];
		size_t s, k;

		for (s = 0; s < STEPS; s++)
			for (k = 0; k < K; k++)
				v[s * K + k] = demand(c, 0, s, k);
		qsort(v, STEPS * K, sizeof(double), cmp_asc);
		c->p95 = v[(size_t)(0.95 * (STEPS * K - 1))];
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
	/* Capacity: HEADROOM times the cluster's total at its 95th (CPU) or
	 * 99th (memory) percentile over steps and scenarios, shared by the
	 * online partitions, half of them 15 % larger and half smaller. */
	{
		double *tot[2], q[2];
		size_t s, k;
		int r;

		for (r = 0; r < 2; r++) {
			tot[r] = calloc(STEPS * K, sizeof(double));
			for (i = 0; i < ncomps; i++)
				for (s = 0; s < STEPS; s++)
					for (k = 0; k < K; k++)
						tot[r][s * K + k] += demand(&w->c[i], r, s, k) * (double)w->c[i].replicas;
			qsort(tot[r], STEPS * K, sizeof(double), cmp_asc);
			q[r] = tot[r][(size_t)((r ? 0.99 : 0.95) * (STEPS * K - 1))];
			free(tot[r]);
		}
		/* ... and never below 1.05 times what the partition already
		 * carries at the confidence before the wave, so that the
		 * replicas that stay always fit. */
		{
			double *home = calloc(nparts * 2 * STEPS * K, sizeof(double));

			for (i = 0; i < ncomps; i++)
				for (j = 0; j < w->c[i].replicas; j++)
					for (r = 0; r < 2; r++)
						for (s = 0; s < STEPS; s++)
							for (k = 0; k < K; k++)
								home[((w->c[i].home[j] * 2 + (size_t)r) * STEPS + s) * K + k] +=
									demand(&w->c[i], r, s, k);
			for (p = 0; p < nparts; p++) {
				double f = p % 2 ? 1.15 : 0.85, need[2] = { 0, 0 };

				for (r = 0; r < 2; r++)
					for (s = 0; s < STEPS; s++) {
						double *v = home + ((p * 2 + (size_t)r) * STEPS + s) * K;

						qsort(v, K, sizeof(double), cmp_asc);
						need[r] = fmax(need[r], v[K - 1 - (size_t)floor((r ? 0.01 : 0.05) * K + 1e-9)]);
					}
				w->cap[p][0] = ceil(8 * fmax(HEADROOM * f * q[0] / (double)(nparts - offline), 1.05 * need[0])) / 8;
				w->cap[p][1] = ceil(fmax(HEADROOM * f * q[1] / (double)(nparts - offline), 1.05 * need[1]) /
						    67108864.0) * 67108864.0;
				w->zone[p] = (int)(p % 3);
			}
			free(home);
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

/* The wave that takes partitions [off0, off0 + noff) offline; with all,
 * every replica is placed from scratch on every partition instead. */
static int wave_make(struct part_wave_problem *pb, const struct world *w, size_t off0, size_t noff, int all)
{
	struct part_exact_weights wt;
	size_t N = 0, P = w->nparts - noff, i, j, s, k, n, *pmap = malloc(w->nparts * sizeof(size_t));
	double eps[2] = { 0.05, 0.01 }, tmp[K];
	int r;

	part_exact_weights_default(&wt);
	for (i = 0, n = 0; i < w->nparts; i++)
		pmap[i] = i >= off0 && i < off0 + noff ? (size_t)-1 : n++;
	for (i = 0; i < w->ncomps; i++)
		for (j = 0; j < w->c[i].replicas; j++)
			N += all || pmap[w->c[i].home[j]] == (size_t)-1;
	if (part_wave_problem_init(pb, N, P, STEPS, K)) {
		free(pmap);
		return -1;
	}
	pb->eps[ADP_RES_CPU] = eps[0];
	pb->eps[ADP_RES_MEMORY] = eps[1];
	for (i = 0; i < w->nparts; i++)
		if (pmap[i] != (size_t)-1) {
			pb->cap[pmap[i] * RR + ADP_RES_CPU] = w->cap[i][0];
			pb->cap[pmap[i] * RR + ADP_RES_MEMORY] = w->cap[i][1];
			pb->zone[pmap[i]] = w->zone[i];
		}
	for (i = 0, n = 0; i < w->ncomps; i++) {
		const struct comp *c = &w->c[i];

		for (j = 0; j < c->replicas; j++) {
			size_t home = c->home[j], p = pmap[home];

			if (!all && p != (size_t)-1) {
				/* Stays: load, guarantees and impact of its partition. */
				for (r = 0; r < 2; r++) {
					int res = r ? ADP_RES_MEMORY : ADP_RES_CPU;
					double *b = pb->base + ((p * RR + (size_t)res) * STEPS) * K;

					for (s = 0; s < STEPS; s++)
						for (k = 0; k < K; k++)
							b[s * K + k] += demand(c, r, s, k);
					pb->base_min[p * RR + (size_t)res] += r ? 0.5 * c->mem : 0.25 * c->cpu / (double)c->replicas;
				}
				pb->base_impact[p] += wt.tier[c->tier];
				continue;
			}
			pb->comp[n] = i;
			pb->tier[n] = c->tier;
			pb->home_zone[n] = w->zone[home];
			for (r = 0; r < 2; r++) {
				int res = r ? ADP_RES_MEMORY : ADP_RES_CPU;
				double *d = pb->dem + ((n * RR + (size_t)res) * STEPS) * K, mean = 0, alloc = 0;
				double unit = r ? 67108864.0 : 0.125, q50 = 0, q95 = 0;
				size_t a = (size_t)floor(eps[r] * K + 1e-9);

				for (s = 0; s < STEPS; s++) {
					for (k = 0; k < K; k++) {
						d[s * K + k] = tmp[k] = demand(c, r, s, k);
						mean += tmp[k];
					}
					qsort(tmp, K, sizeof(double), cmp_desc);
					alloc = fmax(alloc, tmp[a]);
					q50 = fmax(q50, tmp[K / 2]);
					q95 = fmax(q95, tmp[K / 20]);
				}
				pb->mean[n * RR + (size_t)res] = mean / (STEPS * K);
				pb->min[n * RR + (size_t)res] = r ? 0.5 * c->mem : 0.25 * c->cpu / (double)c->replicas;
				pb->alloc[n * RR + (size_t)res] = fmax(ceil(alloc / unit - 1e-9) * unit, pb->min[n * RR + (size_t)res]);
				if (r == 0)
					pb->unc[n] = q50 > 0 ? (q95 - q50) / q50 : 0;
			}
			n++;
		}
	}
	/* Anti-affinity with the replicas that stay. */
	for (n = 0; n < N && !all; n++) {
		const struct comp *c = &w->c[pb->comp[n]];

		for (j = 0; j < c->replicas; j++)
			if (pmap[c->home[j]] != (size_t)-1)
				pb->forbid[n * P + pmap[c->home[j]]] = 1;
	}
	free(pmap);
	return 0;
}

static void print_num(double v)
{
	if (isinf(v))
		printf(" %10s", "-");
	else
		printf(" %10.3f", v);
}

static int compare(unsigned long seed, double seconds, char **sizes, int nsizes, int all)
{
	int si;

	printf("%-6s %-5s %-6s | %10s %8s | %10s %10s %8s %8s %8s | %-10s %s\n", "comps", "parts", "movers",
	       "heur obj", "heur s", "milp obj", "bound", "gap heur", "gap milp", "milp s", "status",
	       "rounds/steps/rows/nonzeros");
	for (si = 0; si < nsizes; si++) {
		size_t C = (size_t)atol(sizes[si]), P = C / 10 < 4 ? 4 : C / 10, off = all ? 0 : P / 10 ? P / 10 : 1;
		struct world w = { 0 };
		struct part_wave_problem pb;
		struct part_wave_solution h = { 0 }, m = { 0 };
		struct part_exact_opts o = { 0 };
		double gh;
		int rc;

		rng_state = seed * 2654435761u + C;
		world_make(&w, C, P, off);
		if (wave_make(&pb, &w, 0, off, all)) {
			fprintf(stderr, "solver: %s\n", adp_error_last());
			return 1;
		}
		rc = part_exact_heuristic(&h, &pb, NULL);
		if (rc)
			fprintf(stderr, "solver: %zu components: heuristic: %s\n", C, adp_error_last());
		o.time_limit = seconds;
		part_exact_solve(&m, &pb, &o);
		if (m.assign && m.status <= PART_EXACT_FEASIBLE && part_exact_verify(&pb, m.assign)) {
			fprintf(stderr, "solver: the kept assignment fails the full check: %s\n", adp_error_last());
			return 1;
		}
		gh = rc || isinf(m.bound) ? INFINITY : (h.objective - m.bound) / (fabs(h.objective) + 2.2e-16);
		printf("%-6zu %-5zu %-6zu |", C, P, pb.nmovers);
		print_num(h.objective);
		printf(" %8.3f |", h.heur_seconds);
		print_num(m.objective);
		print_num(m.bound);
		printf(" %7.2f%% %7.2f%% %8.2f | %-10s %zu/%zu/%zu/%zu%s%s%s\n", 100 * gh, 100 * m.gap, m.milp_seconds,
		       part_exact_status_name(m.status), m.rounds, m.steps_used, m.rows, m.nonzeros,
		       m.time_limit_hit ? " time-limit" : "", m.too_large ? " too-large" : "",
		       m.from_heuristic ? " heuristic-kept" : "");
		fflush(stdout);
		part_wave_solution_release(&h);
		part_wave_solution_release(&m);
		part_wave_problem_release(&pb);
		free(w.c);
	}
	return 0;
}

static int scale(unsigned long seed, size_t C, size_t P, size_t off)
{
	struct world w = { 0 };
	struct rusage ru;
	double t0 = now(), tbuild = 0, theur = 0, worst = 0;
	size_t wave, nw = (P + off - 1) / off, movers = 0, placed_waves = 0;

	if (P > 4096)
		return 1;
	rng_state = seed * 2654435761u + C;
	world_make(&w, C, P, off);
	for (wave = 0; wave < nw; wave++) {
		struct part_wave_problem pb;
		struct part_wave_solution h = { 0 };
		double t1 = now(), t2;
		size_t n = off < P - wave * off ? off : P - wave * off;
		int rc;

		if (wave_make(&pb, &w, wave * off, n, 0)) {
			fprintf(stderr, "solver: %s\n", adp_error_last());
			return 1;
		}
		t2 = now();
		tbuild += t2 - t1;
		rc = part_exact_heuristic(&h, &pb, NULL);
		theur += now() - t2;
		worst = fmax(worst, now() - t2);
		movers += pb.nmovers;
		if (rc == 0) {
			placed_waves++;
			if (part_exact_verify(&pb, h.assign)) {
				fprintf(stderr, "solver: wave %zu fails the full check: %s\n", wave + 1, adp_error_last());
				return 1;
			}
		}
		part_wave_solution_release(&h);
		part_wave_problem_release(&pb);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("scale: %zu components on %zu partitions, %zu waves of %zu offline, %zu moves, %zu scenarios x %d steps\n",
	       C, P, nw, off, movers, (size_t)K, STEPS);
	printf("scale: heuristic %.2f s (slowest wave %.2f s), instances %.2f s, total %.2f s; %zu of %zu waves fit; peak RSS %.1f MiB\n",
	       theur, worst, tbuild, now() - t0, placed_waves, nw, (double)ru.ru_maxrss / 1024);
	free(w.c);
	return 0;
}

int main(int argc, char **argv)
{
	int sep, i, rc;

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
