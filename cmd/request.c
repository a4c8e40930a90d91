/* adpart-update request COMPONENT: a component asks the running apply
 * for more of a resource for a while (the request API,
 * orchestrator/request.h). */
#include <argp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "orchestrator/request.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/resource.h"
#include "util/timeutil.h"

/* How long to wait for the answer: apply answers within a tenth of a
 * second while a step runs, but a step boundary can take a little. */
#define REQUEST_TIMEOUT_MS 30000

struct request_args {
	const char *component, *state_dir, *socket, *why;
	int resource, json, priority;
	double amount;
	long replica;
	int64_t for_s;
};

enum { OPT_CPU = 1000, OPT_MEMORY, OPT_IO, OPT_FOR, OPT_PRIORITY, OPT_WHY, OPT_REPLICA, OPT_SOCKET };

static const struct argp_option options[] = {
	{ "cpu", OPT_CPU, "CORES", 0, "Ask for this many more cores (such as 0.5)", 0 },
	{ "memory", OPT_MEMORY, "SIZE", 0, "Ask for this much more memory (such as 256MiB)", 0 },
	{ "io", OPT_IO, "RATE", 0, "Ask for this much more disk I/O (such as 10MiB/s)", 0 },
	{ "for", OPT_FOR, "DURATION", 0, "For this long, at most 1h (default 10m)", 0 },
	{ "priority", OPT_PRIORITY, "N", 0,
	  "0 to 9 (default 1): a neighbour up to N-1 tiers more critical than the caller may lend (0: only less "
	  "critical ones; the partition's headroom always may)", 0 },
	{ "why", OPT_WHY, "TEXT", 0, "The reason, journaled (required, at most 200 bytes)", 0 },
	{ "replica", OPT_REPLICA, "N", 0, "The component's replica (default: the one the caller is a process of)", 0 },
	{ "state-dir", 'd', "DIR", 0,
	  "The running apply's state directory, whose " ORCH_REQ_SOCKET_NAME " is asked (default as apply's)", 0 },
	{ "socket", OPT_SOCKET, "PATH", 0, "Ask the apply listening here instead (apply's --request-socket)", 0 },
	{ "output", 'o', "FORMAT", 0, "human (default) or json: apply's answer as it came", 0 },
	{ 0 },
};

