/* The resources every stage speaks of. CPU is in cores, memory in bytes,
 * disk I/O and network in bytes per second. */
#ifndef ADP_RESOURCE_H
#define ADP_RESOURCE_H

enum adp_resource {
	ADP_RES_CPU,
	ADP_RES_MEMORY,
	ADP_RES_IO,
	ADP_RES_NET,
	ADP_RES_COUNT
};

/* "cpu", "memory", "io", "net": static, borrowed (never freed). */
const char *adp_resource_name(int r);
/* Index of a resource name, or -1 when unknown: a lookup, not an error
 * code (no message is set; the caller names what it was reading). */
int adp_resource_parse(const char *s);
/* Compressible resources (CPU, I/O, network) throttle when short; memory
 * does not, so it carries a stricter risk target. */
int adp_resource_compressible(int r);
/* Units for display: "cores", "bytes", "bytes/s"; static, borrowed. */
const char *adp_resource_unit(int r);
/* An amount of r for people: "0.375 cores", "64.0 MiB", "1.0 MiB/s". */
void adp_resource_amount(char buf[48], int r, double v);

#endif
