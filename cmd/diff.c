/* adpart-update diff A B: what changed between two stored plans. */
#include <argp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "plans/diff.h"
#include "plans/store.h"
#include "util/error.h"
#include "util/resource.h"

const struct argp cmd_diff_argp = {
	cmd_store_options, cmd_store_parse, "A B",
	"Show what changed from stored plan A to stored plan B: the inputs behind it, then waves, placements, "
	"allocations and reservations (in units), risks and the partitions that could go empty (consolidation). "
	"A and B are as for 'show' (a commit or SCHEDULE/SERIAL).\v"
	"Exit status: 0 no difference, 2 differences, 1 error.",
	cmd_output_children, NULL, NULL,
};

static void print_value(const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;

	fputs(s ? s : "(none)", stdout);
	free(s);
}

/* An allocation or reservation change in units, the resources that
 * changed only: "cpu 0.5 -> 0.75 cores, memory 768 MiB -> 1 GiB". */
static void print_amounts(const json_t *from, const json_t *to)
{
	int r, n = 0;

	for (r = 0; r < ADP_RES_COUNT; r++) {
		const json_t *a = json_object_get(from, adp_resource_name(r)), *b = json_object_get(to, adp_resource_name(r));
		char x[48], y[48];

		if (json_equal((json_t *)a, (json_t *)b))
			continue;
		cmd_format_amount(x, r, json_number_value(a));
		cmd_format_amount(y, r, json_number_value(b));
		if (!strcmp(x, y)) { /* a change below the rounding: the exact values */
			snprintf(x, sizeof(x), "%.17g", json_number_value(a));
			snprintf(y, sizeof(y), "%.17g %s", json_number_value(b), adp_resource_unit(r));
		}
		printf("%s%s %s -> %s", n++ ? ", " : "", adp_resource_name(r), x, y);
	}
}

int cmd_diff(int argc, char **argv)
{
	struct cmd_store_args a = { .want = 2 };
	struct plan_store *s = NULL;
	struct plan_store_entry e;
	char *doc[2] = { NULL, NULL };
	json_t *j[2] = { NULL, NULL }, *d = NULL, *c;
	json_error_t jerr;
	size_t i;
	int parsed, rc = EXIT_ERROR;

	if ((parsed = cmd_parse(&cmd_diff_argp, argc, argv, 0, &a)))
		return parsed;
	if (plan_store_open(&s, a.store, 0)) {
		cmd_error_last(NULL);
		goto done;
	}
	for (i = 0; i < 2; i++) {
		if (plan_store_show(s, a.ref[i], &e, &doc[i])) {
			cmd_error_last(NULL);
			goto done;
		}
		if (!(j[i] = json_loads(doc[i], 0, &jerr)) || !json_is_object(j[i]) || !json_object_get(j[i], "waves")) {
			cmd_error("'%s' in plan store '%s' is not a plan document", a.ref[i], a.store);
			goto done;
		}
	}
	if (plan_diff(&d, j[0], j[1])) {
		cmd_error_last(NULL);
		goto done;
	}
	if (a.json) {
		json_dumpf(d, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	} else {
		json_array_foreach(d, i, c) {
			const char *op = json_string_value(json_object_get(c, "op"));

			printf("  %s %s %s", op, json_string_value(json_object_get(c, "what")),
			       json_string_value(json_object_get(c, "key")));
			const char *what = json_string_value(json_object_get(c, "what"));

			if (!strcmp(op, "~") && !strcmp(what, "input")) {
				fputs(": its content changed", stdout);
			} else if (!strcmp(op, "~") && (!strcmp(what, "allocation") || !strcmp(what, "reservation"))) {
				fputs(": ", stdout);
				print_amounts(json_object_get(c, "from"), json_object_get(c, "to"));
			} else if (!strcmp(op, "~")) {
				fputs(": ", stdout);
				print_value(json_object_get(c, "from"));
				fputs(" -> ", stdout);
				print_value(json_object_get(c, "to"));
			} else {
				fputs(": ", stdout);
				print_value(json_object_get(c, *op == '+' ? "to" : "from"));
			}
			fputc('\n', stdout);
		}
		printf("%zu change%s from %s to %s.\n", json_array_size(d), json_array_size(d) == 1 ? "" : "s", a.ref[0],
		       a.ref[1]);
	}
	rc = json_array_size(d) ? EXIT_CHANGES : EXIT_OK;
done:
	json_decref(d);
	json_decref(j[0]);
	json_decref(j[1]);
	free(doc[0]);
	free(doc[1]);
	plan_store_free(s);
	return rc;
}
