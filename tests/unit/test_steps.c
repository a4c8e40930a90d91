/* plans/steps: the step list of a plan is numbered in order, moves
 * each replica's traffic before its home is updated, and the rollback
 * list undoes the forward steps in reverse. */
#include <criterion/criterion.h>
#include <string.h>

#include "plans/steps.h"
#include "tests/unit/planfix.h"

TestSuite(steps, .init = t_setup, .fini = t_teardown);

static int str_eq_null(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Index of the first step of wave matching the fields given (NULL: any). */
static size_t find(const struct plan *p, size_t wave, const char *action, const char *partition,
		   const char *component, size_t replica)
{
	size_t i;

	for (i = 0; i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];
		if (s->wave == wave && !strcmp(s->action, action) &&
		    (!partition || str_eq_null(s->partition, partition)) &&
		    (!component || (str_eq_null(s->component, component) && s->replica == replica)))
			return i;
	}
	cr_assert_fail("no %s step in wave %zu for %s/%s", action, wave, partition ? partition : "-",
		       component ? component : "-");
	return 0;
}

static void check_ids(const struct plan_step *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cr_assert_eq(s[i].id, i + 1, "step %zu has id %zu", i, s[i].id);
}

/* The rollback list is the inverse of every invertible forward step,
 * last first. */
static void check_rollback(const struct plan *p)
{
	size_t i = p->nsteps, j = 0;

	check_ids(p->rollback, p->nrollback);
	while (i-- > 0) {
		const struct plan_step *f = &p->steps[i];
		const struct plan_action_def *a = plan_action_find(f->action);

		cr_assert_not_null(a, "unknown action %s", f->action);
		if (!a->inverse)
			continue;
		cr_assert_lt(j, p->nrollback);
		cr_assert_str_eq(p->rollback[j].action, a->inverse, "rollback %zu", j);
		cr_assert_eq(p->rollback[j].wave, f->wave);
		cr_assert(str_eq_null(p->rollback[j].partition, f->partition));
		cr_assert(str_eq_null(p->rollback[j].component, f->component));
		cr_assert(str_eq_null(p->rollback[j].target, f->target));
		cr_assert_eq(p->rollback[j].replica, f->replica);
		j++;
	}
	cr_assert_eq(j, p->nrollback);
}

Test(steps, plan_from_run)
{
	struct plan p = { 0 };
	size_t w, j, moved = 0;

	cr_assert_eq(pf_default(&p), 0, "%s", adp_error_last());
	cr_assert_gt(p.nsteps, 0);
	check_ids(p.steps, p.nsteps);
	for (j = 0; j < p.nsteps; j++) {
		cr_assert_geq(p.steps[j].wave, 1);
		cr_assert_leq(p.steps[j].wave, p.nwaves);
		if (j)
			cr_assert_geq(p.steps[j].wave, p.steps[j - 1].wave, "waves run in order");
	}
	for (w = 0; w < p.nwaves; w++) {
		const struct plan_wave *wave = &p.waves[w];

		for (j = 0; j < wave->nplacements; j++) {
			const struct plan_placement *x = &wave->placements[j];
			size_t cp, ss, hc, st, dr, so, ru, vp, sb, sd;

			if (!x->from)
				continue;
			moved++;
			cp = find(&p, w + 1, "create_partition", x->partition, x->component, x->replica);
			ss = find(&p, w + 1, "start_shadow", x->partition, x->component, x->replica);
			hc = find(&p, w + 1, "health_check", x->partition, x->component, x->replica);
			st = find(&p, w + 1, "switch_traffic", x->partition, x->component, x->replica);
			dr = find(&p, w + 1, "drain", x->from, x->component, x->replica);
			so = find(&p, w + 1, "stop_original", x->from, x->component, x->replica);
			ru = find(&p, w + 1, "run_update", x->from, NULL, 0);
			vp = find(&p, w + 1, "verify_partition", x->from, NULL, 0);
			sb = find(&p, w + 1, "switch_back", x->from, x->component, x->replica);
			sd = find(&p, w + 1, "stop_shadow", x->partition, x->component, x->replica);
			cr_assert_lt(cp, ss);
			cr_assert_lt(ss, hc);
			cr_assert_lt(hc, st);
			cr_assert_lt(st, dr, "%s: traffic must move before its home drains", x->component);
			cr_assert_lt(dr, so);
			cr_assert_lt(so, ru, "%s: the original must stop before %s updates", x->component, x->from);
			cr_assert_lt(ru, vp);
			cr_assert_lt(vp, sb);
			cr_assert_lt(sb, sd);
			/* switch_back names where traffic comes from. */
			cr_assert_str_eq(p.steps[sb].target, x->partition);
		}
		/* One update per offline partition, timed out at twice its duration. */
		for (j = 0; j < wave->noffline; j++) {
			size_t ru = find(&p, w + 1, "run_update", wave->offline[j], NULL, 0);
			int64_t expect = !strcmp(wave->offline[j], "p3") ? 2 * 1800 : 2 * 2400;

			cr_assert_eq(p.steps[ru].timeout, expect, "%s", wave->offline[j]);
			cr_assert_null(p.steps[ru].component);
		}
	}
	cr_assert_gt(moved, 0);
	check_rollback(&p);
	plan_release(&p);
}

