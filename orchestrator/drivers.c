/* The registry: a row per driver folder, with init and release that
 * adapt each driver's own lifecycle to one signature. */
#include "orchestrator/drivers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/exec/driver.h"
#include "orchestrator/kube/client.h"
#include "orchestrator/local/driver.h"
#include "util/error.h"

static int local_init(void **state, struct orch_driver *d, const struct inventory *inv,
		      const struct schedule *sched, const char *state_dir, const struct orch_driver_opts *o)
{
	struct orch_local *l = calloc(1, sizeof(*l));
	int rc;

	(void)o;
	if (!l)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = orch_local_init(l, inv, sched, state_dir))) {
		free(l);
		return rc;
	}
	orch_local_driver(d, l);
	*state = l;
	return 0;
}

static void local_release(void *state)
{
	orch_local_release(state);
	free(state);
}

/* The kubernetes driver borrows its client: both live in one block. */
struct kube_state {
	struct kube_client k;
	struct orch_kube d;
};

static int kube_init(void **state, struct orch_driver *d, const struct inventory *inv,
		     const struct schedule *sched, const char *state_dir, const struct orch_driver_opts *o)
{
	struct kube_state *ks = calloc(1, sizeof(*ks));
	struct kube_config cfg = { 0 };
	int rc;

	if (!ks)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = kube_config_auto(&cfg, o->kubeconfig, o->kube_context, o->kube_sa_dir)) ||
	    (rc = kube_client_init(&ks->k, &cfg))) {
		kube_config_release(&cfg);
		free(ks);
		return rc;
	}
	if ((rc = orch_kube_init(&ks->d, &ks->k, inv, sched, state_dir, &o->kube))) {
		kube_client_release(&ks->k);
		free(ks);
		return rc;
	}
	orch_kube_driver(d, &ks->d);
	*state = ks;
	return 0;
}

static void kube_release(void *state)
{
	struct kube_state *ks = state;

	if (!ks)
		return;
	orch_kube_release(&ks->d);
	kube_client_release(&ks->k);
	free(ks);
}

static int exec_init(void **state, struct orch_driver *d, const struct inventory *inv,
		     const struct schedule *sched, const char *state_dir, const struct orch_driver_opts *o)
{
	struct orch_exec *e = calloc(1, sizeof(*e));
	int rc;

	(void)inv;
	(void)sched;
	if (!e)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (!o->hook)
		rc = adp_error_set(ADP_EINPUT, "the exec driver needs a hook program");
	else
		rc = orch_exec_init(e, o->hook, state_dir);
	if (rc) {
		free(e);
		return rc;
	}
	orch_exec_driver(d, e);
	*state = e;
	return 0;
}

static void exec_release(void *state)
{
	orch_exec_release(state);
	free(state);
}

const struct orch_driver_info orch_drivers[] = {
	/* config_check: orch_local_config_check (orchestrator/local/driver.h)
	 * is being written on another branch; it takes this slot when it
	 * lands. Until then the local driver checks its sections at apply. */
	{ "local", "this host: partitions as cgroups, components as processes, traffic through HAProxy",
	  local_init, local_release, NULL },
	{ "kubernetes", "nodes as partitions, Deployments and StatefulSets as components, through the Kubernetes API",
	  kube_init, kube_release, orch_kube_config_check },
	{ "exec", "every step run by a hook program of yours (--hook), with a JSON document on its stdin",
	  exec_init, exec_release, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct orch_driver_info *orch_driver_find(const char *name)
{
	const struct orch_driver_info *i;

	for (i = orch_drivers; name && i->name; i++)
		if (!strcmp(i->name, name))
			return i;
	return NULL;
}

void orch_driver_names(char *buf, size_t len)
{
	size_t i, count = 0, used = 0;

	while (orch_drivers[count].name)
		count++;
	if (len)
		buf[0] = '\0';
	for (i = 0; i < count && used + 1 < len; i++) {
		const char *sep = !i ? "" : i + 1 == count ? " or " : ", ";
		int w = snprintf(buf + used, len - used, "%s%s", sep, orch_drivers[i].name);

		if (w < 0)
			break;
		used += (size_t)w; /* past len when cut: the loop ends */
	}
}

int orch_drivers_config_check(const struct inventory *inv)
{
	const struct orch_driver_info *i;
	int rc = 0;

	for (i = orch_drivers; !rc && i->name; i++)
		if (i->config_check)
			rc = i->config_check(inv);
	return rc;
}
