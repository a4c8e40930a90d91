#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "orchestrator/local/driver.h"
#include "partition/inventory.h"
#include "util/error.h"
#include "util/resource.h"
#include "util/timeutil.h"

void cmd_error(const char *fmt, ...)
{
	va_list ap;

	fputs("adpart-update: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cmd_error_last(const char *context)
{
	const char *msg = adp_error_last();

	if (context)
		cmd_error("%s: %s", context, *msg ? msg : "unknown error");
	else
		cmd_error("%s", *msg ? msg : "unknown error");
}

int cmd_inventory_load(struct inventory *inv, const char *path)
{
	struct inventory in;
	int rc;

	if ((rc = inventory_load(&in, path)))
		return rc;
	if ((rc = orch_local_config_check(&in))) {
		inventory_release(&in);
		return rc;
	}
	*inv = in;
	return 0;
}

int cmd_parse_output(const char *s)
{
	if (!strcmp(s, "human") || !strcmp(s, "text"))
		return 0;
	if (!strcmp(s, "json"))
		return 1;
	return -1;
}

int cmd_argp_output(struct argp_state *state, const char *arg)
{
	int json = cmd_parse_output(arg);

	if (json < 0)
		argp_error(state, "unknown output format '%s': expected human or json", arg);
	return json;
}

void cmd_argp_time(struct argp_state *state, const char *opt, const char *arg, int64_t *out)
{
	if (adp_time_parse(out, arg, NULL))
		argp_error(state, "%s '%s' is not a time: expected RFC 3339 such as 2018-05-06T00:00:00Z",
			   opt, arg);
}

int cmd_colour(FILE *f)
{
	const char *nc = getenv("NO_COLOR");

	return (!nc || !*nc) && isatty(fileno(f));
}

const char *cmd_bold(FILE *f) { return cmd_colour(f) ? "\033[1m" : ""; }
const char *cmd_red(FILE *f) { return cmd_colour(f) ? "\033[31m" : ""; }
const char *cmd_green(FILE *f) { return cmd_colour(f) ? "\033[32m" : ""; }
const char *cmd_reset(FILE *f) { return cmd_colour(f) ? "\033[0m" : ""; }

void cmd_format_amount(char buf[48], int r, double v)
{
	char b[32];

	switch (r) {
	case ADP_RES_CPU:
		snprintf(buf, 48, "%.2f cores", v);
		break;
	case ADP_RES_MEMORY:
		adp_bytes_format(b, v);
		snprintf(buf, 48, "%s", b);
		break;
	default:
		adp_bytes_format(b, v);
		snprintf(buf, 48, "%s/s", b);
		break;
	}
}
