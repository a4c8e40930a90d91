/* adpart-update validate: check input and plan files without planning. */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "history/history.h"
#include "partition/inventory.h"
#include "partition/schedule.h"
#include "plans/plan.h"
#include "util/error.h"
#include "util/jsonutil.h"

#define MAX_FILES 256

struct validate_args {
	const char *kind, *inventory;
	const char *files[MAX_FILES];
	size_t nfiles;
	int json;
};

static const struct argp_option options[] = {
	{ "kind", 'k', "KIND", 0, "inventory, schedule, plan or history (default: detected)", 0 },
	{ "inventory", 'i', "FILE", 0, "Check a schedule's partitions against this inventory", 0 },
	{ 0 },
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	struct validate_args *a = state->input;

	switch (key) {
	case 'k':
		if (strcmp(arg, "inventory") && strcmp(arg, "schedule") && strcmp(arg, "plan") &&
		    strcmp(arg, "history"))
			argp_error(state, "unknown kind '%s': expected inventory, schedule, plan or history", arg);
		a->kind = arg;
		break;
	case 'i': a->inventory = arg; break;
	case ARGP_KEY_INIT: state->child_inputs[0] = &a->json; break;
	case ARGP_KEY_ARG:
		if (a->nfiles == MAX_FILES)
			argp_error(state, "at most %d files at once", MAX_FILES);
		a->files[a->nfiles++] = arg;
		break;
	case ARGP_KEY_END:
		if (!a->nfiles)
			argp_error(state, "name at least one file to check");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp cmd_validate_argp = {
	options, parse, "FILE...",
	"Check inventory, schedule, plan and history files: every problem is reported with "
	"the file, line and field at fault.\v"
	"Exit status: 0 when every file is valid, 1 otherwise.",
	cmd_output_children, NULL, NULL,
};

/* Guesses the kind from the file: CSV is history; JSON by its fields. */
static const char *detect(const char *path)
{
	struct adp_json_doc d;
	const char *kind = NULL;
	size_t n = strlen(path);
	char *text;
	int rc;

	if (n > 4 && !strcmp(path + n - 4, ".csv"))
		return "history";
	/* A plan is the largest kind, and may be compressed. */
	if (plan_read_text(&text, path))
		return NULL;
	rc = adp_json_load_text(&d, path, text);
	free(text);
	if (rc)
		return NULL;
	if (json_object_get(d.root, "format_version"))
		kind = "plan";
	else if (json_object_get(d.root, "window"))
		kind = "schedule";
	else if (json_object_get(d.root, "partitions") || json_object_get(d.root, "components"))
		kind = "inventory";
	else if (json_object_get(d.root, "samples"))
		kind = "history";
	adp_json_release(&d);
	if (!kind)
		adp_error_set(ADP_EINPUT,
			      "%s: cannot tell what this file is: expected an inventory (partitions, components), a schedule (window), a plan (format_version) or history (samples); use --kind",
			      path);
	return kind;
}

static int check(const struct validate_args *a, const char *path, char *summary, size_t len)
{
	const char *kind = a->kind ? a->kind : detect(path);
	int rc;

	if (!kind)
		return ADP_EINPUT;
	if (!strcmp(kind, "inventory")) {
		struct inventory inv;
		if ((rc = cmd_inventory_load(&inv, path)))
			return rc;
		snprintf(summary, len, "inventory: %zu partitions, %zu components", inv.nparts, inv.ncomps);
		inventory_release(&inv);
	} else if (!strcmp(kind, "schedule")) {
		struct inventory inv = { 0 };
		struct schedule s;
		if (a->inventory && (rc = cmd_inventory_load(&inv, a->inventory)))
			return rc;
		rc = schedule_load(&s, path, a->inventory ? &inv : NULL);
		inventory_release(&inv);
		if (rc)
			return rc;
		snprintf(summary, len, "schedule '%s': %zu partitions, %zu at a time", s.name,
			 s.npartitions, s.max_concurrency);
		schedule_release(&s);
	} else if (!strcmp(kind, "plan")) {
		struct plan p;
		if ((rc = plan_read(&p, path)))
			return rc;
		/* What apply would refuse as stale, validate refuses too. */
		if (plan_check_inputs(&p)) {
			plan_release(&p);
			return adp_error_wrap(ADP_EINPUT, "%s", path);
		}
		double worst = 0;
		size_t w, u, moved = 0, j;
		struct plan_proof pf;

		for (w = 0; w < p.nwaves; w++) {
			for (u = 0; u < p.waves[w].nusage; u++)
				worst = p.waves[w].usage[u].overload_prob > worst ? p.waves[w].usage[u].overload_prob : worst;
			for (j = 0; j < p.waves[w].nplacements; j++)
				moved += p.waves[w].placements[j].from != NULL;
		}
		plan_proof(&p, &pf);
		snprintf(summary, len,
			 "plan '%s' (format %d): %zu waves, %zu steps, %zu moves, %zu reductions, worst P(overload) %.1f%%; proof %s",
			 p.schedule_name, p.format_version, p.nwaves, p.nsteps, moved, p.nreductions, 100 * worst,
			 pf.holds ? "holds" : p.risk_accepted ? "FAILS (risk accepted)" : "FAILS: apply refuses it");
		plan_release(&p);
	} else {
		struct history h;
		struct history_opts o = { 300, 3600, 0 };
		history_init(&h);
		if ((rc = history_add_file(&h, path, &o))) {
			history_release(&h);
			return rc;
		}
		snprintf(summary, len, "history: %zu series", h.n);
		history_release(&h);
	}
	return 0;
}

int cmd_validate(int argc, char **argv)
{
	struct validate_args a = { 0 };
	struct adp_jb jb = { 0 };
	json_t *results;
	int status = EXIT_OK;
	size_t i;

	if ((status = cmd_parse(&cmd_validate_argp, argc, argv, 0, &a)))
		return status;
	if (!(results = json_array())) {
		cmd_error("out of memory");
		return EXIT_ERROR;
	}
	for (i = 0; i < a.nfiles; i++) {
		char summary[512] = "";
		int rc = check(&a, a.files[i], summary, sizeof(summary));

		if (a.json) {
			json_t *o = adp_jpush(&jb, results, json_object());

			adp_jset(&jb, o, "file", json_string(a.files[i]));
			adp_jset(&jb, o, "valid", json_boolean(!rc));
			adp_jset(&jb, o, rc ? "error" : "summary", json_string(rc ? adp_error_last() : summary));
		} else if (!rc) {
			printf("%s: valid %s\n", a.files[i], summary);
		}
		if (rc) {
			cmd_error_last(NULL);
			status = EXIT_ERROR;
		}
	}
	if (a.json && cmd_print_json(stdout, results, JSON_INDENT(2), &jb))
		status = EXIT_ERROR;
	json_decref(results);
	return status;
}
