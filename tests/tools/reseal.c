/* Test helper: re-seals a plan that a test edited on purpose (a step's
 * timeout cut to seconds), as `plan` would have written it. Never
 * installed: an operator changes a plan by planning again.
 * usage: plan-reseal IN OUT */
#include <jansson.h>
#include <stdio.h>

#include "plans/plan.h"
#include "util/error.h"

int main(int argc, char **argv)
{
	json_error_t e;
	json_t *root;
	char seal[65];

	if (argc != 3) {
		fprintf(stderr, "usage: plan-reseal IN OUT\n");
		return 64;
	}
	if (!(root = json_load_file(argv[1], 0, &e))) {
		fprintf(stderr, "plan-reseal: %s:%d: %s\n", argv[1], e.line, e.text);
		return 1;
	}
	if (plan_seal(root, seal)) {
		fprintf(stderr, "plan-reseal: %s\n", adp_error_last());
		return 1;
	}
	json_object_set_new(root, "seal", json_string(seal));
	if (json_dump_file(root, argv[2], JSON_INDENT(2) | JSON_PRESERVE_ORDER)) {
		fprintf(stderr, "plan-reseal: cannot write '%s'\n", argv[2]);
		return 1;
	}
	json_decref(root);
	return 0;
}
