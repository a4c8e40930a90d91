/* The exec driver: every driver call is one run of a user's hook
 * program, `HOOK PHASE` (check, act, sample or grow), with a JSON document
 * about the call on its standard input. The escape hatch for systems no
 * built-in driver knows (cloud APIs, hypervisors). The protocol is in
 * adpart-update(1), apply. */
#ifndef ADP_ORCH_EXEC_H
#define ADP_ORCH_EXEC_H

#include <stdint.h>

#include "orchestrator/engine.h"

#define ORCH_EXEC_MAX_OUTPUT ((size_t)1 << 20) /* hook stdout read, bytes */
#define ORCH_EXEC_DEFAULT_TIMEOUT 60          /* seconds, calls without a step timeout */
#define ORCH_EXEC_NO_DATA 3                    /* sample's exit status for "no data" */

struct orch_exec {
	char *hook;        /* owned: the program, run by path (no shell, no PATH search) */
	char *log;         /* owned: the hooks' stderr is appended here */
	int64_t timeout;   /* for check, sample and grow; act uses the step's */
};

/* hook must be an executable file; state_dir holds logs/hook.log. */
int orch_exec_init(struct orch_exec *e, const char *hook, const char *state_dir);
void orch_exec_release(struct orch_exec *e);

/* Fills d with the exec driver acting through e. */
void orch_exec_driver(struct orch_driver *d, struct orch_exec *e);

#endif
