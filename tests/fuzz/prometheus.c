/* A Prometheus query_range answer (JSON), parsed as history_prom_read
 * parses each response. The first byte picks the resource (bits 0-1),
 * one component or every labelled one (bit 2), a filter of components
 * (bit 3), the label (bit 4) and the HTTP status (bits 5-7); the rest
 * is the body. */
#include "history/prometheus.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long status[8] = { 200, 200, 200, 200, 200, 400, 422, 503 };
	static const char *const only[] = { "web", "db" };
	const struct history_opts o = { .step = 60, .max_gap = 600, .until = 0 };
	struct history_prom_opts p = { .url = "http://prometheus.invalid:9090" };
	struct history h;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 8) {
		p.only = only;
		p.nonly = 2;
	}
	if (data[0] & 16)
		p.label = "job";
	history_init(&h);
	adp_error_clear();
	rc = history_prom_parse(&h, &p, data[0] & 4 ? "web" : NULL, data[0] & 3, "up", (const char *)data + 1,
				size - 1, status[data[0] >> 5], &o);
	/* Series added before a failing one stay: the caller undoes them. */
	fuzz_check_history(&h, rc, o.step, 0);
	history_release(&h);
	return 0;
}
