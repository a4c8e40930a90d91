/* Test-only fault injection (curl's torture tests, SQLite's malloc
 * tests): the Nth call at a fault point fails as a full disk would, so
 * that tests can drive every write of plan and of apply's journal into
 * failure. Armed by adp_fault_arm, or once from the environment variable
 * ADPART_TEST_FAULT="POINT:N[:COUNT]" (POINT write, fsync, rename or solver;
 * COUNT calls fail from the Nth on, default all). Off unless armed. */
#ifndef ADP_FAULT_H
#define ADP_FAULT_H

/* SOLVER: GLPK's branch and bound fails as it does numerically on some
 * large waves (its code GLP_EFAIL). */
enum adp_fault_point { ADP_FAULT_WRITE, ADP_FAULT_FSYNC, ADP_FAULT_RENAME, ADP_FAULT_SOLVER, ADP_FAULT_COUNT };

/* Calls nth .. nth + count - 1 (1-based, counted from now) at point
 * fail; count < 0: every call from the nth on; nth 0 disarms. */
void adp_fault_arm(int point, long nth, long count);

/* Non-zero when this call at point must fail (the caller sets errno to
 * ENOSPC and fails as it would for real). Thread-safe. */
int adp_fault_hit(int point);

#endif
