/* Times, durations and quantities (util/timeutil, util/resource, and
 * the kubernetes quantities): every line of the input goes through
 * every parser. What parses must survive a round trip: a duration
 * formatted and parsed again, a time of years 0 to 9999 formatted as
 * RFC 3339 (in a zone too from 1900) and parsed again, give the same
 * value. */
#include <math.h>

#include "orchestrator/kube/client.h"
#include "tests/fuzz/fuzz.h"
#include "util/resource.h"
#include "util/timeutil.h"

#define YEAR0 (-62167219200LL)   /* 0000-01-01T00:00:00Z */
#define YEAR9999 253402300799LL  /* 9999-12-31T23:59:59Z */
#define YEAR1900 (-2208988800LL)  /* 1900-01-01T00:00:00Z */

static const char *const formats[] = { "auto", "rfc3339", "epoch", "epoch_ms", "%Y-%m-%d %H:%M:%S",
				       "%d/%m/%Y %H:%M", "%s" };

static void times(const char *s)
{
	char buf[40], buf2[40];
	int64_t t, u;
	size_t i;

	if (!adp_time_parse(&t, s, NULL)) {
		adp_time_format(buf, t);
		adp_time_format_tz(buf2, t, "Europe/Berlin");
		if (t >= YEAR0 && t <= YEAR9999) {
			if (adp_time_parse(&u, buf, NULL) || u != t) {
				fprintf(stderr, "fuzz: time '%s' is %lld, written '%s'\n", s, (long long)t, buf);
				abort();
			}
			/* Before 1900 zones keep local mean time, whose offset has
			 * seconds that RFC 3339's +HH:MM cannot carry. */
			if (t >= YEAR1900 && (adp_time_parse(&u, buf2, NULL) || u != t)) {
				fprintf(stderr, "fuzz: time '%s' is %lld, written in Berlin '%s'\n", s,
					(long long)t, buf2);
				abort();
			}
		}
	}
	adp_time_parse(&t, s, "Europe/Berlin");
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		adp_time_parse_format(&t, s, formats[i], i % 2 ? "America/New_York" : NULL);
	if (adp_tz_valid(s)) {
		adp_time_format_tz(buf, 1525568400, s);
		adp_time_parse(&t, "2018-05-06 03:00:00", s);
	}
}

static void durations(const char *s)
{
	char buf[32];
	int64_t d, e;

	if (adp_duration_parse(&d, s))
		return;
	if (d < 0)
		fuzz_die("a negative duration");
	adp_duration_format(buf, d);
	if (adp_duration_parse(&e, buf) || e != d) {
		fprintf(stderr, "fuzz: duration '%s' is %lld, written '%s'\n", s, (long long)d, buf);
		abort();
	}
}

static void quantities(const char *s)
{
	char buf[32];
	double q;

	if (!adp_quantity_parse(&q, s)) {
		/* Callers check numbers for finiteness; a quantity must be too. */
		if (!isfinite(q) || q < 0)
			fuzz_die("a quantity that is negative or not finite");
		adp_bytes_format(buf, q);
	}
	if (!kube_quantity(s, &q) && (isnan(q) || q < 0))
		fuzz_die("a kubernetes quantity that is negative or not a number");
	adp_resource_parse(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size), *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(text, "\n", &save); line && n < 64; line = strtok_r(NULL, "\n", &save), n++) {
		if (strlen(line) > 256)
			continue;
		times(line);
		durations(line);
		quantities(line);
	}
	free(text);
	return 0;
}
