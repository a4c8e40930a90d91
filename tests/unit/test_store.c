/* The git plan store, on real repositories in temporary directories. */
#include <criterion/criterion.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plans/plan.h"
#include "plans/store.h"
#include "util/error.h"

static char dir[64], store_path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/adpart-store.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(store_path, sizeof(store_path), "%s/store", dir);
}

static void teardown(void)
{
	char *argv[] = { "rm", "-rf", dir, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

static void fake_plan(struct plan *p, const char *schedule)
{
	memset(p, 0, sizeof(*p));
	p->schedule_name = (char *)schedule;
	p->window_start = 1525568400;
	p->window_end = 1525582800;
	memset(p->digest, 'a', 64);
}

static int64_t record(struct plan_store *s, const char *schedule, const char *json, char lineage[37])
{
	struct plan p;
	int64_t serial = -1;

	fake_plan(&p, schedule);
	cr_assert_eq(plan_store_record_plan(s, &p, json, "summary of the plan\n", lineage, &serial), 0, "%s", adp_error_last());
	return serial;
}

/* HEAD's commit message (first line) in a fresh handle. */
static void head_summary(char *out, size_t len)
{
	git_repository *r;
	git_object *c;

	git_libgit2_init();
	cr_assert_eq(git_repository_open_bare(&r, store_path), 0);
	cr_assert_eq(git_revparse_single(&c, r, "HEAD"), 0);
	snprintf(out, len, "%s", git_commit_summary((git_commit *)c));
	git_object_free(c);
	git_repository_free(r);
	git_libgit2_shutdown();
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, missing_store_is_not_created_when_reading)
{
	struct plan_store *s = NULL;

	cr_assert_eq(plan_store_open(&s, store_path, 0), ADP_EINPUT);
	cr_assert_null(s);
	cr_assert_not_null(strstr(adp_error_last(), "does not exist"));
	cr_assert_neq(access(store_path, F_OK), 0);
}

Test(store, commit_and_read_back)
{
	struct plan_store *s;
	char lin[37], lin2[37], *text = NULL, msg[256];

	cr_assert_eq(plan_store_open(&s, store_path, 1), 0, "%s", adp_error_last());
	cr_assert_eq(record(s, "sched", "{\"a\": 1}\n", lin), 1);
	cr_assert_eq(strlen(lin), 36);
	cr_assert_eq(record(s, "sched", "{\"a\": 2}\n", lin2), 2);
	cr_assert_str_eq(lin, lin2, "a schedule keeps its lineage");
	cr_assert_eq(plan_store_read(s, "sched/plans/1.json", &text), 0);
	cr_assert_str_eq(text, "{\"a\": 1}\n");
	free(text);
	cr_assert_eq(plan_store_read(s, "sched/plans/2.json", &text), 0);
	cr_assert_str_eq(text, "{\"a\": 2}\n");
	free(text);
	cr_assert_eq(plan_store_read(s, "sched/plans/2.txt", &text), 0, "the summary sits beside the plan");
	cr_assert_str_eq(text, "summary of the plan\n");
	free(text);
	cr_assert_eq(plan_store_read(s, "sched/plans/3.json", &text), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "has no 'sched/plans/3.json'"));
	head_summary(msg, sizeof(msg));
	cr_assert(strncmp(msg, "plan sched serial 2 window 2018-05-06T01:00:00Z..2018-05-06T05:00:00Z digest aaaa", 81) == 0,
		  "message: %s", msg);
	plan_store_free(s);
}

Test(store, schedules_have_their_own_lineage)
{
	struct plan_store *s;
	char a[37], b[37];

	cr_assert_eq(plan_store_open(&s, store_path, 1), 0);
	cr_assert_eq(record(s, "one", "{}", a), 1);
	cr_assert_eq(record(s, "two", "{}", b), 1);
	cr_assert_str_neq(a, b);
	plan_store_free(s);
}

Test(store, bad_schedule_name_refused)
{
	struct plan_store *s;
	struct plan p;
	char lin[37];
	int64_t serial;

	cr_assert_eq(plan_store_open(&s, store_path, 1), 0);
	fake_plan(&p, "../escape");
	cr_assert_eq(plan_store_record_plan(s, &p, "{}", NULL, lin, &serial), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "'../escape'"));
	plan_store_free(s);
}

