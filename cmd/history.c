/* adpart-update history and show: read the plan store. */
#include <argp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "plans/plan.h"
#include "plans/store.h"
#include "util/fsutil.h"
#include "util/error.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"

const struct argp_option cmd_store_options[] = {
	{ "store", 'S', "DIR", 0, "The plan store (default: $ADPART_STORE, else the config file's store)", 0 },
	{ 0 },
};

static int is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

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
		if (a->file_ok && a->nref == 1 && is_file(a->ref[0]))
			break;
		if (!a->store && !(a->store = cmd_setting(CMD_KEY_STORE)))
			argp_error(state, a->file_ok ? "'%s' is not a file, and --store or ADPART_STORE is required "
						       "(or store in a config file) for a stored plan or run"
						     : "--store or ADPART_STORE is required (or store in a config file)",
				   a->nref ? a->ref[0] : "");
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
	"Show a plan or a run record as plan shows a plan: REF is a plan or run record file (no store "
	"needed), a commit from 'history' (or any git revision such as HEAD~1) or SCHEDULE/SERIAL for a "
	"recorded plan. -o json prints the document itself.", cmd_output_children, NULL, NULL,
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

/* The human view of a run record: outcome, why it stopped, and every
 * step and undo step with its status and message. */
static void render_run(FILE *f, json_t *r)
{
	static const char *const lists[] = { "steps", "undo" };
	const char *why = json_string_value(json_object_get(r, "stopped_by"));
	json_t *s, *obs = json_object_get(r, "observations");
	size_t i, l, k;
	char t[32];

	adp_time_format(t, json_integer_value(json_object_get(r, "written_at")));
	fprintf(f, "%sRun of %s%s: %s (recorded %s), plan digest %.12s\n", cmd_bold(f),
		json_string_value(json_object_get(r, "plan")) ? json_string_value(json_object_get(r, "plan")) : "?",
		cmd_reset(f), json_string_value(json_object_get(r, "outcome")), t,
		json_string_value(json_object_get(r, "digest")) ? json_string_value(json_object_get(r, "digest")) : "?");
	if (why)
		fprintf(f, "stopped by: %s\n", why);
	if (json_string_value(json_object_get(r, "blocked_by")))
		fprintf(f, "blocked by: %s\n", json_string_value(json_object_get(r, "blocked_by")));
	for (l = 0; l < 2; l++) {
		json_t *list = json_object_get(r, lists[l]);
		size_t n[5] = { 0 };
		static const char *const st[] = { "done", "failed", "started", "pending", "skipped" };

		if (!json_array_size(list))
			continue;
		json_array_foreach(list, i, s)
			for (k = 0; k < 5; k++)
				n[k] += !strcmp(json_string_value(json_object_get(s, "status")) ? json_string_value(json_object_get(s, "status")) : "", st[k]);
		fprintf(f, "\n%s (%zu): %zu done, %zu failed, %zu started, %zu pending", lists[l],
			json_array_size(list), n[0], n[1], n[2], n[3]);
		if (n[4]) /* waves a sentinel said need no update */
			fprintf(f, ", %zu skipped", n[4]);
		fputc('\n', f);
		json_array_foreach(list, i, s) {
			const char *msg = json_string_value(json_object_get(s, "message"));
			json_t *secs = json_object_get(s, "seconds");

			fprintf(f, "  %4lld %-22s %-10s %-16s %-8s", (long long)json_integer_value(json_object_get(s, "id")),
				json_string_value(json_object_get(s, "action")),
				json_string_value(json_object_get(s, "partition")) ? json_string_value(json_object_get(s, "partition")) : "-",
				json_string_value(json_object_get(s, "component")) ? json_string_value(json_object_get(s, "component")) : "-",
				json_string_value(json_object_get(s, "status")));
			if (json_is_number(secs))
				fprintf(f, " %7.2fs", json_number_value(secs));
			fprintf(f, "%s%s\n", msg ? "  " : "", msg ? msg : "");
		}
	}
	if (json_array_size(obs)) {
		size_t dev = 0;

		json_array_foreach(obs, i, s)
			dev += json_string_value(json_object_get(s, "decision")) &&
			       strcmp(json_string_value(json_object_get(s, "decision")), "ok");
		fprintf(f, "\nobservations: %zu, %zu with a decision other than ok\n", json_array_size(obs), dev);
	}
}

/* Renders doc (a plan or a run record, named name) as a person reads
 * it, or prints it as JSON; 0 or EXIT_ERROR (reported). */
static int show_doc(const char *name, const char *text, int json)
{
	struct adp_json_doc d = { 0 };
	struct plan p = { 0 };
	int rc = EXIT_OK;

	if (adp_json_load_text(&d, name, text)) {
		cmd_error_last(NULL);
		return EXIT_ERROR;
	}
	if (json && json_object_get(d.root, "waves")) {
		rc = cmd_print_plan_json(stdout, d.root);
	} else if (json) {
		rc = cmd_print_json(stdout, d.root, JSON_INDENT(2) | JSON_PRESERVE_ORDER, NULL);
	} else if (json_object_get(d.root, "outcome") && json_is_array(json_object_get(d.root, "steps"))) {
		render_run(stdout, d.root);
	} else if (json_object_get(d.root, "waves")) {
		if (plan_from_doc(&p, &d)) {
			cmd_error_last(NULL);
			rc = EXIT_ERROR;
		} else {
			cmd_plan_render(stdout, &p, NULL, NULL, 1);
		}
		plan_release(&p);
	} else {
		cmd_error("'%s' is neither a plan nor a run record", name);
		rc = EXIT_ERROR;
	}
	adp_json_release(&d);
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
	a.file_ok = 1;
	if ((parsed = cmd_parse(&cmd_show_argp, argc, argv, 0, &a)))
		return parsed;
	if (is_file(a.ref[0])) {
		if (plan_read_text(&doc, a.ref[0])) {
			cmd_error_last(NULL);
			return EXIT_ERROR;
		}
		rc = show_doc(a.ref[0], doc, a.json);
		goto done;
	}
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
	rc = show_doc(a.ref[0], doc, a.json);
done:
	free(doc);
	plan_store_free(s);
	return rc;
}
