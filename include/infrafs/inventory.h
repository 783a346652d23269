/* inventory: the cache's loader. Fetches one (class, key), digests it into
 * a model, and reports a failure once: one log line and one record in the
 * error log, however many readers were waiting on it.
 *
 * With a shared cache (l2), the read path is memory (the cache above) ->
 * Redis -> backend: a valid entry young enough answers; otherwise one
 * mount of the fleet fetches under the key's lock and stores the backend's
 * answer, while the others poll Redis for it until the lock's lifetime
 * passes, then fetch themselves. An entry counts as young enough for
 * nine tenths of the TTL, so that a refresh ahead of expiry asks the
 * backend, and mounts that read the refreshed entry line up behind it. */
#pragma once

#include "infrafs/backend.h"
#include "infrafs/cache.h"
#include "infrafs/errors.h"
#include "infrafs/l2.h"
#include "infrafs/model.h"

struct inventory {
	struct backend *backend;     /* borrowed */
	struct error_log *error_log; /* borrowed */
	struct l2 *l2;               /* borrowed; NULL without a shared cache */
	guint l2_lock_ms;            /* lifetime of a fetch lock: the longest a fetch takes */
};

/* A cache_load_fn; user_data is a struct inventory. Returns a struct model. */
gpointer inventory_load(struct cache_load *load, GError **error, gpointer user_data);

/* The cache's free function for what inventory_load() returns. */
void inventory_free_value(gpointer model);

/* A cache_differ_fn for models: their content hashes differ. */
gboolean inventory_models_differ(gconstpointer old_model, gconstpointer new_model);
