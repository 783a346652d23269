/* model: JSON -> immutable snapshots (see infrafs/model.h). */
#include "infrafs/model.h"

#include <math.h>
#include <string.h>

#include "infrafs/errors.h"
#include "infrafs/json_util.h"
#include "infrafs/names.h"
#include "infrafs/render.h"

/* Rough bookkeeping cost of one item beyond its JSON text, in bytes. */
#define MODEL_ITEM_OVERHEAD_BYTES 256

static void item_clear(struct model_item *item)
{
	g_free(item->name);
	g_free(item->file_name);
	g_free(item->id);
	g_clear_pointer(&item->json, g_bytes_unref);
}

static void values_clear(struct model_values *values)
{
	g_clear_pointer(&values->keys, g_ptr_array_unref);
	g_clear_pointer(&values->values, g_hash_table_unref);
}

static void aggregate_free(gpointer data)
{
	struct model_aggregate *aggregate = data;

	item_clear(&aggregate->item);
	g_free(aggregate->availability_zone);
	g_clear_pointer(&aggregate->hosts, g_ptr_array_unref);
	values_clear(&aggregate->metadata);
	g_free(aggregate);
}

static void host_free(gpointer data)
{
	struct model_host *host = data;

	item_clear(&host->item);
	g_free(host->service_host);
	g_free(host->state);
	g_free(host->status);
	g_free(host);
}

static void flavor_free(gpointer data)
{
	struct model_flavor *flavor = data;

	item_clear(&flavor->item);
	values_clear(&flavor->extra_specs);
	g_free(flavor);
}

static void project_free(gpointer data)
{
	struct model_project *project = data;

	item_clear(&project->item);
	g_free(project);
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Object members as encoded file name -> text value. Values that are not
 * scalars are shown as compact JSON; null as an empty value. */
static void values_from_object(struct model_values *values, json_object *object)
{
	values->keys = g_ptr_array_new_with_free_func(g_free);
	values->values = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	if (object == NULL)
		return;

	guint n = (guint)json_object_object_length(object);
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	g_autoptr(GPtrArray) texts = g_ptr_array_new();

	json_object_object_foreach(object, key, value)
	{
		char *text;

		if (value == NULL)
			text = g_strdup("");
		else if (json_object_is_type(value, json_type_string))
			text = g_strdup(json_object_get_string(value));
		else
			text = g_strdup(json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
		g_ptr_array_add(names, key);
		g_ptr_array_add(texts, text);
	}
	/* Keys of one JSON object are distinct, so ids = names suffices. */
	g_autoptr(GPtrArray) file_names = names_encode_unique(
		(const char *const *)names->pdata, (const char *const *)names->pdata, n);

	for (guint i = 0; i < n; i++) {
		char *file_name = g_strdup(file_names->pdata[i]);

		g_ptr_array_add(values->keys, file_name);
		g_hash_table_insert(values->values, file_name, texts->pdata[i]);
	}
	g_ptr_array_sort(values->keys, compare_strings);
}

static void item_fill(struct model_item *item, json_object *object, const char *name_key)
{
	item->name = json_util_scalar_text(object, name_key);
	item->id = json_util_scalar_text(object, "id");
	item->json = render_json(object);
	item->json_hash = model_hash_bytes(item->json, 0);
}

static gpointer aggregate_new(json_object *object)
{
	struct model_aggregate *aggregate = g_new0(struct model_aggregate, 1);
	json_object *hosts = json_util_get(object, "hosts", json_type_array);

	item_fill(&aggregate->item, object, "name");
	aggregate->availability_zone = json_util_scalar_text(object, "availability_zone");
	aggregate->hosts = g_ptr_array_new_with_free_func(g_free);
	for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
		json_object *host = json_object_array_get_idx(hosts, i);

		if (host != NULL && json_object_is_type(host, json_type_string))
			g_ptr_array_add(aggregate->hosts, g_strdup(json_object_get_string(host)));
	}
	values_from_object(&aggregate->metadata,
			   json_util_get(object, "metadata", json_type_object));
	return aggregate;
}

static gpointer host_new(json_object *object)
{
	struct model_host *host = g_new0(struct model_host, 1);
	json_object *service = json_util_get(object, "service", json_type_object);

	item_fill(&host->item, object, "hypervisor_hostname");
	host->service_host = json_util_scalar_text(service, "host");
	host->state = json_util_scalar_text(object, "state");
	host->status = json_util_scalar_text(object, "status");
	return host;
}

static gpointer flavor_new(json_object *object)
{
	struct model_flavor *flavor = g_new0(struct model_flavor, 1);

	item_fill(&flavor->item, object, "name");
	values_from_object(&flavor->extra_specs,
			   json_util_get(object, "extra_specs", json_type_object));
	return flavor;
}

static gpointer project_new(json_object *object)
{
	struct model_project *project = g_new0(struct model_project, 1);

	item_fill(&project->item, object, "name");
	return project;
}

static const struct {
	gpointer (*item_new)(json_object *object);
	GDestroyNotify item_free;
} collection_kinds[CLASS_COUNT] = {
	[CLASS_AGGREGATES] = { aggregate_new, aggregate_free },
	[CLASS_HOSTS] = { host_new, host_free },
	[CLASS_FLAVORS] = { flavor_new, flavor_free },
	[CLASS_PROJECTS] = { project_new, project_free },
};

static int compare_items(gconstpointer a, gconstpointer b)
{
	const struct model_item *x = *(const struct model_item *const *)a;
	const struct model_item *y = *(const struct model_item *const *)b;

	return strcmp(x->file_name, y->file_name);
}

static void collection_free(struct model_collection *collection)
{
	if (collection == NULL)
		return;
	g_clear_pointer(&collection->by_file_name, g_hash_table_unref);
	g_clear_pointer(&collection->by_service_host, g_hash_table_unref);
	g_clear_pointer(&collection->aggregates_by_host, g_hash_table_unref);
	g_clear_pointer(&collection->items, g_ptr_array_unref);
	g_clear_pointer(&collection->json, g_bytes_unref);
	g_free(collection);
}

static void index_hosts(struct model_collection *collection)
{
	g_autoptr(GHashTable) owners = g_hash_table_new(g_str_hash, g_str_equal);

	collection->by_service_host = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < collection->items->len; i++) {
		struct model_host *host = collection->items->pdata[i];

		if (host->service_host == NULL)
			continue;
		/* Ironic: one service host owns many nodes; no alias then. */
		guint count = GPOINTER_TO_UINT(g_hash_table_lookup(owners, host->service_host));

		g_hash_table_insert(owners, host->service_host, GUINT_TO_POINTER(count + 1));
	}
	for (guint i = 0; i < collection->items->len; i++) {
		struct model_host *host = collection->items->pdata[i];

		if (host->service_host == NULL ||
		    GPOINTER_TO_UINT(g_hash_table_lookup(owners, host->service_host)) != 1)
			continue;
		char *alias = names_encode(host->service_host);

		if (g_hash_table_contains(collection->by_file_name, alias))
			g_free(alias);
		else
			g_hash_table_insert(collection->by_service_host, alias, host);
	}
}

