/* util/error: saving the last error around a cleanup and restoring it,
 * in the same thread or carried to another. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "util/error.h"

/* A cleanup that fails on its own account, as an uncordon or a hash can. */
static void noisy_cleanup(void)
{
	adp_error_set(ADP_ESYS, "cleanup failed too");
}

Test(error_state, cleanup_does_not_lose_the_first_error)
{
	struct adp_error_state st;
	int rc = adp_error_set(ADP_EINFEASIBLE, "no plan fits: partition '%s'", "p1");

	cr_assert_eq(adp_error_save(&st, rc), ADP_EINFEASIBLE);
	noisy_cleanup();
	cr_assert_str_eq(adp_error_last(), "cleanup failed too");
	cr_assert_eq(adp_error_restore(&st), ADP_EINFEASIBLE);
	cr_assert_str_eq(adp_error_last(), "no plan fits: partition 'p1'");
	/* The state is unchanged by a restore: it can be restored again. */
	noisy_cleanup();
	cr_assert_eq(adp_error_restore(&st), ADP_EINFEASIBLE);
	cr_assert_str_eq(adp_error_last(), "no plan fits: partition 'p1'");
}

Test(error_state, text_is_copied_not_formatted)
{
	struct adp_error_state st;

	adp_error_set(ADP_EINPUT, "%s", "100%s done %d%%");
	adp_error_save(&st, ADP_EINPUT);
	adp_error_clear();
	cr_assert_eq(adp_error_restore(&st), ADP_EINPUT);
	cr_assert_str_eq(adp_error_last(), "100%s done %d%%");
}

Test(error_state, success_and_empty_message)
{
	struct adp_error_state st;

	adp_error_clear();
	cr_assert_eq(adp_error_save(&st, 0), 0);
	adp_error_set(ADP_ESYS, "later");
	cr_assert_eq(adp_error_restore(&st), 0);
	cr_assert_str_eq(adp_error_last(), "");
}

Test(error_state, longest_message_kept_whole)
{
	static char longmsg[ADP_ERROR_MAX + 100];
	struct adp_error_state st;

	memset(longmsg, 'x', sizeof(longmsg) - 1);
	adp_error_set(ADP_ENOMEM, "%s", longmsg);
	cr_assert_eq(strlen(adp_error_last()), ADP_ERROR_MAX - 1);
	adp_error_save(&st, ADP_ENOMEM);
	noisy_cleanup();
	adp_error_restore(&st);
	cr_assert_eq(strlen(adp_error_last()), ADP_ERROR_MAX - 1);
	cr_assert_eq(adp_error_last()[0], 'x');
}

static void *fail_in_thread(void *arg)
{
	struct adp_error_state *st = arg;

	adp_error_save(st, adp_error_set(ADP_ESYS, "worker: cannot read '%s'", "/proc/1/stat"));
	return NULL;
}

/* The message is thread-local; the state carries it to the joining thread. */
Test(error_state, carried_across_threads)
{
	struct adp_error_state st;
	pthread_t th;

	adp_error_set(ADP_EINPUT, "main's own");
	cr_assert_eq(pthread_create(&th, NULL, fail_in_thread, &st), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_str_eq(adp_error_last(), "main's own");
	cr_assert_eq(adp_error_restore(&st), ADP_ESYS);
	cr_assert_str_eq(adp_error_last(), "worker: cannot read '/proc/1/stat'");
}

Test(error_state, control_characters_are_escaped)
{
	/* A name from outside must not forge a second line or reach the
	 * terminal as an escape sequence. */
	adp_error_set(ADP_EINPUT, "unknown component '%s'", "web\nadpart-update: applied\r\t\x1b[31m\x7f");
	cr_assert_str_eq(adp_error_last(),
			 "unknown component 'web\\nadpart-update: applied\\r\\t\\x1b[31m\\x7f'");
	adp_error_wrap(ADP_EINPUT, "file '%s'", "a\nb");
	cr_assert_str_eq(adp_error_last(),
			 "file 'a\\nb': unknown component 'web\\nadpart-update: applied\\r\\t\\x1b[31m\\x7f'");
	/* UTF-8 passes unchanged. */
	adp_error_set(ADP_EINPUT, "zone '%s'", "Zürich");
	cr_assert_str_eq(adp_error_last(), "zone 'Zürich'");
}

Test(error_state, long_messages_are_cut_whole)
{
	char big[3 * ADP_ERROR_MAX];

	/* Escapes near the end are not cut in half. */
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	adp_error_set(ADP_EINPUT, "%s", big);
	cr_assert_lt(strlen(adp_error_last()), (size_t)ADP_ERROR_MAX);
	cr_assert_eq(strlen(adp_error_last()) % 2, 0);
}