/* A plan of one wave with A offline and n empty placements, for the
 * hand-built plans below. */
static struct plan_wave *one_wave_plan(struct plan *p, size_t n)
{
	struct plan_wave *w;

	memset(p, 0, sizeof(*p));
	p->waves = calloc(1, sizeof(*p->waves));
	cr_assert_not_null(p->waves);
	p->nwaves = 1;
	w = &p->waves[0];
	w->offline = calloc(1, sizeof(char *));
	w->offline[0] = strdup("A");
	w->noffline = 1;
	w->placements = calloc(n, sizeof(*w->placements));
	w->nplacements = n;
	return w;
}

/* A one-wave plan by hand: c#0 moves from A to B, d#1 stays on B. */
static void hand_plan(struct plan *p)
{
	struct plan_wave *w = one_wave_plan(p, 2);

	w->placements[0].component = strdup("c");
	w->placements[0].partition = strdup("B");
	w->placements[0].from = strdup("A");
	w->placements[1].component = strdup("d");
	w->placements[1].replica = 1;
	w->placements[1].partition = strdup("B");
}

Test(steps, hand_built)
{
	static const char *const order[] = {
		"create_partition", "start_shadow", "health_check", "canary", "verify_shadow",
		"switch_traffic", "drain", "stop_original", "run_update", "verify_partition",
		"start_original", "health_check_original", "switch_back", "stop_shadow", "cleanup",
	};
	struct plan p;
	size_t i, invertible = 0;

	hand_plan(&p);
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0);
	/* Building again replaces the lists. */
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0);
	cr_assert_eq(p.nsteps, sizeof(order) / sizeof(order[0]));
	check_ids(p.steps, p.nsteps);
	for (i = 0; i < p.nsteps; i++) {
		const struct plan_action_def *a = plan_action_find(order[i]);

		cr_assert_str_eq(p.steps[i].action, order[i]);
		cr_assert_eq(p.steps[i].wave, 1);
		cr_assert_eq(p.steps[i].timeout, a->default_timeout);
		/* d never moves, so no step names it. */
		cr_assert(!p.steps[i].component || !strcmp(p.steps[i].component, "c"));
		invertible += a->inverse != NULL;
	}
	cr_assert_str_eq(p.steps[0].partition, "B");  /* create_partition on the target */
	cr_assert_str_eq(p.steps[6].partition, "A");  /* drain the home */
	cr_assert_str_eq(p.steps[8].partition, "A");  /* run_update */
	cr_assert_str_eq(p.steps[13].partition, "B"); /* stop_shadow on the target */
	cr_assert_eq(p.nrollback, invertible);
	check_rollback(&p);
	/* stop_shadow is the last invertible forward step; create_partition the first. */
	cr_assert_str_eq(p.rollback[0].action, "start_shadow");
	cr_assert_str_eq(p.rollback[p.nrollback - 1].action, "remove_partition");
	plan_release(&p);
}

static int64_t ten_minutes(const char *partition, void *ctx)
{
	cr_assert_str_eq(partition, "A");
	cr_assert_str_eq((const char *)ctx, "ctx");
	return 600;
}