static void index_aggregates(struct model_collection *collection)
{
	collection->aggregates_by_host = g_hash_table_new_full(
		g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_ptr_array_unref);
	for (guint i = 0; i < collection->items->len; i++) {
		struct model_aggregate *aggregate = collection->items->pdata[i];

		for (guint h = 0; h < aggregate->hosts->len; h++) {
			char *host = aggregate->hosts->pdata[h];
			GPtrArray *list = g_hash_table_lookup(collection->aggregates_by_host, host);

			if (list == NULL) {
				list = g_ptr_array_new();
				g_hash_table_insert(collection->aggregates_by_host, host, list);
			}
			if (list->len == 0 || list->pdata[list->len - 1] != aggregate)
				g_ptr_array_add(list, aggregate);
		}
	}
}

static struct model_collection *collection_build(enum data_class data_class, json_object *json,
						 gsize *size_bytes, GError **error)
{
	if (json == NULL || !json_object_is_type(json, json_type_array)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "%s: expected a JSON array", classes_name(data_class));
		return NULL;
	}
	guint n = (guint)json_object_array_length(json);
	struct model_collection *collection = g_new0(struct model_collection, 1);
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	g_autoptr(GPtrArray) ids = g_ptr_array_new();

	collection->data_class = data_class;
	collection->items = g_ptr_array_new_full(n, collection_kinds[data_class].item_free);
	*size_bytes = 0;
	for (guint i = 0; i < n; i++) {
		json_object *object = json_object_array_get_idx(json, i);

		if (object == NULL || !json_object_is_type(object, json_type_object)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
				    "%s: item %u is not a JSON object", classes_name(data_class), i);
			collection_free(collection);
			return NULL;
		}
		struct model_item *item = collection_kinds[data_class].item_new(object);

		g_ptr_array_add(collection->items, item);
		g_ptr_array_add(names, item->name);
		g_ptr_array_add(ids, item->id);
		*size_bytes += g_bytes_get_size(item->json) + MODEL_ITEM_OVERHEAD_BYTES;
	}
	g_autoptr(GPtrArray) file_names = names_encode_unique(
		(const char *const *)names->pdata, (const char *const *)ids->pdata, n);

	collection->by_file_name = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < n; i++) {
		struct model_item *item = collection->items->pdata[i];

		item->file_name = g_strdup(file_names->pdata[i]);
	}
	g_ptr_array_sort(collection->items, compare_items);
	for (guint i = 0; i < n; i++) {
		struct model_item *item = collection->items->pdata[i];

		g_hash_table_insert(collection->by_file_name, item->file_name, item);
	}
	collection->json = render_json(json);
	collection->json_hash = model_hash_bytes(collection->json, 0);
	*size_bytes += g_bytes_get_size(collection->json);
	if (data_class == CLASS_HOSTS)
		index_hosts(collection);
	if (data_class == CLASS_AGGREGATES)
		index_aggregates(collection);
	return collection;
}

