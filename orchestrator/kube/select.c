/* Label selectors, the fate of a drained node's pods and the budgets
 * that can never allow a disruption: no server, no I/O. */
#include "orchestrator/kube/select.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/kube/discover.h"
#include "util/error.h"

/* --- label selectors ----------------------------------------------------- */

static int alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A label name or value: at most 63 characters, alphanumerics at both
 * ends, '-', '_' and '.' between; a value may be empty. */
static int label_word(const char *s, size_t n, int empty_ok)
{
	size_t i;

	if (!n)
		return empty_ok;
	if (n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* A label key: [prefix/]name, the prefix a DNS subdomain. */
static int label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t i;

	if (!slash)
		return label_word(s, strlen(s), 0);
	if (slash == s || slash - s > 253 || s[0] == '-' || s[0] == '.' || slash[-1] == '-' || slash[-1] == '.')
		return 0;
	for (i = 0; s + i < slash; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return label_word(slash + 1, strlen(slash + 1), 0);
}

/* A copy of s[0..n) without the blanks around it. */
static char *trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

static void req_release(struct kube_sel_req *r)
{
	size_t i;

	free(r->key);
	for (i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

void kube_selector_release(struct kube_selector *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		req_release(&s->reqs[i]);
	free(s->reqs);
	free(s->text);
	memset(s, 0, sizeof(*s));
}

static int add_value(struct kube_sel_req *r, const char *v, size_t n)
{
	char **vs = realloc(r->values, (r->nvalues + 1) * sizeof(*vs));

	if (!vs)
		return ADP_ENOMEM;
	r->values = vs;
	if (!(vs[r->nvalues] = trimmed(v, n)))
		return ADP_ENOMEM;
	r->nvalues++;
	return 0;
}

/* "k in (a, b)" or "k notin (a, b)": 1 when term has that form (r
 * filled, or a negative code), 0 when it does not. */
static int set_term(struct kube_sel_req *r, const char *term)
{
	const char *sp = term + strcspn(term, " \t"), *op = sp + strspn(sp, " \t"), *open, *p, *close;
	int rc;

	if (!*sp || (strncmp(op, "in", 2) && strncmp(op, "notin", 5)))
		return 0;
	open = op + (op[0] == 'i' ? 2 : 5);
	open += strspn(open, " \t");
	if (*open != '(')
		return 0;
	if (!(close = strchr(open, ')')) || close[1 + strspn(close + 1, " \t")])
		return ADP_EINPUT;
	r->op = op[0] == 'i' ? KUBE_SEL_IN : KUBE_SEL_NOTIN;
	if (!(r->key = strndup(term, (size_t)(sp - term))))
		return ADP_ENOMEM;
	for (p = open + 1;; p++) {
		const char *end = p + strcspn(p, ",)");

		if ((rc = add_value(r, p, (size_t)(end - p))))
			return rc;
		if (!label_word(r->values[r->nvalues - 1], strlen(r->values[r->nvalues - 1]), 1))
			return ADP_EINPUT;
		if (end >= close)
			break;
		p = end;
	}
	return 1;
}

/* One requirement; *bad names what is wrong. */
static int parse_term(struct kube_sel_req *r, const char *term, const char **bad)
{
	const char *op;
	int rc;

	*bad = "not a requirement such as k=v, k!=v, k, !k or k in (a,b)";
	if (!*term)
		return ADP_EINPUT;
	if (term[0] == '!') {
		r->op = KUBE_SEL_ABSENT;
		if (!(r->key = trimmed(term + 1, strlen(term + 1))))
			return ADP_ENOMEM;
	} else if ((op = strstr(term, "!=")) || (op = strchr(term, '='))) {
		size_t oplen = op[0] == '!' || op[1] == '=' ? 2 : 1;

		r->op = op[0] == '!' ? KUBE_SEL_NE : KUBE_SEL_EQ;
		if (!(r->key = trimmed(term, (size_t)(op - term))) || (rc = add_value(r, op + oplen, strlen(op + oplen))))
			return ADP_ENOMEM;
		*bad = "a label value is at most 63 characters: alphanumerics, '-', '_' and '.', alphanumerics at both ends";
		if (strpbrk(r->values[0], "=!(), ") || !label_word(r->values[0], strlen(r->values[0]), 1))
			return ADP_EINPUT;
	} else if ((rc = set_term(r, term))) {
		*bad = "a set requirement is k in (a,b) or k notin (a,b), with label values";
		if (rc < 0)
			return rc;
	} else {
		r->op = KUBE_SEL_EXISTS;
		if (!(r->key = strdup(term)))
			return ADP_ENOMEM;
	}
	*bad = "a label key is [prefix/]name: a name of at most 63 characters (alphanumerics, '-', '_', '.'), a DNS "
	       "subdomain as the prefix";
	return label_key(r->key) ? 0 : ADP_EINPUT;
}

int kube_selector_parse(struct kube_selector *s, const char *text)
{
	const char *p = text, *bad = NULL;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	if (!text || strlen(text) > KUBE_SEL_MAX_TEXT)
		return adp_error_set(ADP_EINPUT, "label selector longer than %d bytes", KUBE_SEL_MAX_TEXT);
	if (!(s->text = strdup(text)))
		return adp_error_set(ADP_ENOMEM, "out of memory");
	while (!rc && *text && *(p + strspn(p, " \t"))) {
		size_t n = 0;
		int depth = 0;
		char *term;
		struct kube_sel_req *reqs;

		/* A comma inside "in (a,b)" does not end the requirement. */
		while (p[n] && (depth || p[n] != ',')) {
			depth += p[n] == '(' ? 1 : p[n] == ')' ? -1 : 0;
			n++;
		}
		if (!(reqs = realloc(s->reqs, (s->n + 1) * sizeof(*reqs))) || !(term = trimmed(p, n))) {
			if (reqs)
				s->reqs = reqs;
			rc = ADP_ENOMEM;
			break;
		}
		s->reqs = reqs;
		memset(&s->reqs[s->n], 0, sizeof(s->reqs[s->n]));
		s->n++;
		if ((rc = parse_term(&s->reqs[s->n - 1], term, &bad)) == ADP_EINPUT)
			rc = adp_error_set(ADP_EINPUT, "label selector '%s': '%s': %s", text, term, bad);
		free(term);
		if (!p[n])
			break;
		p += n + 1;
		if (!rc && !*(p + strspn(p, " \t")))
			rc = adp_error_set(ADP_EINPUT, "label selector '%s': ends with a comma", text);
	}
	if (rc == ADP_ENOMEM)
		adp_error_set(ADP_ENOMEM, "out of memory");
	if (rc)
		kube_selector_release(s);
	return rc;
}

static int in_values(const struct kube_sel_req *r, const char *v)
{
	size_t i;

	for (i = 0; v && i < r->nvalues; i++)
		if (!strcmp(r->values[i], v))
			return 1;
	return 0;
}

int kube_selector_match(const struct kube_selector *s, json_t *labels)
{
	size_t i;

	for (i = 0; s && i < s->n; i++) {
		const struct kube_sel_req *r = &s->reqs[i];
		json_t *l = json_object_get(labels, r->key);
		const char *v = json_string_value(l);
		int ok;

		switch (r->op) {
		case KUBE_SEL_EQ: ok = v && !strcmp(v, r->values[0]); break;
		case KUBE_SEL_NE: ok = !v || strcmp(v, r->values[0]); break;
		case KUBE_SEL_EXISTS: ok = l != NULL; break;
		case KUBE_SEL_ABSENT: ok = l == NULL; break;
		case KUBE_SEL_IN: ok = in_values(r, v); break;
		default: ok = !in_values(r, v); break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

static int in_json(json_t *values, const char *v)
{
	json_t *x;
	size_t i;

	json_array_foreach(values, i, x)
		if (v && json_string_value(x) && !strcmp(json_string_value(x), v))
			return 1;
	return 0;
}

int kube_label_selector_match(json_t *selector, json_t *labels)
{
	json_t *e, *v;
	const char *k;
	size_t i;

	if (!json_is_object(selector))
		return 0;
	json_object_foreach(json_object_get(selector, "matchLabels"), k, v) {
		const char *have = json_string_value(json_object_get(labels, k));

		if (!have || !json_string_value(v) || strcmp(have, json_string_value(v)))
			return 0;
	}
	json_array_foreach(json_object_get(selector, "matchExpressions"), i, e) {
		const char *key = json_string_value(json_object_get(e, "key")), *op = json_string_value(json_object_get(e, "operator"));
		json_t *vals = json_object_get(e, "values");
		const char *have = key ? json_string_value(json_object_get(labels, key)) : NULL;
		int ok;

		if (!key || !op)
			return 0;
		if (!strcmp(op, "In"))
			ok = in_json(vals, have);
		else if (!strcmp(op, "NotIn"))
			ok = !in_json(vals, have);
		else if (!strcmp(op, "Exists"))
			ok = json_object_get(labels, key) != NULL;
		else if (!strcmp(op, "DoesNotExist"))
			ok = json_object_get(labels, key) == NULL;
		else
			ok = 0;
		if (!ok)
			return 0;
	}
	return 1;
}

/* --- the pods of a drained node ------------------------------------------ */

static json_t *controller_ref(json_t *pod)
{
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "metadata"), "ownerReferences"), i, r)
		if (json_is_true(json_object_get(r, "controller")))
			return r;
	return NULL;
}

int kube_pod_has_controller(json_t *pod)
{
	return controller_ref(pod) != NULL;
}

int kube_pod_daemon(json_t *pod)
{
	const char *kind = json_string_value(json_object_get(controller_ref(pod), "kind"));

	return kind && !strcmp(kind, "DaemonSet");
}

int kube_pod_emptydir(json_t *pod)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "volumes"), i, v)
		if (json_object_get(v, "emptyDir"))
			return 1;
	return 0;
}

enum kube_pod_fate kube_drain_fate(json_t *pod, const struct kube_drain_rules *r)
{
	json_t *md = json_object_get(pod, "metadata");
	const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));

	if (kube_pod_daemon(pod))
		return KUBE_FATE_SKIP_DAEMON;
	if (json_object_get(json_object_get(md, "annotations"), "kubernetes.io/config.mirror"))
		return KUBE_FATE_SKIP_MIRROR;
	if (json_object_get(json_object_get(md, "labels"), KUBE_SHADOW_LABEL))
		return KUBE_FATE_SKIP_SHADOW;
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return KUBE_FATE_SKIP_FINISHED;
	if (r && !kube_selector_match(r->pod_selector, json_object_get(md, "labels")))
		return KUBE_FATE_SKIP_SELECTOR;
	if (kube_pod_emptydir(pod) && !(r && r->delete_emptydir_data))
		return KUBE_FATE_REFUSE_EMPTYDIR;
	if (!kube_pod_has_controller(pod))
		return r && r->force ? KUBE_FATE_DELETE : KUBE_FATE_REFUSE_BARE;
	return r && r->disable_eviction ? KUBE_FATE_DELETE : KUBE_FATE_EVICT;
}

