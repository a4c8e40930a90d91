/* adpart-update history and show: read the plan store. */
#include <argp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "plans/store.h"
#include "util/error.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

const struct argp_option cmd_store_options[] = {
	{ "store", 'S', "DIR", 0, "The plan store (default: $ADPART_STORE)", 0 },
	{ 0 },
};

error_t cmd_store_parse(int key, char *arg, struct argp_state *state)
{
	struct cmd_store_args *a = state->input;

	switch (key) {
	case 'S': a->store = arg; break;
	case ARGP_KEY_INIT: state->child_inputs[0] = &a->json; break;
	case ARGP_KEY_ARG:
		if (a->nref == a->want)
			argp_error(state, "unexpected argument '%s'", arg);
		a->ref[a->nref++] = arg;
		break;
	case ARGP_KEY_END:
		if (!a->store && !(a->store = getenv("ADPART_STORE")))
			argp_error(state, "--store or ADPART_STORE is required");
		if (a->nref != a->want)
			argp_error(state, a->want == 1 ? "a REF is required" : "two plans A and B are required");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_history_argp = {
	cmd_store_options, cmd_store_parse, NULL,
	"List the plans and runs recorded in the plan store, newest first, with outcome.", cmd_output_children, NULL, NULL,
};

const struct argp cmd_show_argp = {
	cmd_store_options, cmd_store_parse, "REF",
	"Show a stored plan or run: REF is a commit from 'history' (or any git revision such as HEAD~1) "
	"or SCHEDULE/SERIAL for a recorded plan.", cmd_output_children, NULL, NULL,
};

int cmd_history(int argc, char **argv)
{
	struct cmd_store_args a = { 0 };
	struct plan_store *s = NULL;
	struct plan_store_entry *v = NULL;
	size_t n = 0, i;
	int parsed, rc = EXIT_OK;

	if ((parsed = cmd_parse(&cmd_history_argp, argc, argv, 0, &a)))
		return parsed;
	if (plan_store_open(&s, a.store, 0) || plan_store_history(s, &v, &n)) {
		cmd_error_last(NULL);
		rc = EXIT_ERROR;
		goto done;
	}
	if (a.json) {
		struct adp_jb jb = { 0 };
		json_t *arr = json_array();

		for (i = 0; i < n; i++) {
			char t[32];
			adp_time_format(t, v[i].time);
			adp_jpush(&jb, arr, json_pack("{s:s,s:s,s:s}", "commit", v[i].id, "time", t, "summary",
						      v[i].summary));
		}
		if (cmd_print_json(stdout, arr, JSON_INDENT(2), &jb))
			rc = EXIT_ERROR;
		json_decref(arr);
	} else {
		for (i = 0; i < n; i++) {
			char t[32];
			adp_time_format(t, v[i].time);
			printf("%.12s  %s  %s\n", v[i].id, t, v[i].summary);
		}
	}
done:
	free(v);
	plan_store_free(s);
	return rc;
}

int cmd_show(int argc, char **argv)
{
	struct cmd_store_args a = { 0 };
	struct plan_store *s = NULL;
	struct plan_store_entry e;
	char *doc = NULL;
	int parsed, rc = EXIT_OK;

	a.want = 1;
	if ((parsed = cmd_parse(&cmd_show_argp, argc, argv, 0, &a)))
		return parsed;
	if (plan_store_open(&s, a.store, 0) || plan_store_show(s, a.ref[0], &e, &doc)) {
		cmd_error_last(NULL);
		rc = EXIT_ERROR;
		goto done;
	}
	if (!a.json) {
		char t[32];
		if (e.id[0]) {
			adp_time_format(t, e.time);
			printf("commit %s\ndate   %s\n%s\n\n", e.id, t, e.summary);
		} else {
			printf("%s\n\n", e.summary);
		}
	}
	fputs(doc, stdout);
done:
	free(doc);
	plan_store_free(s);
	return rc;
}
