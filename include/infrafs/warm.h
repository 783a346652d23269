/* warm: fills the cache in the background after mounting, so a cold
 * workstation becomes warm without a burst against the API.
 *
 * One thread walks the configured classes in order (collections first,
 * then the per-key classes they name: quotas of every project, servers of
 * every hypervisor), fetching what is not fresh through the cache, at most
 * `rate` fetches a second. Readers are never queued behind it: they share a
 * fetch the warmer started, or start their own. Thread-safe. */
#pragma once

#include <glib.h>

#include "infrafs/cache.h"

struct warm;

/* `classes` lists what to warm (may be empty); `rate_per_s` bounds the
 * fetches the warmer makes. Nothing starts until warm_start(). */
struct warm *warm_new(struct cache *cache, const gboolean classes[CLASS_COUNT],
		      double rate_per_s);

/* Stops the thread (waiting for a fetch under way) and frees. */
void warm_free(struct warm *warm);

/* Start (or restart from the beginning) / stop warming. */
void warm_start(struct warm *warm);
void warm_stop(struct warm *warm);

/* Progress: "state <off|running|done|stopped>", then one line per class:
 * "<class> <done>/<total> <errors> errors". */
GBytes *warm_render(struct warm *warm);
