/* The update of a node (run_update): the node is cordoned, then the
 * schedule's update command runs in a privileged Job pinned to it
 * (--update-image), or here as an external hook with ADPART_PARTITION
 * set to the node. A failed update gives the node its prior state. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orchestrator/kube/driver_int.h"
#include "util/error.h"

json_t *orch_kube_update_job(const char *name, const char *ns, const char *node, const char *image,
			     char *const argv[], int64_t deadline, int backoff_limit)
{
	json_t *cmd = json_array(), *spec = NULL;
	size_t i;
	int err = !cmd;

	for (i = 0; argv && argv[i]; i++)
		err |= json_array_append_new(cmd, json_string(argv[i]));
	if (!err)
		spec = json_pack("{s:s, s:b, s:[{s:s}], s:[{s:s, s:s, s:O, s:[{s:s, s:s}], s:{s:b}, s:[{s:s, s:s}]}],"
				 " s:[{s:s, s:{s:s}}]}",
				 "restartPolicy", "Never", "hostPID", 1, "tolerations", "operator", "Exists", "containers",
				 "name", "update", "image", image, "command", cmd, "env", "name", "ADPART_PARTITION",
				 "value", node, "securityContext", "privileged", 1, "volumeMounts", "name", "host",
				 "mountPath", "/host", "volumes", "name", "host", "hostPath", "path", "/");
	json_decref(cmd);
	if (!spec || kube_pin(spec, node)) {
		json_decref(spec);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i, s:I, s:i, s:{s:{s:{s:s}}, s:o}}}", "apiVersion",
			 "batch/v1", "kind", "Job", "metadata", "name", name, "namespace", ns, "labels",
			 "adpart-update.io/node", node, "spec", "backoffLimit", backoff_limit, "activeDeadlineSeconds",
			 (json_int_t)deadline, "ttlSecondsAfterFinished", 86400, "template", "metadata", "labels",
			 "adpart-update.io/node", node, "spec", spec);
}

/* "adp-update-<node>-<digest>": the node's dots made dashes, within the
 * 63 characters of a label value. */
void kube_job_name(char *out, size_t len, const char *node, const char *digest)
{
	char n[48];
	size_t i;

	snprintf(n, sizeof(n), "%.42s", node);
	for (i = 0; n[i]; i++)
		if (n[i] == '.')
			n[i] = '-';
	while (i && n[i - 1] == '-')
		n[--i] = '\0';
	snprintf(out, len, "adp-update-%s-%.8s", n, digest);
}

/* The reason of the Job's Failed condition, or NULL while it has none. */
static const char *job_failed(json_t *status)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(status, "conditions"), i, c)
		if (kube_str(c, "type") && !strcmp(kube_str(c, "type"), "Failed") && kube_str(c, "status") &&
		    !strcmp(kube_str(c, "status"), "True"))
			return kube_str(c, "reason") ?: "Failed";
	return NULL;
}

/* Polls the Job until it succeeded or failed, for its deadline (the
 * step's timeout) and 30 s more for its pod to start. */
static int wait_job(struct orch_kube *d, const char *ns, const char *name, const char *node, int64_t timeout,
		    char *msg, size_t len)
{
	int64_t deadline = kube_now_ms() + (timeout + 30) * 1000;
	const char *failed;
	char path[512];
	json_t *job = NULL, *st;
	int rc;

	snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs/%s", ns, name);
	for (;;) {
		if ((rc = kube_get(d->k, path, &job)))
			break;
		st = json_object_get(job, "status");
		if (json_integer_value(json_object_get(st, "succeeded")) > 0) {
			snprintf(msg, len, "update Job '%s/%s' succeeded on node '%s'", ns, name, node);
			break;
		}
		if ((failed = job_failed(st))) {
			rc = adp_error_set(ADP_ESYS, "update Job '%s/%s' failed on node '%s': %s", ns, name, node, failed);
			break;
		}
		json_decref(job);
		job = NULL;
		if (kube_now_ms() >= deadline) {
			rc = adp_error_set(ADP_ESYS, "update Job '%s/%s' did not finish in %llds", ns, name, (long long)timeout);
			break;
		}
		if ((rc = kube_pause(d, d->o.poll_ms)))
			break;
	}
	json_decref(job);
	return kube_wait_error(d, rc, "the update Job '%s/%s' on node '%s'", ns, name, node);
}

