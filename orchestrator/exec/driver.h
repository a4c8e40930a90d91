/* The exec driver: every driver call is one run of a user's hook
 * program, `HOOK PHASE` (check, act, sample or grow), with a JSON document
 * about the call on its standard input. The escape hatch for systems no
 * built-in driver knows (cloud APIs, hypervisors). The protocol is in
 * adpart-update(1), apply.
 *
 * The engine may cancel an act at its step's deadline: the hook's whole
 * process group is ended (SIGTERM, two seconds, SIGKILL) and the act
 * returns, failing the step. */
#ifndef ADP_ORCH_EXEC_H
#define ADP_ORCH_EXEC_H

#include <stdatomic.h>
#include <stdint.h>

#include "orchestrator/engine.h"

#define ORCH_EXEC_MAX_OUTPUT ((size_t)1 << 20) /* hook stdout read, bytes */
#define ORCH_EXEC_DEFAULT_TIMEOUT 60          /* seconds, calls without a step timeout */
#define ORCH_EXEC_NO_DATA 3                    /* sample's exit status for "no data" */

struct orch_exec {
	char *hook;        /* owned: the program, run by path (no shell, no PATH search) */
	char *log;         /* owned: the hooks' stderr is appended here */
	int64_t timeout;   /* for check, sample and grow; act uses the step's */
	atomic_int cancel; /* set by the engine's thread: the hook under way is to stop */
};

/* hook must be an executable file; state_dir (created if absent) holds
 * logs/hook.log. */
int orch_exec_init(struct orch_exec *e, const char *hook, const char *state_dir);
void orch_exec_release(struct orch_exec *e);

/* Fills d with the exec driver acting through e (borrowed): check, an
 * ops table, cancel, sample and grow. */
void orch_exec_driver(struct orch_driver *d, struct orch_exec *e);

#endif
