/* apply's gates: firing alerts from Prometheus's /api/v1/alerts, and a
 * per-partition sentinel (a file or a command) saying an update is
 * needed. Every gate fails closed. */
#include "orchestrator/gates.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/http.h"

extern char **environ;

#define GATE_SECRET_MAX 16384
#define GATE_MAX_ALERTS 100000

/* Whether name matches one of the n extended regular expressions. */
static int matches(char *const *res, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		regex_t re;
		int hit;

		if (regcomp(&re, res[i], REG_EXTENDED | REG_NOSUB))
			continue; /* checked when the schedule was read */
		hit = !regexec(&re, name, 0, NULL, 0);
		regfree(&re);
		if (hit)
			return 1;
	}
	return 0;
}

/* kured's semantics: an alert blocks when it is firing (or pending, when
 * asked), its name is not ignored, matches names when any are given, and
 * carries every label given. */
static int blocks(const struct schedule_alert_gate *a, json_t *alert)
{
	json_t *labels = json_object_get(alert, "labels");
	const char *name = json_string_value(json_object_get(labels, "alertname"));
	const char *state = json_string_value(json_object_get(alert, "state"));
	size_t i;

	if (!name || !state || (strcmp(state, "firing") && !(a->pending && !strcmp(state, "pending"))))
		return 0;
	if (matches(a->ignore, a->nignore, name) || (a->nnames && !matches(a->names, a->nnames, name)))
		return 0;
	for (i = 0; i < a->nlabels; i++) {
		const char *v = json_string_value(json_object_get(labels, a->label_keys[i]));

		if (!v || strcmp(v, a->label_values[i]))
			return 0;
	}
	return 1;
}

/* "NAME{k="v", ...} is firing" into why. */
static void describe(json_t *alert, char *why, size_t len)
{
	json_t *labels = json_object_get(alert, "labels"), *v;
	const char *k;
	size_t n;
	int first = 1;

	n = (size_t)snprintf(why, len, "alert %s{", json_string_value(json_object_get(labels, "alertname")));
	json_object_foreach(labels, k, v) {
		if (!strcmp(k, "alertname") || !json_is_string(v) || n >= len)
			continue;
		n += (size_t)snprintf(why + n, len - n, "%s%s=\"%s\"", first ? "" : ", ", k, json_string_value(v));
		first = 0;
	}
	if (n < len)
		snprintf(why + n, len - n, "} is %s", json_string_value(json_object_get(alert, "state")));
}

int orch_gate_alerts(const struct schedule_alert_gate *a, char *why, size_t len)
{
	struct adp_http_opts ho = { .what = "the alert gate's Prometheus", .ca_file = a->ca_file };
	struct adp_http_req r = { 0 };
	struct adp_http_res res = { 0 };
	struct adp_http http = { 0 };
	struct adp_buf body = { 0 };
	char *url = NULL, *token = NULL, shown[512];
	json_t *doc = NULL, *alerts, *al;
	json_error_t e;
	size_t i;
	int rc;

	ho.timeout = (long)a->timeout;
	ho.connect_timeout = (long)a->timeout;
	adp_url_redact(shown, sizeof(shown), a->url);
	if (asprintf(&url, "%s%sapi/v1/alerts", a->url, a->url[strlen(a->url) - 1] == '/' ? "" : "/") < 0)
		return adp_error_set(ADP_ENOMEM, "out of memory");
	if (a->bearer_token_file &&
	    (rc = adp_read_secret(&token, a->bearer_token_file, GATE_SECRET_MAX, "the alert gate's bearer token file")))
		goto done;
	adp_http_global_init();
	if ((rc = adp_http_init(&http, &ho)))
		goto done;
	r.url = url;
	r.bearer = token;
	r.max_bytes = ORCH_GATE_MAX_BYTES;
	r.retries = 2;
	if ((rc = adp_http_request(&http, &r, &body, &res)))
		goto done;
	if (res.status != 200) {
		rc = adp_error_set(ADP_ESYS, "the alert gate's Prometheus '%s' answered HTTP %ld", shown, res.status);
		goto done;
	}
	doc = json_loadb(body.data ? body.data : "", body.len, 0, &e);
	alerts = json_object_get(json_object_get(doc, "data"), "alerts");
	if (!doc || !json_is_array(alerts) || json_array_size(alerts) > GATE_MAX_ALERTS ||
	    strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "success")) {
		rc = adp_error_set(ADP_ESYS, "the alert gate's Prometheus '%s' gave no alert list (%s)", shown,
				   doc ? "no data.alerts" : e.text);
		goto done;
	}
	json_array_foreach(alerts, i, al) {
		if (blocks(a, al)) {
			describe(al, why, len);
			rc = 1;
			goto done;
		}
	}
	rc = 0;
done:
	json_decref(doc);
	adp_buf_release(&body);
	adp_http_release(&http);
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	free(url);
	return rc;
}