/* --- budgets that never allow a disruption -------------------------------- */

/* An IntOrString of a budget: *pct set for "N%". 0, or -1 when malformed. */
static int int_or_percent(json_t *v, long long *out, int *pct)
{
	const char *s = json_string_value(v);
	char *end;

	*pct = 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return *out < 0 ? -1 : 0;
	}
	if (!s || !*s)
		return -1;
	*out = strtoll(s, &end, 10);
	if (end == s || strcmp(end, "%") || *out < 0)
		return -1;
	*pct = 1;
	return 0;
}

int kube_pdb_never_allows(json_t *pdb, size_t most, char *why, size_t len)
{
	json_t *spec = json_object_get(pdb, "spec"), *mu = json_object_get(spec, "maxUnavailable"),
	       *ma = json_object_get(spec, "minAvailable");
	long long v, need;
	int pct;

	if (mu && !json_is_null(mu)) {
		if (int_or_percent(mu, &v, &pct) || v > 0)
			return 0;
		snprintf(why, len, "maxUnavailable %s", pct ? "0%" : "0");
		return 1;
	}
	if (!ma || json_is_null(ma) || int_or_percent(ma, &v, &pct))
		return 0;
	/* A percentage of the pods, rounded up, as the disruption controller does. */
	need = pct ? (v * (long long)most + 99) / 100 : v;
	if (need < (long long)most)
		return 0;
	if (pct)
		snprintf(why, len, "minAvailable %lld%% (%lld) of at most %zu matching pods", v, need, most);
	else
		snprintf(why, len, "minAvailable %lld of at most %zu matching pods", v, most);
	return 1;
}
