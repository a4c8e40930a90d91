/* apply's gates: the schedule's "gates" (adpart-update(5)) evaluated
 * before the first step and before every wave. Every gate fails closed:
 * a gate that cannot get an answer blocks, saying why. */
#ifndef ADP_ORCH_GATES_H
#define ADP_ORCH_GATES_H

#include <stddef.h>

#include "partition/schedule.h"
#include "plans/plan.h"

#define ORCH_GATE_MAX_BYTES ((size_t)8 << 20) /* an /api/v1/alerts answer */

/* What the gates say of a wave. */
enum orch_gate { ORCH_GATE_OPEN, ORCH_GATE_BLOCKED, ORCH_GATE_SKIP };

/* The alert gate: 0 when no alert blocks; 1 when one does (why names it
 * and its labels); a negative ADP_E* when Prometheus gave no usable
 * answer (the error says why). */
int orch_gate_alerts(const struct schedule_alert_gate *a, char *why, size_t len);

/* The sentinel of partition: 1 an update is needed, 0 not, or a negative
 * ADP_E* when it gave no answer (a command killed, timed out, or exiting
 * other than 0 or 1). */
int orch_gate_sentinel(const struct schedule_sentinel *s, const char *partition);

/* Every gate before wave (1-based) of p: ORCH_GATE_BLOCKED with why (an
 * alert, or a gate without an answer), ORCH_GATE_SKIP when no partition
 * the wave takes offline needs the update (why lists them), else
 * ORCH_GATE_OPEN. g may be NULL (no gates). */
enum orch_gate orch_gates_check(const struct schedule_gates *g, const struct plan *p, size_t wave, char *why,
				size_t len);

#endif
