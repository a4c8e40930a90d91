/* What the fleet semaphores share: the one on etcd (fleet/) and the one
 * on Kubernetes Leases (kube/lease.h). Both give the engine a struct
 * orch_slot (engine.h); here are their limits, the holder's description
 * and how a refusal names the holders, the wait for a free slot (its
 * limit and backoff), and the keepalive thread with its rules for a
 * slot that is lost. */
#ifndef ADP_ORCH_SLOTS_H
#define ADP_ORCH_SLOTS_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define ORCH_SLOTS_MAX 1000
#define ORCH_SLOT_TTL_DEFAULT 30
#define ORCH_SLOT_TTL_MIN 5
#define ORCH_SLOT_TTL_MAX 600
#define ORCH_SLOT_GROUP_MAX 128
#define ORCH_SLOT_POLL_MAX 2.0 /* seconds: the longest pause between two looks for a free slot */
#define ORCH_SLOT_WAIT_PLAN (-1)
#define ORCH_SLOT_HOLDERS_SHOWN 5 /* holders a refusal names, then "and N more" */

/* Seconds on the monotonic clock. */
double orch_slot_mono(void);

/* The holder as a slot records it (owned: free; NULL when out of
 * memory): a compact JSON object with host, state_dir, pid (this
 * process), plan and since (now). state_dir and plan may be NULL. */
char *orch_slot_holder_json(const char *host, const char *state_dir, const char *plan);

/* A held slot as a refusal names it: value is a holder's JSON (as
 * orch_slot_holder_json writes it) or, from another writer, any text.
 * Both borrowed. */
struct orch_slot_holder {
	long slot;
	const char *value;
};

/* Appends "slot 0 held by host 'a' (pid 1, state dir '/x', plan 'p',
 * since T); ..." to b: the first ORCH_SLOT_HOLDERS_SHOWN, then "and N
 * more"; with none, that every slot was taken just now. */
void orch_slot_describe(struct adp_buf *b, const struct orch_slot_holder *h, size_t n);

/* Sleeps up to secs in short slices: non-zero when *stop (may be NULL)
 * came first. */
int orch_slot_pause(volatile sig_atomic_t *stop, double secs);

/* The wait for a free slot: looks again after 0.25 s, doubling to
 * ORCH_SLOT_POLL_MAX, until one is taken or the limit: wait_max (the
 * option, ORCH_SLOT_WAIT_PLAN for none) or the engine's wait_s,
 * whichever is shorter. All pointers borrowed. */
struct orch_slot_wait {
	/* One look at every slot: 0 when one was taken; 1 when all are
	 * held, their holders described into held (emptied first by the
	 * caller of look); a negative ADP_E* when it could not be asked. */
	int (*look)(void *arg, struct adp_buf *held);
	/* Between looks: non-zero, with why, when what the wait holds
	 * (etcd's lease) is lost. NULL: nothing is held while waiting. */
	int (*lost)(void *arg, char *why, size_t len);
	void *arg;
	const char *group;
	long slots;            /* 0: the server counts them (FleetLock) */
	const char *where;     /* "at etcd 'URL'", "as Leases in namespace 'ns'": for the refusal */
	int64_t wait_max;
	double wait_s;
	volatile sig_atomic_t *stop; /* may be NULL */
};

/* 0 when a slot was taken; 1 when *stop came first; ADP_EINPUT with
 * *refused set when none freed in time (the message names the holders
 * and what to do); otherwise look's error (*refused 0). */
int orch_slot_wait(const struct orch_slot_wait *w, int *refused);

/* The thread that keeps a slot held, calling renew every period
 * seconds. A renew that says the slot is gone loses it at once;
 * renewals that fail (the server unreachable) are retried every second,
 * and after a period of them the slot is lost too: it may still be held
 * a little, but nobody can say for how long. */
struct orch_keepalive {
	/* 0 renewed; 1 lost now, why (a phrase) written; a negative ADP_E*
	 * when it failed (its message is kept for the loss). Runs on the
	 * thread. */
	int (*renew)(void *arg, char *why, size_t len);
	void *arg;                 /* borrowed */
	char what[330];            /* "its lease 42": "... could not be kept alive for N s" */
	double period;             /* seconds */
	/* quit, lost and why under mu */
	pthread_t th;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int quit, lost;
	char why[512];
};

/* The mutex and condition (monotonic); the thread is not started. */
void orch_keepalive_init(struct orch_keepalive *ka);
void orch_keepalive_release(struct orch_keepalive *ka);
/* Starts the thread (renew and arg set, period > 0): 0 or ADP_ESYS. */
int orch_keepalive_start(struct orch_keepalive *ka);
/* Stops and joins the thread; nothing running is no error. */
void orch_keepalive_stop(struct orch_keepalive *ka);
/* Whether the thread is being stopped: a renew in flight is cancelled. */
int orch_keepalive_quitting(struct orch_keepalive *ka);
/* The engine's healthy: 1 while running and not lost, else 0 with why. */
int orch_keepalive_healthy(struct orch_keepalive *ka, char *why, size_t len);
/* Non-zero, with why, once lost. */
int orch_keepalive_lost(struct orch_keepalive *ka, char *why, size_t len);

#endif
