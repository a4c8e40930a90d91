/* Shared by the inventory's unit tests and its drivers' sections': an
 * inventory text whose fields under test each stand on their own line,
 * and the "inv.json:LINE: PATH: " an error about one of them starts with. */
#ifndef ADP_TEST_INVFIX_H
#define ADP_TEST_INVFIX_H

#include <stdio.h>

#include "tests/unit/helpers.h"

/* Four partitions; components[3] carries the field under test, in a
 * layout where every value has its own line. */
static inline const char *inv_text(const char *part0_extra, const char *comp3_min, const char *comp3_rest)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\n"
		 "  \"partitions\": [\n"
		 "    {\n"
		 "      \"name\": \"p1\",\n"
		 "      \"zone\": \"z1\",%s\n"
		 "      \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\", \"net\": \"1Gbit/s\"}\n"
		 "    },\n"
		 "    {\"name\": \"p2\", \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\"}},\n"
		 "    {\"name\": \"p3\", \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\"}},\n"
		 "    {\"name\": \"p4\", \"capacity\": {\"cpu\": 4, \"memory\": \"8GiB\"}}\n"
		 "  ],\n"
		 "  \"components\": [\n"
		 "    {\"name\": \"c0\", \"placement\": [\"p1\"]},\n"
		 "    {\"name\": \"c1\", \"tier\": 1, \"replicas\": 2, \"placement\": [\"p1\", \"p2\"]},\n"
		 "    {\"name\": \"c2\", \"placement\": [\"p3\"], \"min\": {\"cpu\": 0.5, \"memory\": \"512MiB\"}},\n"
		 "    {\n"
		 "      \"name\": \"c3\",\n"
		 "      \"min\": {\n"
		 "        \"cpu\": %s,\n"
		 "        \"memory\": \"1GiB\"\n"
		 "      },\n"
		 "      %s\n"
		 "    }\n"
		 "  ]\n"
		 "}\n",
		 part0_extra, comp3_min, comp3_rest);
	return buf;
}

static const char *good_rest = "\"placement\": [\"p4\"]";

static inline char *at_line(const char *text, const char *needle, const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "inv.json:%d: %s: ", t_line_of(text, needle), path);
	return buf;
}

#endif
