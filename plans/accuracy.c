/* Post-window accuracy from run records (see accuracy.h). */
#include "plans/accuracy.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/plan.h"
#include "plans/store.h"
#include "util/error.h"
#include "util/mathutil.h"
#include "util/resource.h"

#define ACC_MAX_REPLICA 1024

static struct acc_row *row_of(struct acc_window *w, const char *component, int resource)
{
	struct acc_row *r;
	size_t i;

	for (i = 0; i < w->nrows; i++)
		if (w->rows[i].resource == resource && !strcmp(w->rows[i].component, component))
			return &w->rows[i];
	if (w->nrows >= ACC_MAX_ROWS || !(r = realloc(w->rows, (w->nrows + 1) * sizeof(*r))))
		return NULL;
	w->rows = r;
	r = &w->rows[w->nrows];
	memset(r, 0, sizeof(*r));
	r->resource = resource;
	if (!(r->component = strdup(component)))
		return NULL;
	w->nrows++;
	return r;
}

int acc_row_add(struct acc_row *r, size_t replica, double actual, double p50, double p95, double alloc)
{
	if (replica >= r->nlast) {
		size_t n = replica + 1, k;
		double *l = realloc(r->last, n * sizeof(*l));

		if (!l)
			return ADP_ENOMEM;
		for (k = r->nlast; k < n; k++)
			l[k] = NAN;
		r->last = l;
		r->nlast = n;
	}
	r->n++;
	r->le_p95 += actual <= p95;
	r->le_p50 += actual <= p50;
	r->above_alloc += alloc > 0 && actual > alloc;
	r->sum_actual += actual;
	r->sum_p50 += p50;
	r->sum_abs_err += fabs(actual - p50);
	if (!isnan(r->last[replica])) {
		r->naive_sum += fabs(actual - r->last[replica]);
		r->naive_n++;
	}
	r->last[replica] = actual;
	return 0;
}

void acc_row_release(struct acc_row *r)
{
	if (!r)
		return;
	free(r->component);
	free(r->last);
	memset(r, 0, sizeof(*r));
}

static void window_release(struct acc_window *w)
{
	size_t i;

	for (i = 0; i < w->nrows; i++)
		acc_row_release(&w->rows[i]);
	free(w->rows);
	free(w->label);
	free(w->outcome);
	memset(w, 0, sizeof(*w));
}