Test(steps, update_timeout_callback)
{
	struct plan p;
	size_t ru;

	hand_plan(&p);
	cr_assert_eq(plan_steps_build(&p, ten_minutes, (void *)"ctx"), 0);
	ru = find(&p, 1, "run_update", "A", NULL, 0);
	cr_assert_eq(p.steps[ru].timeout, 600);
	plan_release(&p);
}

Test(steps, empty_plan)
{
	struct plan p = { 0 };

	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0);
	cr_assert_eq(p.nsteps, 0);
	cr_assert_eq(p.nrollback, 0);
	plan_release(&p);
}

Test(steps, vocabulary)
{
	size_t i;

	cr_assert_null(plan_action_find("reboot_everything"));
	for (i = 0; plan_actions[i].name; i++) {
		cr_assert_gt(plan_actions[i].default_timeout, 0, "%s", plan_actions[i].name);
		if (plan_actions[i].inverse)
			cr_assert_not_null(plan_action_find(plan_actions[i].inverse), "inverse of %s",
					   plan_actions[i].name);
	}
}

/* One wave, A offline: c#0 on A is absorbed by c#1 on B; d#0 on B is
 * granted less than its forecast (a reduction); e#0 on B is untouched. */
static void absorb_plan(struct plan *p)
{
	struct plan_wave *w = one_wave_plan(p, 3);

	w->placements[0].component = strdup("c");
	w->placements[0].replica = 1;
	w->placements[0].partition = strdup("B");
	w->placements[1].component = strdup("d");
	w->placements[1].partition = strdup("B");
	w->placements[2].component = strdup("e");
	w->placements[2].partition = strdup("B");
	w->absorbed = calloc(1, sizeof(*w->absorbed));
	w->nabsorbed = 1;
	w->absorbed[0].component = strdup("c");
	w->absorbed[0].partition = strdup("A");
	p->reductions = calloc(1, sizeof(*p->reductions));
	p->nreductions = 1;
	p->reductions[0].wave = 1;
	p->reductions[0].component = strdup("d");
	p->reductions[0].partition = strdup("B");
}

Test(steps, absorbed_and_resized)
{
	static const struct {
		const char *action, *partition, *component;
		size_t replica;
	} order[] = {
		{ "resize", "B", "c", 1 },
		{ "resize", "B", "d", 0 },
		{ "drain_absorbed", "A", "c", 0 },
		{ "stop_absorbed", "A", "c", 0 },
		{ "run_update", "A", NULL, 0 },
		{ "verify_partition", "A", NULL, 0 },
		{ "start_absorbed", "A", "c", 0 },
		{ "health_check_absorbed", "A", "c", 0 },
		{ "undrain_absorbed", "A", "c", 0 },
		{ "restore_size", "B", "c", 1 },
		{ "restore_size", "B", "d", 0 },
	};
	static const char *const back[] = { "resize", "resize", "drain_absorbed", "stop_absorbed",
					    "start_absorbed", "undrain_absorbed", "restore_size", "restore_size" };
	struct plan p;
	size_t i;

	absorb_plan(&p);
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0, "%s", adp_error_last());
	cr_assert_eq(p.nsteps, sizeof(order) / sizeof(order[0]));
	check_ids(p.steps, p.nsteps);
	for (i = 0; i < p.nsteps; i++) {
		cr_assert_str_eq(p.steps[i].action, order[i].action, "step %zu", i);
		cr_assert_str_eq(p.steps[i].partition, order[i].partition, "step %zu", i);
		cr_assert(str_eq_null(p.steps[i].component, order[i].component), "step %zu", i);
		cr_assert_eq(p.steps[i].replica, order[i].replica, "step %zu", i);
		cr_assert_eq(p.steps[i].timeout, plan_action_find(order[i].action)->default_timeout);
		/* e is neither reduced nor absorbing: never resized. */
		cr_assert(!p.steps[i].component || strcmp(p.steps[i].component, "e"));
	}
	cr_assert_eq(p.nrollback, sizeof(back) / sizeof(back[0]));
	for (i = 0; i < p.nrollback; i++)
		cr_assert_str_eq(p.rollback[i].action, back[i], "rollback %zu", i);
	check_rollback(&p);
	/* The vocabulary pairs them. */
	cr_assert_str_eq(plan_action_find("resize")->inverse, "restore_size");
	cr_assert_str_eq(plan_action_find("restore_size")->inverse, "resize");
	cr_assert_str_eq(plan_action_find("stop_absorbed")->inverse, "start_absorbed");
	cr_assert_str_eq(plan_action_find("drain_absorbed")->inverse, "undrain_absorbed");
	cr_assert_null(plan_action_find("health_check_absorbed")->inverse);
	plan_release(&p);
}

