/* The plan document, with a round trip: a plan that parses is written
 * as plan_write writes it (plan_to_json, two-space indent, keys in
 * order), the text parsed again as plan_read parses it, and written
 * again: both writings must be the same document. */
#include <jansson.h>

#include "plans/plan.h"
#include "tests/fuzz/fuzz.h"
#include "util/jsonutil.h"

/* Serialises like plan_write; the text is owned by the caller. */
static char *write_text(const struct plan *p, json_t **root)
{
	char *text;

	adp_error_clear();
	fuzz_check_rc(plan_to_json(root, p));
	if (!*root)
		fuzz_die("a plan that parsed does not serialise");
	if (!(text = json_dumps(*root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
		fuzz_die("a serialised plan does not dump");
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[FUZZ_PATH_MAX], d1[65], d2[65];
	struct plan p = { 0 }, q = { 0 };
	struct adp_json_doc doc = { 0 };
	json_t *j1 = NULL, *j2 = NULL;
	char *text, *again;
	int fd = fuzz_file(data, size, path), rc;

	adp_error_clear();
	rc = plan_read(&p, path);
	fuzz_check_load(rc, &p, sizeof(p));
	close(fd);
	if (rc)
		return 0;
	text = write_text(&p, &j1);
	adp_error_clear();
	rc = adp_json_load_text(&doc, "round-trip", text);
	if (!rc)
		rc = plan_from_doc(&q, &doc);
	if (rc) {
		fprintf(stderr, "fuzz: the written plan does not parse again: %s\n--- written\n%s\n",
			adp_error_last(), text);
		abort();
	}
	again = write_text(&q, &j2);
	if (!json_equal(j1, j2)) {
		fprintf(stderr, "fuzz: the plan changed on a round trip\n--- first\n%s\n--- second\n%s\n",
			text, again);
		abort();
	}
	plan_digest(&p, d1);
	plan_digest(&q, d2);
	if (strcmp(d1, d2))
		fuzz_die("the inputs' digest changed on a round trip");
	free(again);
	free(text);
	json_decref(j2);
	json_decref(j1);
	adp_json_release(&doc);
	plan_release(&q);
	plan_release(&p);
	return 0;
}
