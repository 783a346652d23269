/* inventory: backend -> model, for the cache (see infrafs/inventory.h). */
#include "infrafs/inventory.h"

#include "infrafs/json_util.h"

gpointer inventory_load(enum data_class data_class, const char *key, gsize *size_bytes,
			GError **error, gpointer user_data)
{
	struct inventory *inventory = user_data;
	g_autoptr(GError) local_error = NULL;
	g_autofree char *what = key ? g_strdup_printf("%s/%s", classes_name(data_class), key)
				    : g_strdup(classes_name(data_class));
	g_autoptr(json_object) json =
		backend_fetch(inventory->backend, data_class, key, &local_error);
	struct model *model = json ? model_build(data_class, json, &local_error) : NULL;

	/* An answer the model rejects names its request, as fetch errors do. */
	if (json != NULL && model == NULL && backend_fetch_request() != NULL)
		g_prefix_error(&local_error, "GET %s: ", backend_fetch_request());

	if (model == NULL) {
		g_message("fetching %s failed: %s", what, local_error->message);
		error_log_add(inventory->error_log, what, local_error);
		g_propagate_error(error, g_steal_pointer(&local_error));
		return NULL;
	}
	g_debug("fetched %s: %zu bytes", what, model->size_bytes);
	*size_bytes = model->size_bytes;
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
