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

const struct argp cmd_diff_argp = {
	cmd_store_options, cmd_store_parse, "A B",
	"Show what changed from stored plan A to stored plan B: waves, placements, allocations and risks. "
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
			if (!strcmp(op, "~")) {
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