Test(store, lineage_and_serial_refusals)
{
	struct plan_store *s;
	char lin[37], other[37];
	char *text = NULL, msg[256];

	cr_assert_eq(plan_store_open(&s, store_path, 1), 0);
	record(s, "sched", "{}", lin);
	record(s, "sched", "{}", lin);
	record(s, "other", "{}", other);
	cr_assert_eq(plan_store_check_apply(s, "sched", lin, 1), 0, "nothing applied yet: %s", adp_error_last());
	cr_assert_eq(plan_store_check_apply(s, "sched", other, 2), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "another lineage"), "%s", adp_error_last());
	cr_assert_eq(plan_store_check_apply(s, "nosuch", lin, 1), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "no plans for schedule 'nosuch'"));

	cr_assert_eq(plan_store_record_run(s, "sched", 2, "d", "{\"run\": 2}\n", "success"), 0, "%s", adp_error_last());
	head_summary(msg, sizeof(msg));
	cr_assert_str_eq(msg, "run sched serial 2 outcome success digest d");
	cr_assert_eq(plan_store_read(s, "sched/runs/2.json", &text), 0);
	cr_assert_str_eq(text, "{\"run\": 2}\n");
	free(text);
	cr_assert_eq(plan_store_check_apply(s, "sched", lin, 1), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "stale plan"), "%s", adp_error_last());
	cr_assert_eq(plan_store_check_apply(s, "sched", lin, 2), ADP_EINPUT, "the same plan twice");
	cr_assert_eq(plan_store_check_apply(s, "sched", lin, 3), 0);

	/* A failed run is recorded but does not mark the plan applied. */
	cr_assert_eq(plan_store_record_run(s, "other", 1, "d", "{}", "failed"), 0);
	cr_assert_eq(plan_store_check_apply(s, "other", other, 1), 0);
	cr_assert_eq(plan_store_record_run(s, "other", 1, "d", "{}", "bad\noutcome"), ADP_EINPUT);
	plan_store_free(s);
}

Test(store, concurrent_writers_do_not_corrupt)
{
	enum { WRITERS = 2, EACH = 10 };
	struct plan_store *s;
	pid_t pids[WRITERS];
	char lin[37], *text = NULL;
	int i, status;

	/* Create first so both writers open an existing store. */
	cr_assert_eq(plan_store_open(&s, store_path, 1), 0);
	plan_store_free(s);
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			struct plan_store *c;
			struct plan p;
			int64_t serial;
			int k, bad = 0;

			if (plan_store_open(&c, store_path, 1))
				_exit(2);
			fake_plan(&p, "sched");
			for (k = 0; k < EACH; k++)
				bad |= plan_store_record_plan(c, &p, "{}", NULL, lin, &serial) != 0;
			plan_store_free(c);
			_exit(bad);
		}
	}
	for (i = 0; i < WRITERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", i);
	}
	cr_assert_eq(plan_store_open(&s, store_path, 0), 0);
	cr_assert_eq(plan_store_read(s, "sched/serial", &text), 0);
	cr_assert_eq(atoi(text), WRITERS * EACH, "every plan got its own serial");
	free(text);
	for (i = 1; i <= WRITERS * EACH; i++) {
		char path[64];

		snprintf(path, sizeof(path), "sched/plans/%d.json", i);
		cr_assert_eq(plan_store_read(s, path, &text), 0, "%s", path);
		free(text);
	}
	plan_store_free(s);
}