/* "resource limit in_use reserved" per line, sorted by resource. */
static GBytes *quota_table(json_object *quota_set)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

	json_object_object_foreach(quota_set, resource, value)
	{
		if (g_strcmp0(resource, "id") == 0 || value == NULL)
			continue;
		if (json_object_is_type(value, json_type_object)) {
			g_autofree char *limit = json_util_scalar_text(value, "limit");
			g_autofree char *in_use = json_util_scalar_text(value, "in_use");
			g_autofree char *reserved = json_util_scalar_text(value, "reserved");

			g_ptr_array_add(lines, g_strdup_printf("%s %s %s %s", resource,
							       limit ? limit : "-",
							       in_use ? in_use : "-",
							       reserved ? reserved : "-"));
		} else if (json_object_is_type(value, json_type_int)) {
			g_ptr_array_add(lines, g_strdup_printf("%s %" G_GINT64_FORMAT " - -",
							       resource,
							       json_object_get_int64(value)));
		}
	}
	g_ptr_array_sort(lines, compare_strings);
	return render_lines((const char *const *)lines->pdata, lines->len);
}

/* A number from the API as an integer: NaN is 0, and beyond the range of
 * gint64 is its nearest end (a cast would be undefined behaviour). */
static gint64 clamp_to_int64(double value)
{
	if (isnan(value))
		return 0;
	if (value >= 9223372036854775807.0)
		return G_MAXINT64;
	if (value <= -9223372036854775808.0)
		return G_MININT64;
	return (gint64)value;
}

static double number_of(json_object *object, const char *key, double fallback)
{
	json_object *member = NULL;

	if (object == NULL || !json_object_object_get_ex(object, key, &member) || member == NULL ||
	    !(json_object_is_type(member, json_type_int) ||
	      json_object_is_type(member, json_type_double)))
		return fallback;
	return json_object_get_double(member);
}

/* inventory.json: the provider tree as fetched, plus "totals" per resource
 * class over the whole tree: capacity = (total - reserved) x allocation
 * ratio, used, free. *capacities gets the capacity of each class (which
 * of them are GPUs is for the GPU rules to say). Returns a new object. */
static json_object *placement_document(json_object *json, GHashTable **capacities,
				       GError **error)
{
	json_object *providers = json_util_require_array(json, "resource_providers", error);

	if (providers == NULL)
		return NULL;
	g_autoptr(GHashTable) capacity = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GHashTable) used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(json_object) empty = json_object_new_object();

	for (size_t i = 0; i < json_object_array_length(providers); i++) {
		json_object *provider = json_object_array_get_idx(providers, i);
		json_object *inventories = json_util_get(provider, "inventories", json_type_object);
		json_object *usages = json_util_get(provider, "usages", json_type_object);

		/* A provider without them (or not an object) adds nothing;
		 * json-c's foreach cannot walk a NULL. */
		if (inventories == NULL)
			inventories = empty;
		if (usages == NULL)
			usages = empty;
		json_object_object_foreach(inventories, rc, inventory)
		{
			double *sum = g_hash_table_lookup(capacity, rc);

			if (sum == NULL) {
				sum = g_new0(double, 1);
				g_hash_table_insert(capacity, g_strdup(rc), sum);
			}
			*sum += (number_of(inventory, "total", 0) - number_of(inventory, "reserved", 0)) *
				number_of(inventory, "allocation_ratio", 1.0);
		}
		json_object_object_foreach(usages, usage_rc, amount)
		{
			double *sum = g_hash_table_lookup(used, usage_rc);

			if (sum == NULL) {
				sum = g_new0(double, 1);
				g_hash_table_insert(used, g_strdup(usage_rc), sum);
			}
			*sum += amount && (json_object_is_type(amount, json_type_int) ||
					   json_object_is_type(amount, json_type_double))
					? json_object_get_double(amount)
					: 0;
		}
	}
	json_object *document = json_object_new_object();
	json_object *totals = json_object_new_object();
	/* Sorted, so that equal data renders to equal bytes (and one version). */
	g_autoptr(GPtrArray) classes = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, capacity);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(classes, key);
	g_ptr_array_sort(classes, compare_strings);
	json_object_object_add(document, "resource_providers", json_object_get(providers));
	json_object_object_add(document, "totals", totals);
	*capacities = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	for (guint i = 0; i < classes->len; i++) {
		const char *rc = classes->pdata[i];
		double cap = *(double *)g_hash_table_lookup(capacity, rc);
		double *in_use = g_hash_table_lookup(used, rc);
		json_object *total = json_object_new_object();

		gint64 capacity_n = clamp_to_int64(cap);

		json_object_object_add(total, "capacity", json_object_new_int64(capacity_n));
		json_object_object_add(total, "used",
				       json_object_new_int64(in_use ? clamp_to_int64(*in_use) : 0));
		json_object_object_add(total, "free",
				       json_object_new_int64(clamp_to_int64(cap - (in_use ? *in_use : 0))));
		json_object_object_add(totals, rc, total);
		g_hash_table_insert(*capacities, g_strdup(rc),
				    g_memdup2(&capacity_n, sizeof(capacity_n)));
	}
	return document;
}