/* A reduction in another wave, or of another replica, resizes nothing. */
Test(steps, reduction_of_other_wave)
{
	struct plan p;
	size_t i;

	absorb_plan(&p);
	free(p.waves[0].absorbed[0].component);
	free(p.waves[0].absorbed[0].partition);
	free(p.waves[0].absorbed);
	p.waves[0].absorbed = NULL;
	p.waves[0].nabsorbed = 0;
	p.reductions[0].wave = 2;
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0);
	for (i = 0; i < p.nsteps; i++)
		cr_assert(strcmp(p.steps[i].action, "resize") && strcmp(p.steps[i].action, "restore_size"), "%s",
			  p.steps[i].action);
	cr_assert_eq(p.nsteps, 2);
	plan_release(&p);
}

/* Three waves: A, then B, then C offline. Wave 1 moves c#0 A->B; wave 2
 * moves d#0 B->C and e#0 B->A; wave 3 moves f#0 C->A. */
static void three_wave_plan(struct plan *p)
{
	static const char *const off[] = { "A", "B", "C" };
	static const struct {
		size_t wave;
		const char *comp, *from, *to;
	} mv[] = { { 0, "c", "A", "B" }, { 1, "d", "B", "C" }, { 1, "e", "B", "A" }, { 2, "f", "C", "A" } };
	size_t w, i;

	memset(p, 0, sizeof(*p));
	p->waves = calloc(3, sizeof(*p->waves));
	cr_assert_not_null(p->waves);
	p->nwaves = 3;
	for (w = 0; w < 3; w++) {
		p->waves[w].offline = calloc(1, sizeof(char *));
		p->waves[w].offline[0] = strdup(off[w]);
		p->waves[w].noffline = 1;
		p->waves[w].placements = calloc(2, sizeof(struct plan_placement));
	}
	for (i = 0; i < sizeof(mv) / sizeof(mv[0]); i++) {
		struct plan_wave *x = &p->waves[mv[i].wave];
		struct plan_placement *pl = &x->placements[x->nplacements++];

		pl->component = strdup(mv[i].comp);
		pl->from = strdup(mv[i].from);
		pl->partition = strdup(mv[i].to);
	}
}

/* Each wave but the last begins by making ahead the next wave's shadows
 * on partitions it keeps online; each is released last in a rollback,
 * after its own wave's undo. */
Test(steps, preallocate)
{
	struct plan p;
	char why[300];
	size_t i, n = 0, d, f;

	three_wave_plan(&p);
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0);
	for (i = 0; i < p.nsteps; i++)
		cr_assert_neq(p.steps[i].act, PLAN_PREALLOCATE_SHADOW, "none without plan->preallocate");
	p.preallocate = 1;
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0, "%s", adp_error_last());
	check_ids(p.steps, p.nsteps);
	check_rollback(&p);
	for (i = 0; i < p.nsteps; i++) {
		cr_assert(plan_step_prealloc_ok(&p, &p.steps[i], why, sizeof(why)), "step %zu: %s", i + 1, why);
		if (p.steps[i].act == PLAN_PREALLOCATE_SHADOW)
			n++;
		if (i)
			cr_assert_geq(p.steps[i].wave, p.steps[i - 1].wave, "waves stay contiguous");
	}
	/* d#0 on C in wave 1, f#0 on A in wave 2; not e#0 on A, offline in
	 * wave 1, and nothing for wave 1 (none before it) or after wave 3. */
	cr_assert_eq(n, 2);
	d = find(&p, 1, "preallocate_shadow", "C", "d", 0);
	f = find(&p, 2, "preallocate_shadow", "A", "f", 0);
	cr_assert_eq(d, 0, "first in wave 1");
	cr_assert_str_eq(p.steps[d + 1].action, "create_partition");
	cr_assert_eq(p.steps[f - 1].wave, 1);
	cr_assert_eq(p.steps[f].wave, 2, "first in wave 2");
	cr_assert_eq(plan_step_moved(&p, &p.steps[d]), &p.waves[1].placements[0], "prepares wave 2's d#0");
	cr_assert_eq(plan_step_moved(&p, &p.steps[f]), &p.waves[2].placements[0], "prepares wave 3's f#0");
	cr_assert_null(p.steps[d].target);
	cr_assert_eq(p.steps[d].timeout, plan_action_find("preallocate_shadow")->default_timeout);
	cr_assert_str_eq(plan_action_find("preallocate_shadow")->inverse, "release_shadow");
	cr_assert_null(plan_action_find("release_shadow")->inverse);
	cr_assert_str_eq(p.rollback[p.nrollback - 1].action, "release_shadow");
	cr_assert_str_eq(p.rollback[p.nrollback - 1].component, "d");
	cr_assert_eq(plan_step_moved(&p, &p.rollback[p.nrollback - 1]), &p.waves[1].placements[0]);
	plan_release(&p);
}