static int run_job(struct orch_kube *d, const struct plan *p, const struct plan_step *s, int64_t timeout, char *msg,
		   size_t len)
{
	const char *ns = d->o.job_namespace;
	char name[96], path[512];
	json_t *job, *ans = NULL;
	long st = 0;
	int rc;

	kube_job_name(name, sizeof(name), s->partition, p->digest);
	if (!(job = orch_kube_update_job(name, ns, s->partition, d->o.update_image, d->sched ? d->sched->update_argv : NULL,
					 timeout, d->o.job_backoff_limit)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "/apis/batch/v1/namespaces/%s/jobs", ns);
	rc = kube_request(d->k, "POST", path, NULL, job, &st, &ans);
	json_decref(job);
	json_decref(ans);
	if (!rc && st != 201 && st != 409) /* 409: created before a crash; wait for it */
		rc = adp_error_set(ADP_ESYS, "kubernetes: cannot create the update Job '%s/%s': HTTP %ld: %s", ns, name, st,
				   d->k->last_error);
	return rc ? rc : wait_job(d, ns, name, s->partition, timeout, msg, len);
}

/* The schedule's update command, run here with ADPART_PARTITION set to
 * the node (its output in DIR/logs/kube-update.log), killed with its
 * process group at the timeout or when the act is cancelled. */
static int run_hook(struct orch_kube *d, const struct plan_step *s, int64_t timeout, char *msg, size_t len)
{
	int64_t deadline = kube_now_ms() + timeout * 1000;
	char *const *argv = d->sched->update_argv;
	int logfd, st = 0, rc = 0;
	pid_t pid;

	if ((logfd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0)
		return adp_error_set(ADP_ESYS, "cannot open '%s': %s", d->log_path, strerror(errno));
	if ((pid = fork()) < 0) {
		close(logfd);
		return adp_error_set(ADP_ESYS, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(nul, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		setenv("ADPART_PARTITION", s->partition, 1);
		setenv("ADPART_DRIVER", "kubernetes", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(logfd);
	while (!rc && waitpid(pid, &st, WNOHANG) == 0) {
		if (kube_now_ms() >= deadline)
			rc = adp_error_set(ADP_ESYS, "update command '%s' for node '%s' timed out after %llds", argv[0],
					   s->partition, (long long)timeout);
		else
			rc = kube_pause(d, 100);
	}
	if (rc) {
		kill(-pid, SIGKILL);
		waitpid(pid, &st, 0);
		rc = kube_wait_error(d, rc, "the update command '%s' for node '%s'", argv[0], s->partition);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		rc = adp_error_set(ADP_ESYS, "update command '%s' for node '%s': exit status %d (output in '%s')", argv[0],
				   s->partition, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), d->log_path);
	} else {
		snprintf(msg, len, "update command ran for node '%s'", s->partition);
	}
	return rc;
}

/* run_update: the node is cordoned (also when nothing moves off it) and
 * drained of the pods no step moved (kubectl drain's rules) before its
 * update. */
int kube_op_run_update(void *ctx, const struct plan *p, const struct plan_step *s, char *msg, size_t len)
{
	struct orch_kube *d = kube_begin(ctx);
	int64_t t = kube_step_timeout(s);
	char c[768] = "";
	int rc;

	if ((rc = kube_cordon(d, s->partition, c, sizeof(c))))
		return rc;
	d->drain_late = 0;
	if ((rc = kube_drain_node(d, s, c, sizeof(c))))
		return (rc = kube_drain_end(d, s->partition, rc)) == ORCH_ACT_STOP || rc == ORCH_ACT_SKIP
			       ? rc
			       : kube_restore_node(d, s->partition, rc);
	if (d->o.update_image)
		rc = run_job(d, p, s, t, msg, len);
	else if (d->sched && d->sched->update_argv)
		rc = run_hook(d, s, t, msg, len);
	else
		rc = adp_error_set(ADP_EINPUT, "no update action for node '%s'", s->partition);
	if (!rc)
		kube_append(msg, len, "%s", c);
	/* The run rolls back: the node gets its prior state again. */
	return rc ? kube_restore_node(d, s->partition, rc) : 0;
}
