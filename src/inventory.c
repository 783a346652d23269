/* inventory: backend (through the shared cache) -> model, for the cache
 * (see infrafs/inventory.h). */
#include "infrafs/inventory.h"

#include "infrafs/clock.h"
#include "infrafs/json_util.h"

/* Polling Redis for another mount's fetch: first after 2 ms, then twice as
 * long each time up to 50 ms. */
#define INVENTORY_POLL_FIRST_US 2000
#define INVENTORY_POLL_MAX_US 50000

/* Fetch from the backend and digest; with `store_epoch`, also store the
 * answer in Redis under that class epoch. */
static struct model *load_from_backend(struct inventory *inventory,
				       const struct cache_load *load, const guint64 *store_epoch,
				       GError **error)
{
	gint64 started_wall_us = clock_wall_us();
	g_autoptr(json_object) json =
		backend_fetch(inventory->backend, load->data_class, load->key, error);
	struct model *model = json ? model_build(load->data_class, json, error) : NULL;

	/* An answer the model rejects names its request, as fetch errors do. */
	if (json != NULL && model == NULL && backend_fetch_request() != NULL)
		g_prefix_error(error, "GET %s: ", backend_fetch_request());
	if (model != NULL && store_epoch != NULL) {
		gsize len = 0;
		const char *text = json_object_to_json_string_length(json, JSON_C_TO_STRING_PLAIN,
								     &len);
		guint lifetime_ms = (load->ttl_s + load->grace_s) * 1000u;

		/* Stamped with the start of the fetch: the data is at least that old. */
		l2_store(inventory->l2, load->data_class, load->key, *store_epoch,
			 started_wall_us, text, len, lifetime_ms);
	}
	return model;
}

/* A model of a payload read from Redis, or NULL when it does not build. */
static struct model *model_from_payload(struct inventory *inventory, enum data_class data_class,
					GBytes *payload)
{
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const char *data = g_bytes_get_data(payload, &len);
	g_autoptr(json_object) json = json_util_parse(data, len, &error);
	struct model *model = json ? model_build(data_class, json, &error) : NULL;

	if (model == NULL) {
		g_info("an entry of %s from redis does not build: %s", classes_name(data_class),
		       error->message);
		l2_note_rejected(inventory->l2);
	}
	return model;
}

/* Look (class, key) up in Redis: L2_HIT with the entry built into *model,
 * L2_MISS (also for an entry that does not build), or L2_UNAVAILABLE.
 * Unless unavailable, *epoch is the class's epoch now. */
static enum l2_result lookup(struct inventory *inventory, struct cache_load *load,
			     gint64 max_age_us, guint64 *epoch, struct model **model)
{
	g_autoptr(GBytes) payload = NULL;
	gint64 fetched_wall_us = 0;
	enum l2_result found = l2_get(inventory->l2, load->data_class, load->key, max_age_us,
				      &payload, &fetched_wall_us, epoch);

	if (found != L2_HIT)
		return found;
	*model = model_from_payload(inventory, load->data_class, payload);
	if (*model == NULL)
		return L2_MISS;
	load->fetched_wall_us = fetched_wall_us;
	return L2_HIT;
}

static struct model *load_shared(struct inventory *inventory, struct cache_load *load,
				 GError **error)
{
	struct l2 *l2 = inventory->l2;
	/* Data to be fetched now is only looked up for its class's epoch. */
	gint64 max_age_us = load->fresh_only ? -1 : (gint64)load->ttl_s * G_USEC_PER_SEC * 9 / 10;
	gint64 deadline_us = g_get_monotonic_time() + (gint64)inventory->l2_lock_ms * 1000;
	gint64 pause_us = INVENTORY_POLL_FIRST_US;
	gboolean waited = FALSE;

	for (;;) {
		struct model *model = NULL;
		guint64 epoch = 0;
		enum l2_result found = lookup(inventory, load, max_age_us, &epoch, &model);

		if (found == L2_HIT)
			return model;
		if (found == L2_UNAVAILABLE)
			return load_from_backend(inventory, load, NULL, error);

		g_autofree char *token = NULL;
		enum l2_result locked = l2_lock(l2, load->data_class, load->key,
						inventory->l2_lock_ms, &token);

		if (locked == L2_LOCKED) {
			/* The holder before us may have stored it between our lookup
			 * and our lock: look once more before asking the backend. */
			if (max_age_us < 0 ||
			    lookup(inventory, load, max_age_us, &epoch, &model) != L2_HIT)
				model = load_from_backend(inventory, load, &epoch, error);
			l2_unlock(l2, load->data_class, load->key, token);
			return model;
		}
		/* Data fetched now cannot come from someone else's fetch. */
		if (locked == L2_UNAVAILABLE || load->fresh_only)
			return load_from_backend(inventory, load, &epoch, error);
		if (!waited) {
			l2_note_lock_wait(l2);
			waited = TRUE;
		}
		gint64 now_us = g_get_monotonic_time();

		if (now_us >= deadline_us) {
			l2_note_lock_timeout(l2);
			return load_from_backend(inventory, load, &epoch, error);
		}
		g_usleep((gulong)MIN(pause_us, deadline_us - now_us));
		pause_us = MIN(pause_us * 2, INVENTORY_POLL_MAX_US);
	}
}

gpointer inventory_load(struct cache_load *load, GError **error, gpointer user_data)
{
	struct inventory *inventory = user_data;
	g_autoptr(GError) local_error = NULL;
	g_autofree char *what = load->key ? g_strdup_printf("%s/%s", classes_name(load->data_class),
							    load->key)
					  : g_strdup(classes_name(load->data_class));
	/* A TTL of 0 means every read asks the backend: nothing to share. */
	struct model *model = inventory->l2 != NULL && load->ttl_s > 0
				      ? load_shared(inventory, load, &local_error)
				      : load_from_backend(inventory, load, NULL, &local_error);

	if (model == NULL) {
		g_message("fetching %s failed: %s", what, local_error->message);
		error_log_add(inventory->error_log, what, local_error);
		g_propagate_error(error, g_steal_pointer(&local_error));
		return NULL;
	}
	g_debug("fetched %s: %zu bytes", what, model->size_bytes);
	load->size_bytes = model->size_bytes;
	return model;
}

void inventory_free_value(gpointer model)
{
	model_free(model);
}

gboolean inventory_models_differ(gconstpointer old_model, gconstpointer new_model)
{
	const struct model *a = old_model, *b = new_model;

	return a->content_hash != b->content_hash;
}