int accuracy_add_run(struct accuracy *a, const char *label, json_t *run)
{
	json_t *obs = json_object_get(run, "observations"), *e;
	struct acc_window *w;
	const char *outcome = json_string_value(json_object_get(run, "outcome"));
	size_t i;

	if (!json_is_object(run) || !json_is_array(json_object_get(run, "steps")) || !outcome)
		return adp_error_set(ADP_EINPUT, "%s: not a run record (no steps and outcome)", label);
	if (a->nwindows >= ACC_MAX_WINDOWS)
		return adp_error_set(ADP_EINPUT, "more than %d run records", ACC_MAX_WINDOWS);
	if (!(w = realloc(a->windows, (a->nwindows + 1) * sizeof(*w))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	a->windows = w;
	w = &a->windows[a->nwindows++];
	memset(w, 0, sizeof(*w));
	if (!(w->label = strdup(label)) || (outcome && !(w->outcome = strdup(outcome))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	json_array_foreach(obs, i, e) {
		const char *comp = json_string_value(json_object_get(e, "component"));
		const char *res = json_string_value(json_object_get(e, "resource"));
		json_t *act = json_object_get(e, "actual"), *p50 = json_object_get(e, "predicted_p50");
		json_t *p95 = json_object_get(e, "predicted_p95");
		json_int_t rep = json_integer_value(json_object_get(e, "replica"));
		struct acc_row *r[2];
		int resource = res ? adp_resource_parse(res) : -1, k;

		/* Boundary samples with values only (see accuracy.h). */
		if (!json_object_get(e, "after_step") || !comp || resource < 0 || !json_is_number(act) ||
		    !json_is_number(p50) || !json_is_number(p95) || rep < 0 || rep >= ACC_MAX_REPLICA)
			continue;
		r[0] = row_of(w, comp, resource);
		r[1] = row_of(&a->pooled, comp, resource);
		for (k = 0; k < 2; k++)
			if (!r[k] || acc_row_add(r[k], (size_t)rep, json_number_value(act),
						 json_number_value(p50), json_number_value(p95),
						 json_number_value(json_object_get(e, "alloc"))))
				return adp_error_set(ADP_ENOMEM, "out of memory");
	}
	/* A window's last sample is no predecessor of the next window's first. */
	for (i = 0; i < a->pooled.nrows; i++) {
		size_t k;

		for (k = 0; k < a->pooled.rows[i].nlast; k++)
			a->pooled.rows[i].last[k] = NAN;
	}
	return 0;
}

double acc_coverage95(const struct acc_row *r)
{
	return r->n ? (double)r->le_p95 / (double)r->n : NAN;
}

double acc_coverage50(const struct acc_row *r)
{
	return r->n ? (double)r->le_p50 / (double)r->n : NAN;
}

double acc_bias(const struct acc_row *r)
{
	return r->n && r->sum_p50 > 0 ? (r->sum_actual - r->sum_p50) / r->sum_p50 : NAN;
}

double acc_mase(const struct acc_row *r)
{
	double scale = r->naive_n ? r->naive_sum / (double)r->naive_n : 0;

	return r->n && scale > 0 ? r->sum_abs_err / (double)r->n / scale : NAN;
}

double acc_above_alloc(const struct acc_row *r)
{
	return r->n ? (double)r->above_alloc / (double)r->n : NAN;
}

void accuracy_release(struct accuracy *a)
{
	size_t i;

	for (i = 0; i < a->nwindows; i++)
		window_release(&a->windows[i]);
	free(a->windows);
	window_release(&a->pooled);
	memset(a, 0, sizeof(*a));
}

int accuracy_add_store(struct accuracy *a, const char *dir, const char *only)
{
	struct plan_store *s = NULL;
	struct plan_store_entry *v = NULL;
	size_t n = 0, i, k;
	int rc;

	if ((rc = plan_store_open(&s, dir, 0)) || (rc = plan_store_history(s, &v, &n)))
		goto done;
	for (i = n; i-- > 0;) {
		char sched[PLAN_STORE_MAX_NAME + 1], path[PLAN_STORE_MAX_NAME + 64], label[PLAN_STORE_MAX_NAME + 32];
		int64_t serial;
		char *text = NULL;
		json_t *run;
		int dup = 0;

		if (sscanf(v[i].summary, "run %128s serial %" SCNd64, sched, &serial) != 2 ||
		    (only && strcmp(only, sched)))
			continue;
		snprintf(label, sizeof(label), "%s/%" PRId64, sched, serial);
		for (k = 0; k < a->nwindows && !dup; k++)
			dup = !strcmp(a->windows[k].label, label);
		if (dup)
			continue; /* a later run of the same plan: its record replaced this one */
		snprintf(path, sizeof(path), "%s/runs/%" PRId64 ".json", sched, serial);
		if ((rc = plan_store_read(s, path, &text)))
			goto done;
		run = json_loads(text, 0, NULL);
		free(text);
		if (!run) {
			rc = adp_error_set(ADP_EINPUT, "store '%s': %s is not JSON", dir, path);
			goto done;
		}
		rc = accuracy_add_run(a, label, run);
		json_decref(run);
		if (rc)
			goto done;
	}
done:
	free(v);
	plan_store_free(s);
	return rc;
}

int accuracy_feedback(const struct accuracy *a, struct plan_feedback **out, size_t *n)
{
	const struct acc_window *pool = &a->pooled;
	struct plan_feedback *f;
	size_t i, w, k;

	*out = NULL;
	*n = 0;
	if (!pool->nrows)
		return 0;
	if (!(f = calloc(pool->nrows, sizeof(*f))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0; i < pool->nrows; i++) {
		const struct acc_row *p = &pool->rows[i];
		double alpha = 0.05;
		size_t windows = 0;

		for (w = 0; w < a->nwindows; w++)
			for (k = 0; k < a->windows[w].nrows; k++) {
				const struct acc_row *r = &a->windows[w].rows[k];

				if (r->resource != p->resource || strcmp(r->component, p->component) || !r->n)
					continue;
				alpha += ACC_GAMMA * (0.05 * (double)r->n - (double)(r->n - r->le_p95));
				alpha = fmin(ACC_ALPHA_MAX, fmax(ACC_ALPHA_MIN, alpha));
				windows++;
			}
		if (!(f[*n].component = strdup(p->component))) {
			for (k = 0; k < *n; k++)
				free(f[k].component);
			free(f);
			return adp_error_set(ADP_ENOMEM, "out of memory");
		}
		f[*n].resource = p->resource;
		f[*n].scale = adp_norm_inv(1 - alpha) / adp_norm_inv(0.95);
		f[*n].windows = windows;
		f[*n].samples = p->n;
		f[*n].above_p95 = (double)(p->n - p->le_p95) / (double)p->n;
		(*n)++;
	}
	*out = f;
	return 0;
}