static struct model_document *document_build(enum data_class data_class, json_object *json,
					     gsize *size_bytes, GError **error)
{
	json_type wanted = data_class == CLASS_SERVERS ? json_type_array : json_type_object;

	if (json == NULL || !json_object_is_type(json, wanted)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "%s: expected a JSON %s", classes_name(data_class),
			    wanted == json_type_object ? "object" : "array");
		return NULL;
	}
	struct model_document *document = g_new0(struct model_document, 1);

	document->data_class = data_class;
	if (data_class == CLASS_PLACEMENT) {
		g_autoptr(json_object) placement =
			placement_document(json, &document->capacities, error);

		if (placement == NULL) {
			g_free(document);
			return NULL;
		}
		document->json = render_json(placement);
		document->json_hash = model_hash_bytes(document->json, 0);
		*size_bytes = g_bytes_get_size(document->json);
		return document;
	}
	document->json = render_json(json);
	document->json_hash = model_hash_bytes(document->json, 0);
	*size_bytes = g_bytes_get_size(document->json);
	if (data_class == CLASS_QUOTAS) {
		document->table = quota_table(json);
		document->table_hash = model_hash_bytes(document->table, 0);
		*size_bytes += g_bytes_get_size(document->table);
	}
	return document;
}

struct model *model_build(enum data_class data_class, json_object *json, GError **error)
{
	struct model *model = g_new0(struct model, 1);

	if (data_class == CLASS_QUOTAS || data_class == CLASS_SERVERS ||
	    data_class == CLASS_PLACEMENT || data_class == CLASS_NETBOX)
		model->document = document_build(data_class, json, &model->size_bytes, error);
	else if (data_class < CLASS_COUNT && collection_kinds[data_class].item_new != NULL)
		model->collection = collection_build(data_class, json, &model->size_bytes, error);
	else
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_NOT_FOUND,
			    "no model for data class %s", classes_name(data_class));
	if (model->document == NULL && model->collection == NULL) {
		g_free(model);
		return NULL;
	}
	model->size_bytes += sizeof(*model);
	model->content_hash =
		model->collection ? model->collection->json_hash : model->document->json_hash;
	return model;
}

guint64 model_hash_bytes(GBytes *bytes, guint64 seed)
{
	gsize len = 0;
	const guchar *data = g_bytes_get_data(bytes, &len);
	guint64 hash = seed ? seed : 0xcbf29ce484222325ULL;

	for (gsize i = 0; i < len; i++) {
		hash ^= data[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

void model_free(struct model *model)
{
	if (model == NULL)
		return;
	collection_free(model->collection);
	if (model->document != NULL) {
		g_clear_pointer(&model->document->json, g_bytes_unref);
		g_clear_pointer(&model->document->capacities, g_hash_table_unref);
		g_clear_pointer(&model->document->table, g_bytes_unref);
		g_free(model->document);
	}
	g_free(model);
}

gconstpointer model_find(const struct model_collection *collection, const char *file_name)
{
	return g_hash_table_lookup(collection->by_file_name, file_name);
}

const struct model_host *model_find_host(const struct model_collection *hosts,
					 const char *file_name)
{
	const struct model_host *host = g_hash_table_lookup(hosts->by_file_name, file_name);

	if (host == NULL && hosts->by_service_host != NULL)
		host = g_hash_table_lookup(hosts->by_service_host, file_name);
	return host;
}

const GPtrArray *model_aggregates_of_host(const struct model_collection *aggregates,
					  const char *service_host)
{
	if (service_host == NULL || aggregates->aggregates_by_host == NULL)
		return NULL;
	return g_hash_table_lookup(aggregates->aggregates_by_host, service_host);
}
