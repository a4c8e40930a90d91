#include "util/fault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct {
	long calls, nth, count;
} faults[ADP_FAULT_COUNT];
static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

static void arm_locked(int point, long nth, long count)
{
	faults[point].calls = 0;
	faults[point].nth = nth;
	faults[point].count = count;
}

static void arm_from_env(void)
{
	static const char *const names[ADP_FAULT_COUNT] = { "write", "fsync", "rename", "solver" };
	const char *v = getenv("ADPART_TEST_FAULT"), *colon;
	char *end;
	long nth, count = -1;
	int p;

	if (!v || !(colon = strchr(v, ':')))
		return;
	for (p = 0; p < ADP_FAULT_COUNT; p++) {
		if (strlen(names[p]) != (size_t)(colon - v) || strncmp(v, names[p], (size_t)(colon - v)))
			continue;
		nth = strtol(colon + 1, &end, 10);
		if (*end == ':')
			count = strtol(end + 1, NULL, 10);
		if (nth > 0)
			arm_locked(p, nth, count);
	}
}

void adp_fault_arm(int point, long nth, long count)
{
	if (point < 0 || point >= ADP_FAULT_COUNT)
		return;
	pthread_once(&fault_once, arm_from_env);
	pthread_mutex_lock(&fault_mu);
	arm_locked(point, nth, count);
	pthread_mutex_unlock(&fault_mu);
}

int adp_fault_hit(int point)
{
	long n;
	int hit;

	if (point < 0 || point >= ADP_FAULT_COUNT)
		return 0;
	pthread_once(&fault_once, arm_from_env);
	pthread_mutex_lock(&fault_mu);
	n = ++faults[point].calls;
	hit = faults[point].nth > 0 && n >= faults[point].nth &&
	      (faults[point].count < 0 || n < faults[point].nth + faults[point].count);
	pthread_mutex_unlock(&fault_mu);
	return hit;
}
