#include "util/resource.h"

#include <stdio.h>
#include <string.h>

#include "util/timeutil.h"

static const char *const names[ADP_RES_COUNT] = { "cpu", "memory", "io", "net" };

const char *adp_resource_name(int r)
{
	return r >= 0 && r < ADP_RES_COUNT ? names[r] : "?";
}

int adp_resource_parse(const char *s)
{
	int r;

	for (r = 0; r < ADP_RES_COUNT; r++)
		if (!strcmp(s, names[r]))
			return r;
	return -1;
}

int adp_resource_compressible(int r)
{
	return r != ADP_RES_MEMORY;
}

const char *adp_resource_unit(int r)
{
	return r == ADP_RES_CPU ? "cores" : r == ADP_RES_MEMORY ? "bytes" : "bytes/s";
}

void adp_resource_amount(char buf[48], int r, double v)
{
	char bytes[32];

	if (r == ADP_RES_CPU) {
		snprintf(buf, 48, "%.3g cores", v);
		return;
	}
	adp_bytes_format(bytes, v);
	snprintf(buf, 48, "%s%s", bytes, r == ADP_RES_MEMORY ? "" : "/s");
}
