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

static int local_init(void *state, struct orch_driver *d, const struct inventory *inv, const struct schedule *sched,
		      const char *state_dir, const struct orch_driver_opts *o)
{
	int rc = orch_local_init(state, inv, sched, state_dir);

	(void)o;
	if (!rc)
		orch_local_driver(d, state);
	return rc;
}

static void local_release(void *state)
{
	orch_local_release(state);
}

/* The kubernetes driver borrows its client: both live in its state. */
struct kube_state {
	struct kube_client k;
	struct orch_kube d;
};

static int kube_init(void *state, struct orch_driver *d, const struct inventory *inv, const struct schedule *sched,
		     const char *state_dir, const struct orch_driver_opts *o)
{
	struct kube_state *ks = state;
	struct kube_config cfg = { 0 };
	int rc;

	if ((rc = kube_config_auto(&cfg, o->kubeconfig, o->kube_context, o->kube_sa_dir)) ||
	    (rc = kube_client_init(&ks->k, &cfg))) {
		kube_config_release(&cfg);
		return rc;
	}
	if ((rc = orch_kube_init(&ks->d, &ks->k, inv, sched, state_dir, &o->kube)))
		kube_client_release(&ks->k);
	else
		orch_kube_driver(d, &ks->d);
	return rc;
}

static void kube_release(void *state)
{
	struct kube_state *ks = state;

	orch_kube_release(&ks->d);
	kube_client_release(&ks->k);
}

static int kube_dry_run(void *state, const struct plan *p, json_t **report)
{
	return orch_kube_dry_run(&((struct kube_state *)state)->d, p, report);
}

static int exec_init(void *state, struct orch_driver *d, const struct inventory *inv, const struct schedule *sched,
		     const char *state_dir, const struct orch_driver_opts *o)
{
	int rc;

	(void)inv;
	(void)sched;
	if (!o->hook)
		return adp_error_set(ADP_EINPUT, "the exec driver needs a hook program");
	if (!(rc = orch_exec_init(state, o->hook, state_dir)))
		orch_exec_driver(d, state);
	return rc;
}

static void exec_release(void *state)
{
	orch_exec_release(state);
}

const struct orch_driver_info orch_drivers[] = {
	{ "local", "this host: partitions as cgroups, components as processes, traffic through HAProxy",
	  sizeof(struct orch_local), local_init, local_release, orch_local_config_check, NULL },
	{ "kubernetes", "nodes as partitions, Deployments and StatefulSets as components, through the Kubernetes API",
	  sizeof(struct kube_state), kube_init, kube_release, orch_kube_config_check, kube_dry_run },
	{ "exec", "every step run by a hook program of yours (--hook), with a JSON document on its stdin",
	  sizeof(struct orch_exec), exec_init, exec_release, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL, NULL, NULL },
};

const struct orch_driver_info *orch_driver_find(const char *name)
{
	const struct orch_driver_info *i;

	for (i = orch_drivers; name && i->name; i++)
		if (!strcmp(i->name, name))
			return i;
	return NULL;
}

int orch_driver_new(void **state, struct orch_driver *d, const struct orch_driver_info *i,
		    const struct inventory *inv, const struct schedule *sched, const char *state_dir,
		    const struct orch_driver_opts *o)
{
	static const struct orch_driver_opts none;
	void *s = calloc(1, i->state_size);
	int rc;

	if (!s)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if ((rc = i->init(s, d, inv, sched, state_dir, o ? o : &none))) {
		free(s);
		return rc;
	}
	*state = s;
	return 0;
}

void orch_driver_free(const struct orch_driver_info *i, void *state)
{
	if (!state)
		return;
	i->release(state);
	free(state);
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

const struct kube_config *orch_driver_kube_config(const struct orch_driver_info *i, void *state)
{
	return i && state && i->init == kube_init ? &((struct kube_state *)state)->k.cfg : NULL;
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