static void set_amount(struct argp_state *state, struct request_args *a, int r, const char *opt, const char *arg)
{
	char *end = NULL;

	if (a->resource >= 0)
		argp_error(state, "ask for one resource at a time: --cpu, --memory or --io");
	a->resource = r;
	if (r == ADP_RES_CPU)
		a->amount = strtod(arg, &end);
	else if (adp_quantity_parse(&a->amount, arg))
		end = NULL;
	else
		end = "";
	if (!end || *end || !(a->amount > 0) || a->amount > 1e15)
		argp_error(state, "%s '%s': expected %s above 0", opt, arg,
			   r == ADP_RES_CPU ? "cores" : r == ADP_RES_MEMORY ? "a size such as 256MiB" : "a rate such as 10MiB/s");
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct request_args *a = state->input;
	char *end = NULL;

	switch (key) {
	case OPT_CPU: set_amount(state, a, ADP_RES_CPU, "--cpu", arg); break;
	case OPT_MEMORY: set_amount(state, a, ADP_RES_MEMORY, "--memory", arg); break;
	case OPT_IO: set_amount(state, a, ADP_RES_IO, "--io", arg); break;
	case OPT_FOR:
		if (adp_duration_parse(&a->for_s, arg) || a->for_s < 1 || a->for_s > ORCH_REQ_FOR_MAX)
			argp_error(state, "--for '%s': expected a duration from 1s to 1h, such as 10m", arg);
		break;
	case OPT_PRIORITY:
		a->priority = (int)strtol(arg, &end, 10);
		if (!end || *end || !*arg || a->priority < 0 || a->priority > ORCH_REQ_PRIORITY_MAX)
			argp_error(state, "--priority '%s': expected 0 to %d", arg, ORCH_REQ_PRIORITY_MAX);
		break;
	case OPT_WHY:
		if (!*arg || strlen(arg) > ORCH_REQ_WHY_MAX)
			argp_error(state, "--why: expected 1 to %d bytes of text", ORCH_REQ_WHY_MAX);
		a->why = arg;
		break;
	case OPT_REPLICA:
		a->replica = strtol(arg, &end, 10);
		if (!end || *end || !*arg || a->replica < 0 || a->replica > 100000)
			argp_error(state, "--replica '%s': expected 0 to 100000", arg);
		break;
	case 'd': a->state_dir = arg; break;
	case OPT_SOCKET: a->socket = arg; break;
	case 'o': a->json = cmd_argp_output(state, arg); break;
	case ARGP_KEY_ARG:
		if (a->component)
			argp_error(state, "name one component");
		a->component = arg;
		break;
	case ARGP_KEY_END:
		if (!a->component)
			argp_error(state, "name the component that asks");
		if (strlen(a->component) > ORCH_REQ_COMPONENT_MAX)
			argp_error(state, "the component's name is longer than %d bytes", ORCH_REQ_COMPONENT_MAX);
		if (a->resource < 0)
			argp_error(state, "say what is asked for: --cpu, --memory or --io");
		if (!a->why)
			argp_error(state, "say why with --why TEXT: the reason is journaled");
		if (a->socket && a->state_dir)
			argp_error(state, "--socket and --state-dir exclude each other");
		if (!a->state_dir && !(a->state_dir = cmd_setting(CMD_KEY_STATE_DIR)))
			a->state_dir = CMD_STATE_DIR;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_request_argp = {
	options, parse, "COMPONENT",
	"Ask the apply running on this host for more of a resource for a while, as one of COMPONENT's processes: "
	"apply checks the caller's credentials against the component's instance, lends from the partition's "
	"headroom and then from its neighbours, journals the request and gives it back when it expires.\v"
	"Exit status: 0 granted, 2 partly granted, 3 refused (the reason on stderr), 1 no apply answered or the "
	"request was not understood, 64 usage.",
	NULL, NULL, NULL,
};

int cmd_request(int argc, char **argv)
{
	struct request_args a = { .resource = -1, .priority = 1, .replica = -1, .for_s = 600 };
	char path[4200], ans[2048], amt[48], lim[48];
	json_t *q = NULL, *r = NULL;
	const char *state, *reason;
	char *line = NULL;
	json_error_t e;
	int parsed, rc = EXIT_ERROR;

	if ((parsed = cmd_parse(&cmd_request_argp, argc, argv, 0, &a)))
		return parsed;
	if (a.socket)
		snprintf(path, sizeof(path), "%s", a.socket);
	else if (adp_snprintf_path(path, sizeof(path), "%s/%s", a.state_dir, ORCH_REQ_SOCKET_NAME)) {
		cmd_error_last(NULL);
		return EXIT_ERROR;
	}
	q = json_pack("{s:s, s:s, s:f, s:I, s:i, s:s}", "component", a.component, "resource",
		      adp_resource_name(a.resource), "amount", a.amount, "for", (json_int_t)a.for_s, "priority",
		      a.priority, "why", a.why);
	if (q && a.replica >= 0 && json_object_set_new(q, "replica", json_integer(a.replica)))
		json_decref(q), q = NULL;
	if (!q || !(line = json_dumps(q, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		cmd_error("out of memory");
		goto done;
	}
	if (orch_request_send(path, line, ans, sizeof(ans), REQUEST_TIMEOUT_MS)) {
		cmd_error_last(NULL);
		goto done;
	}
	if (!(r = json_loads(ans, 0, &e)) || !(state = json_string_value(json_object_get(r, "state")))) {
		cmd_error("the apply on '%s' answered what is not an answer: %.200s", path, ans);
		goto done;
	}
	reason = json_string_value(json_object_get(r, "reason"));
	rc = !strcmp(state, "granted") ? EXIT_OK : !strcmp(state, "partial") ? EXIT_PARTIAL
		: !strcmp(state, "refused") ? EXIT_DENIED : EXIT_ERROR;
	if (a.json) {
		printf("%s\n", ans);
	} else if (rc == EXIT_OK || rc == EXIT_PARTIAL) {
		int64_t until = json_integer_value(json_object_get(r, "expires_at"));
		char at[64];

		cmd_format_amount(amt, a.resource, json_number_value(json_object_get(r, "granted")));
		cmd_format_amount(lim, a.resource, json_number_value(json_object_get(r, "limit")));
		adp_time_format_msg(at, until, NULL);
		printf("%s: %s for '%s' (request %lld), its limit now %s, until %s\n", state, amt, a.component,
		       (long long)json_integer_value(json_object_get(r, "id")), lim, at);
	}
	if (rc == EXIT_PARTIAL && reason)
		cmd_note("%s", reason);
	else if (rc == EXIT_DENIED)
		cmd_error("refused: %s", reason ? reason : "no reason given");
	else if (rc == EXIT_ERROR)
		cmd_error("the request was not understood: %s", reason ? reason : ans);
done:
	free(line);
	json_decref(q);
	json_decref(r);
	return rc;
}
