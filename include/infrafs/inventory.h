/* inventory: the cache's loader. Fetches one (class, key) from the backend,
 * digests it into a model, and reports a failure once: one log line and one
 * record in the error log, however many readers were waiting on it. */
#pragma once

#include "infrafs/backend.h"
#include "infrafs/cache.h"
#include "infrafs/errors.h"
#include "infrafs/model.h"

struct inventory {
	struct backend *backend;     /* borrowed */
	struct error_log *error_log; /* borrowed */
};

/* A cache_load_fn; user_data is a struct inventory. Returns a struct model. */
gpointer inventory_load(enum data_class data_class, const char *key, gsize *size_bytes,
			GError **error, gpointer user_data);

/* The cache's free function for what inventory_load() returns. */
void inventory_free_value(gpointer model);

/* A cache_differ_fn for models: their content hashes differ. */
gboolean inventory_models_differ(gconstpointer old_model, gconstpointer new_model);
