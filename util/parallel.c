#include "util/parallel.h"

#include <pthread.h>
#include <unistd.h>

#include "util/error.h"

size_t adp_threads(size_t threads, size_t n, size_t min_per_thread)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t t = threads ? threads : (cpus > 0 ? (size_t)cpus : 1);

	if (t > ADP_MAX_THREADS)
		t = ADP_MAX_THREADS;
	if (min_per_thread && t > n / min_per_thread)
		t = n / min_per_thread;
	return t ? t : 1;
}

struct par_job {
	size_t n, next, failed_at, ndone;
	int (*fn)(void *ctx, size_t i);
	void (*done)(void *ctx, size_t ndone);
	void *ctx;
	struct adp_error_state err; /* the lowest failure, from its thread */
	pthread_mutex_t mu;
};

static void *par_worker(void *arg)
{
	struct par_job *j = arg;

	for (;;) {
		size_t i;
		int rc;

		pthread_mutex_lock(&j->mu);
		i = j->next++;
		pthread_mutex_unlock(&j->mu);
		if (i >= j->n)
			break;
		rc = j->fn(j->ctx, i);
		pthread_mutex_lock(&j->mu);
		if (!rc) {
			j->ndone++;
			if (j->done)
				j->done(j->ctx, j->ndone);
		} else {
			if (i < j->failed_at) {
				j->failed_at = i;
				adp_error_save(&j->err, rc);
			}
			j->next = j->n; /* no further item starts */
		}
		pthread_mutex_unlock(&j->mu);
		if (rc)
			break;
	}
	return NULL;
}

int adp_parallel(size_t n, size_t nthreads, int (*fn)(void *ctx, size_t i),
		 void (*done)(void *ctx, size_t ndone), void *ctx)
{
	struct par_job j = { .n = n, .failed_at = n, .fn = fn, .done = done, .ctx = ctx };
	pthread_t tid[ADP_MAX_THREADS];
	size_t started, i;
	int rc = 0;

	if (nthreads > ADP_MAX_THREADS)
		nthreads = ADP_MAX_THREADS;
	if (nthreads <= 1 || pthread_mutex_init(&j.mu, NULL)) {
		for (i = 0; i < n && !rc; i++)
			if (!(rc = fn(ctx, i)) && done)
				done(ctx, i + 1);
		return rc;
	}
	for (started = 1; started < nthreads; started++)
		if (pthread_create(&tid[started], NULL, par_worker, &j))
			break;
	par_worker(&j);
	for (i = 1; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&j.mu);
	return j.err.code ? adp_error_restore(&j.err) : 0;
}