/* What validate refuses: a step plan_steps_build would not make. */
Test(steps, preallocate_refused)
{
	struct plan p;
	struct plan_step s;
	char why[300];

	three_wave_plan(&p);
	p.preallocate = 1;
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0);
	s = p.steps[0]; /* d#0 on C, wave 1 */
	s.wave = 3;
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)));
	cr_assert(strstr(why, "expected a wave from 1 to 2"), "%s", why);
	s.wave = 0;
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)));
	s = p.steps[0];
	s.partition = "B";
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)));
	cr_assert(strstr(why, "expected partition 'C'"), "%s", why);
	s.partition = NULL;
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)));
	s = p.steps[0];
	s.component = "c"; /* moved in wave 1, not 2 */
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)));
	cr_assert(strstr(why, "'c' replica 0 is not moved in wave 2"), "%s", why);
	s.component = NULL;
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)));
	s = p.steps[0];
	s.component = "e";
	s.partition = "A"; /* e#0's shadow, but A is offline in wave 1 */
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)));
	cr_assert(strstr(why, "'A' is offline in wave 1"), "%s", why);
	s.act = PLAN_RELEASE_SHADOW;
	cr_assert_not(plan_step_prealloc_ok(&p, &s, why, sizeof(why)), "its inverse alike");
	s.act = PLAN_START_SHADOW;
	cr_assert(plan_step_prealloc_ok(&p, &s, why, sizeof(why)), "other actions are not its concern");
	plan_release(&p);
}

/* On a planned estate: every moved replica of a later wave whose shadow
 * partition is online in the wave before is made ahead there, once. */
Test(steps, preallocate_planned)
{
	struct plan p = { 0 };
	size_t w, j, i, n;

	cr_assert_eq(pf_default(&p), 0, "%s", adp_error_last());
	cr_assert_gt(p.nwaves, 1);
	p.preallocate = 1;
	cr_assert_eq(plan_steps_build(&p, NULL, NULL), 0);
	check_rollback(&p);
	for (w = 1; w < p.nwaves; w++)
		for (j = 0; j < p.waves[w].nplacements; j++) {
			const struct plan_placement *x = &p.waves[w].placements[j];
			int off = 0;

			if (!x->from)
				continue;
			for (i = 0; i < p.waves[w - 1].noffline; i++)
				off |= !strcmp(p.waves[w - 1].offline[i], x->partition);
			for (i = 0, n = 0; i < p.nsteps; i++)
				if (p.steps[i].act == PLAN_PREALLOCATE_SHADOW && !strcmp(p.steps[i].component, x->component) &&
				    p.steps[i].replica == x->replica) {
					cr_assert_eq(p.steps[i].wave, w);
					cr_assert_str_eq(p.steps[i].partition, x->partition);
					n++;
				}
			cr_assert_eq(n, !off, "%s#%zu in wave %zu", x->component, x->replica, w + 1);
		}
	for (i = 0, n = 0; i < p.nsteps; i++)
		n += p.steps[i].act == PLAN_PREALLOCATE_SHADOW;
	cr_assert_gt(n, 0, "the estate has shadows to make ahead");
	plan_release(&p);
}
