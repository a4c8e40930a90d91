/* util/gz: gzip in memory, and plans written compressed that read back
 * as the same plan. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plans/plan.h"
#include "tests/unit/helpers.h"
#include "tests/unit/planfix.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/gz.h"

TestSuite(gz, .init = t_setup, .fini = t_teardown);

/* n bytes of text that compress but not to nothing. */
static char *sample(size_t n)
{
	char *s = malloc(n + 1);
	size_t i;

	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		s[i] = "0123456789 {}[],:\"abcdef\n"[(i * 7 + i / 13) % 25];
	s[n] = 0;
	return s;
}

Test(gz, round_trip)
{
	size_t sizes[] = { 0, 1, 4095, 1 << 20 }, i;

	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		char *s = sample(sizes[i]), *z, *back;
		size_t zn, bn;

		cr_assert_eq(adp_gz_deflate(&z, &zn, s, sizes[i]), 0, "%s", adp_error_last());
		cr_assert(adp_gz_is(z, zn));
		cr_assert_eq(adp_gz_inflate(&back, &bn, z, zn, sizes[i] + 1, "t"), 0, "%s", adp_error_last());
		cr_assert_eq(bn, sizes[i]);
		cr_assert_eq(memcmp(back, s, bn), 0);
		cr_assert_eq(back[bn], 0);
		if (sizes[i] > 4096)
			cr_assert_lt(zn, sizes[i] / 4, "%zu bytes compressed to %zu", sizes[i], zn);
		free(s);
		free(z);
		free(back);
	}
}

Test(gz, members_concatenated)
{
	char *z1, *z2, *both, *back;
	size_t n1, n2, bn;

	cr_assert_eq(adp_gz_deflate(&z1, &n1, "{\"a\": ", 6), 0);
	cr_assert_eq(adp_gz_deflate(&z2, &n2, "1}\n", 3), 0);
	both = malloc(n1 + n2);
	memcpy(both, z1, n1);
	memcpy(both + n1, z2, n2);
	cr_assert_eq(adp_gz_inflate(&back, &bn, both, n1 + n2, 100, "t"), 0, "%s", adp_error_last());
	cr_assert_str_eq(back, "{\"a\": 1}\n");
	free(back);
	free(z1);
	free(z2);
	free(both);
}

Test(gz, refusals)
{
	char *s = sample(100000), *z, *out = NULL, *bad;
	size_t zn;

	cr_assert_eq(adp_gz_deflate(&z, &zn, s, 100000), 0);
	/* Over the limit: never more than max held. */
	cr_assert_eq(adp_gz_inflate(&out, NULL, z, zn, 99999, "big.json"), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "big.json"), "%s", adp_error_last());
	cr_assert_not_null(strstr(adp_error_last(), "once uncompressed"), "%s", adp_error_last());
	/* Exactly at the limit is fine. */
	cr_assert_eq(adp_gz_inflate(&out, NULL, z, zn, 100000, "t"), 0, "%s", adp_error_last());
	free(out);
	/* Cut short. */
	cr_assert_eq(adp_gz_inflate(&out, NULL, z, zn / 2, 1 << 20, "cut.json"), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "truncated"), "%s", adp_error_last());
	/* A flipped byte in the deflate stream, or in the CRC. */
	bad = malloc(zn + 8);
	memcpy(bad, z, zn);
	bad[zn / 2] ^= 0x55;
	cr_assert_eq(adp_gz_inflate(&out, NULL, bad, zn, 1 << 20, "bad.json"), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "bad.json"), "%s", adp_error_last());
	memcpy(bad, z, zn);
	bad[zn - 6] ^= 1;
	cr_assert_eq(adp_gz_inflate(&out, NULL, bad, zn, 1 << 20, "crc.json"), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "corrupt"), "%s", adp_error_last());
	/* Bytes after the data that are not another member. */
	memcpy(bad, z, zn);
	memcpy(bad + zn, "trailing", 8);
	cr_assert_eq(adp_gz_inflate(&out, NULL, bad, zn + 8, 1 << 20, "tail.json"), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "after the gzip data"), "%s", adp_error_last());
	free(bad);
	free(z);
	free(s);
	/* Text with a NUL inside, which no JSON reader would see past. */
	cr_assert_eq(adp_gz_deflate(&z, &zn, "{\"a\": 1}\0{}", 11), 0);
	cr_assert_eq(adp_gz_inflate(&out, NULL, z, zn, 1 << 20, "nul.json"), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "nul.json': the uncompressed text holds a NUL byte"), "%s",
			   adp_error_last());
	free(z);
}

Test(gz, read_text_takes_either)
{
	const char *plain = t_write("plain.json", "{\"x\": 1}\n");
	char *z, *a, *b;
	size_t zn, an, bn;

	cr_assert_eq(adp_gz_deflate(&z, &zn, "{\"x\": 1}\n", 9), 0);
	cr_assert_eq(adp_write_atomic(t_path("z.json"), z, zn), 0);
	cr_assert_eq(adp_read_text(&a, &an, plain, 1 << 20), 0, "%s", adp_error_last());
	cr_assert_eq(adp_read_text(&b, &bn, t_path("z.json"), 1 << 20), 0, "%s", adp_error_last());
	cr_assert_eq(an, bn);
	cr_assert_str_eq(a, b);
	/* The limit holds for the text, not only for the file. */
	cr_assert_eq(adp_read_text(&a, NULL, t_path("z.json"), 8), ADP_EINPUT);
	free(a);
	free(b);
	free(z);
}

/* A plan written compressed reads back as the same plan, and AUTO
 * leaves a small one as JSON. */
Test(gz, plan_compressed_reads_back)
{
	struct plan p = { 0 }, q = { 0 }, r = { 0 };
	size_t size, text, size2, text2;
	char *raw;
	size_t rawn;

	cr_assert_eq(pf_default(&p), 0, "%s", adp_error_last());
	cr_assert_eq(plan_write_as(&p, t_path("a.json"), PLAN_COMPRESS_ALWAYS, &size, &text), 0, "%s",
		     adp_error_last());
	cr_assert_gt(text, size);
	cr_assert_eq(adp_read_file(&raw, &rawn, t_path("a.json"), 1 << 30), 0);
	cr_assert(adp_gz_is(raw, rawn));
	cr_assert_eq(rawn, size);
	free(raw);
	cr_assert_eq(plan_write_as(&p, t_path("b.json"), PLAN_COMPRESS_AUTO, &size2, &text2), 0);
	cr_assert_eq(text2, 0, "a small plan stays JSON under auto");
	cr_assert_eq(size2, text);
	cr_assert_eq(plan_read(&q, t_path("a.json")), 0, "%s", adp_error_last());
	cr_assert_eq(plan_read(&r, t_path("b.json")), 0, "%s", adp_error_last());
	cr_assert_str_eq(q.digest, p.digest);
	cr_assert_str_eq(q.digest, r.digest);
	cr_assert_eq(q.nsteps, r.nsteps);
	cr_assert_eq(q.nwaves, r.nwaves);
	plan_release(&p);
	plan_release(&q);
	plan_release(&r);
}
