/* One component's wide CSV read through a column mapping. The first
 * byte of the input picks one of the mappings below (the NAB and
 * Microsoft layouts, columns by index with epoch times, a strptime
 * format in a zone with ';' and tab as delimiters); the rest is the
 * file. */
#include "tests/fuzz/fuzz.h"

static const struct history_mapping maps[] = {
	{ .delimiter = ",", .time_column = "timestamp", .time_format = "auto",
	  .res = { [ADP_RES_CPU] = { "value", 0.01, 0 } } },
	{ .delimiter = ",", .time_column = "TimeStamp", .time_format = "rfc3339",
	  .res = { [ADP_RES_CPU] = { "Value", 0.0004, 0 }, [ADP_RES_MEMORY] = { "Value", 262144, 4294967296.0 } } },
	{ .delimiter = ",", .time_column = "1", .time_format = "epoch",
	  .res = { [ADP_RES_CPU] = { "2", 1, 0 }, [ADP_RES_MEMORY] = { "3", 1024, 0 },
		   [ADP_RES_IO] = { "4", 1, 0 }, [ADP_RES_NET] = { "5", 0.125, 0 } } },
	{ .delimiter = ";\t", .time_column = "time", .time_format = "%Y-%m-%d %H:%M:%S",
	  .timezone = "Europe/Berlin", .res = { [ADP_RES_CPU] = { "cpu", 1, 0 }, [ADP_RES_NET] = { "net", 1, 0 } } },
	{ .delimiter = ",", .time_column = "t", .time_format = "epoch_ms",
	  .res = { [ADP_RES_MEMORY] = { "rss", 1, -1 } } },
};

static const struct history_mapping *map;

static int read_mapped(struct history *h, const char *path, const struct history_opts *o)
{
	return history_add_mapped_csv(h, path, "fuzz-1", map, o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	map = &maps[data[0] % (sizeof(maps) / sizeof(maps[0]))];
	fuzz_history_file(data + 1, size - 1, read_mapped, 1);
	return 0;
}
