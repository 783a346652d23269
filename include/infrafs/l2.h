/* l2: the Redis second-level cache shared by a fleet of mounts.
 *
 * A pool of synchronous hiredis connections, each used by one thread at a
 * time, answers lookups (entry and class epoch in one script call, which
 * leaves out entries over 256 MiB), stores, the
 * per-key fetch locks (SET NX PX with a token of ours, released by a
 * compare-and-delete script) and invalidations (a new random epoch per
 * touched class, then a PUBLISH). One more connection, on a thread of its
 * own, listens to the invalidation channel.
 *
 * Redis is never needed: every call answers L2_UNAVAILABLE (or does
 * nothing) at once while Redis is down, and the first failure of an
 * outage is logged and recorded in the error log. Connection attempts
 * back off from 100 ms to 5 s; every command is bounded by a timeout. A
 * pooled connection that Redis closed while idle is replaced, not taken
 * for an outage; a command Redis refuses is counted, not an outage. The
 * listener probes a Redis found down, so that its recovery shows without
 * a read; after it reconnects, it reports a resync (invalidations may
 * have been missed meanwhile). Thread-safe. */
#pragma once

#include <glib.h>

#include "infrafs/classes.h"
#include "infrafs/errors.h"
#include "infrafs/redis_url.h"

/* Connecting and each command, at most. */
#define L2_DEFAULT_TIMEOUT_MS 500

enum l2_result {
	L2_HIT,         /* a valid entry, young enough */
	L2_MISS,        /* none (or too old, of another epoch, refused) */
	L2_LOCKED,      /* the lock is ours */
	L2_BUSY,        /* another holder has the lock */
	L2_UNAVAILABLE, /* Redis did not answer: carry on without it */
};

/* Counters for /.infrafs/stats. */
struct l2_counts {
	gboolean connected;             /* Redis answered last time it was asked */
	gboolean subscribed;            /* invalidations of other mounts reach this one */
	guint64 hits;
	guint64 misses;
	guint64 errors;                 /* failed connections and commands */
	guint64 lock_waits;             /* fetches that waited for another mount's */
	guint64 lock_timeouts;          /* ... and fetched themselves after the deadline */
	guint64 rejected;               /* corrupt, foreign, truncated or unusable entries */
	guint64 stores;
	guint64 invalidations_sent;
	guint64 invalidations_received;
	guint64 reconnects;             /* recoveries after an outage */
};

/* Told about an invalidation of another mount: `patterns` (lines as
 * written to .infrafs/invalidate), or NULL for "everything" after the
 * listener reconnected. Runs on the listener thread. */
typedef void (*l2_invalidation_fn)(const char *patterns, gsize len, gpointer user_data);

struct l2;

/* `url` is copied; `scope` from l2_format_scope(); `netbox_url` (may be
 * NULL) tells NetBoxes apart; `error_log` is borrowed. Connects lazily;
 * the listener starts with l2_listen(). */
struct l2 *l2_new(const struct redis_url *url, const char *scope, const char *netbox_url,
		  guint timeout_ms, struct error_log *error_log);
void l2_free(struct l2 *l2);

/* Start the listener thread; `on_invalidation` must stay valid until
 * l2_free(). */
void l2_listen(struct l2 *l2, l2_invalidation_fn on_invalidation, gpointer user_data);

/* Stop the listener and wait for it; no invalidation is applied after. */
void l2_stop(struct l2 *l2);

/* The entry of (class, key) if valid and fetched at most `max_age_us` ago
 * (with a negative `max_age_us`, only the epoch is read): L2_HIT with its
 * payload and fetch time, or L2_MISS; either way *epoch is the class's
 * epoch now, to store a fetch under. */
enum l2_result l2_get(struct l2 *l2, enum data_class data_class, const char *key,
		      gint64 max_age_us, GBytes **payload, gint64 *fetched_wall_us, guint64 *epoch);

/* Store a fetch begun at `fetched_wall_us` under `epoch`, to live
 * `lifetime_ms` in Redis. */
void l2_store(struct l2 *l2, enum data_class data_class, const char *key, guint64 epoch,
	      gint64 fetched_wall_us, const char *payload, gsize len, guint lifetime_ms);

/* Take the fetch lock of (class, key) for `lifetime_ms`: L2_LOCKED with
 * its token in *token (free with g_free), L2_BUSY or L2_UNAVAILABLE. */
enum l2_result l2_lock(struct l2 *l2, enum data_class data_class, const char *key,
		       guint lifetime_ms, char **token);

/* Release a lock taken with `token`, unless it expired and is another's. */
void l2_unlock(struct l2 *l2, enum data_class data_class, const char *key, const char *token);

/* Expire the fleet's entries of the classes set in `classes` (their
 * epochs change) and tell the other mounts `patterns`. */
void l2_invalidate(struct l2 *l2, const gboolean classes[CLASS_COUNT], const char *patterns,
		   gsize len);

/* Count what the caller noticed: an entry that decoded but could not be
 * used, a wait for another mount's fetch, a wait that passed its deadline. */
void l2_note_rejected(struct l2 *l2);
void l2_note_lock_wait(struct l2 *l2);
void l2_note_lock_timeout(struct l2 *l2);

void l2_counts(struct l2 *l2, struct l2_counts *counts);

/* The URL with its password masked. Borrowed. */
const char *l2_url_masked(const struct l2 *l2);