Test(store, corrupted_store_reported)
{
	struct plan_store *s;
	char lin[37], path[256];
	FILE *f;

	cr_assert_eq(plan_store_open(&s, store_path, 1), 0);
	record(s, "sched", "{}", lin);
	plan_store_free(s);
	/* HEAD's branch now points at an object that does not exist. */
	snprintf(path, sizeof(path), "%s/refs/heads/master", store_path);
	if (access(path, F_OK) != 0)
		snprintf(path, sizeof(path), "%s/refs/heads/main", store_path);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("0123456789012345678901234567890123456789\n", f);
	fclose(f);
	cr_assert_eq(plan_store_open(&s, store_path, 0), 0);
	cr_assert_neq(plan_store_check_apply(s, "sched", lin, 1), 0);
	cr_assert_neq(plan_store_record_run(s, "sched", 1, "d", "{}", "success"), 0);
	cr_assert_not_null(strstr(adp_error_last(), "corrupted store"), "%s", adp_error_last());
	plan_store_free(s);
}

Test(store, history_newest_first_and_show)
{
	struct plan_store *s;
	struct plan_store_entry *v = NULL, e;
	char lin[37], *doc = NULL;
	size_t n = 99;

	cr_assert_eq(plan_store_open(&s, store_path, 1), 0);
	cr_assert_eq(plan_store_history(s, &v, &n), 0, "an empty store has an empty history");
	cr_assert_eq(n, 0);
	free(v);
	record(s, "sched", "{\"n\": 1}", lin);
	record(s, "sched", "{\"n\": 2}", lin);
	cr_assert_eq(plan_store_record_run(s, "sched", 2, "d", "{\"run\": 1}", "success"), 0);
	cr_assert_eq(plan_store_history(s, &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert(strncmp(v[0].summary, "run sched serial 2 outcome success", 34) == 0, "%s", v[0].summary);
	cr_assert(strncmp(v[1].summary, "plan sched serial 2 ", 20) == 0, "%s", v[1].summary);
	cr_assert(strncmp(v[2].summary, "plan sched serial 1 ", 20) == 0, "%s", v[2].summary);

	/* By commit id: the plan as it was in that commit. */
	cr_assert_eq(plan_store_show(s, v[2].id, &e, &doc), 0, "%s", adp_error_last());
	cr_assert_str_eq(doc, "{\"n\": 1}");
	cr_assert_str_eq(e.id, v[2].id);
	free(doc);
	cr_assert_eq(plan_store_show(s, v[0].id, &e, &doc), 0);
	cr_assert_str_eq(doc, "{\"run\": 1}", "a run commit shows its run record");
	free(doc);
	cr_assert_eq(plan_store_show(s, "sched/2", &e, &doc), 0);
	cr_assert_str_eq(doc, "{\"n\": 2}");
	free(doc);
	cr_assert_eq(plan_store_show(s, "sched/7", &e, &doc), ADP_EINPUT);
	cr_assert_eq(plan_store_show(s, "nonsense", &e, &doc), ADP_EINPUT);
	cr_assert_not_null(strstr(adp_error_last(), "no reference 'nonsense'"));
	free(v);
	plan_store_free(s);
}

Test(store, push_to_a_local_bare_repository)
{
	struct plan_store *s, *r;
	char remote[160], lin[37], *text = NULL;
	git_repository *bare;

	snprintf(remote, sizeof(remote), "%s/remote.git", dir);
	git_libgit2_init();
	cr_assert_eq(git_repository_init(&bare, remote, 1), 0);
	git_repository_free(bare);
	git_libgit2_shutdown();
	cr_assert_eq(plan_store_open(&s, store_path, 1), 0);
	record(s, "sched", "{\"pushed\": 1}", lin);
	cr_assert_eq(plan_store_push(s, remote), 0, "%s", adp_error_last());
	record(s, "sched", "{\"pushed\": 2}", lin);
	cr_assert_eq(plan_store_push(s, remote), 0, "a second push fast-forwards: %s", adp_error_last());
	cr_assert_eq(plan_store_open(&r, remote, 0), 0);
	cr_assert_eq(plan_store_read(r, "sched/plans/2.json", &text), 0, "%s", adp_error_last());
	cr_assert_str_eq(text, "{\"pushed\": 2}");
	free(text);
	plan_store_free(r);
	cr_assert_neq(plan_store_push(s, "/nonexistent/remote.git"), 0);
	cr_assert_not_null(strstr(adp_error_last(), "cannot push"));
	plan_store_free(s);
}