/* tmpl with every "{partition}" replaced by part, into out. */
static int expand(char *out, size_t len, const char *tmpl, const char *part)
{
	static const char key[] = "{partition}";
	size_t n = 0;
	const char *p;

	for (p = tmpl; *p;) {
		const char *add = p;
		size_t k = 1;

		if (!strncmp(p, key, sizeof(key) - 1)) {
			add = part;
			k = strlen(part);
			p += sizeof(key) - 1;
		} else {
			p++;
		}
		if (n + k >= len)
			return adp_error_set(ADP_EINPUT, "sentinel '%s' for '%s' is longer than %zu bytes", tmpl, part,
					     len - 1);
		memcpy(out + n, add, k);
		n += k;
	}
	out[n] = '\0';
	return 0;
}

/* Runs argv (stdin, stdout and stderr on /dev/null, its own process
 * group) for at most timeout seconds; *status its exit status. */
static int run_bounded(char *const argv[], int64_t timeout, int *status)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct timespec t0, t;
	pid_t pid;
	int st, err, i;

	posix_spawn_file_actions_init(&fa);
	for (i = 0; i < 3; i++)
		posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i ? O_WRONLY : O_RDONLY, 0);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	err = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (err)
		return adp_error_set(ADP_ESYS, "sentinel command '%s' cannot start: %s", argv[0], strerror(err));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return adp_error_set(ADP_ESYS, "cannot wait for sentinel command '%s': %s", argv[0],
					     strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= timeout) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			return adp_error_set(ADP_ESYS, "sentinel command '%s' timed out after %llds", argv[0],
					     (long long)timeout);
		}
		nanosleep(&(struct timespec){ 0, 20000000L }, NULL);
	}
	if (!WIFEXITED(st))
		return adp_error_set(ADP_ESYS, "sentinel command '%s' was killed by signal %d", argv[0], WTERMSIG(st));
	*status = WEXITSTATUS(st);
	return 0;
}

int orch_gate_sentinel(const struct schedule_sentinel *s, const char *partition)
{
	char path[4096], **argv;
	size_t i;
	int rc, status = -1;

	if (s->file) {
		struct stat sb;

		if ((rc = expand(path, sizeof(path), s->file, partition)))
			return rc;
		if (!stat(path, &sb))
			return 1;
		if (errno == ENOENT)
			return 0;
		return adp_error_set(ADP_ESYS, "sentinel file '%s' cannot be checked: %s", path, strerror(errno));
	}
	if (!(argv = calloc(s->argc + 1, sizeof(char *))))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	for (i = 0, rc = 0; i < s->argc && !rc; i++) {
		if (!(rc = expand(path, sizeof(path), s->argv[i], partition)) && !(argv[i] = strdup(path)))
			rc = adp_error_set(ADP_ENOMEM, "out of memory");
	}
	if (!rc && !(rc = run_bounded(argv, s->timeout, &status)) && status != 0 && status != 1)
		rc = adp_error_set(ADP_ESYS, "sentinel command '%s' for '%s' exited %d: expected 0 (update needed) "
				   "or 1 (not needed)", argv[0], partition, status);
	for (i = 0; i < s->argc; i++)
		free(argv[i]);
	free(argv);
	return rc ? rc : status == 0;
}

enum orch_gate orch_gates_check(const struct schedule_gates *g, const struct plan *p, size_t wave, char *why,
				size_t len)
{
	const struct plan_wave *w = wave >= 1 && wave <= p->nwaves ? &p->waves[wave - 1] : NULL;
	size_t i, n = 0, needed = 0;
	int rc;

	why[0] = '\0';
	if (!g)
		return ORCH_GATE_OPEN;
	if (g->alerts.url && (rc = orch_gate_alerts(&g->alerts, why, len))) {
		if (rc < 0)
			snprintf(why, len, "no answer from the alert gate (fails closed): %s", adp_error_last());
		adp_error_clear();
		return ORCH_GATE_BLOCKED;
	}
	if (!w || (!g->sentinel.file && !g->sentinel.argc))
		return ORCH_GATE_OPEN;
	for (i = 0; i < w->noffline; i++) {
		if ((rc = orch_gate_sentinel(&g->sentinel, w->offline[i])) < 0) {
			snprintf(why, len, "no answer from the sentinel of '%s' (fails closed): %s", w->offline[i],
				 adp_error_last());
			adp_error_clear();
			return ORCH_GATE_BLOCKED;
		}
		needed += (size_t)rc;
	}
	if (needed)
		return ORCH_GATE_OPEN;
	n = (size_t)snprintf(why, len, "no partition of wave %zu needs the update (sentinel):", wave);
	for (i = 0; i < w->noffline && n < len; i++)
		n += (size_t)snprintf(why + n, len - n, " %s", w->offline[i]);
	return ORCH_GATE_SKIP;
}
