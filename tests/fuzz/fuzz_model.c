/* fuzz_model: the JSON-to-model path and the files rendered from it.
 *
 * The input is one backend_fetch() result, as bytes: json_util_parse() it,
 * then model_build() it as every data class (collections want an array,
 * quotas, Placement and NetBox an object, servers an array), and read
 * every byte a file of the tree would show: each item's JSON, the
 * collection's JSON, the one-value files and lists tree.c renders from the
 * model (state, hosts, metadata/<key>, extra_specs/<key>, ...), the derived
 * GPU values, the quota table and inventory.json.
 *
 * Properties: a failed parse or build sets an error and returns NULL, a
 * successful one sets none; every rendered JSON file ends in a newline,
 * parses back and has the hash the model recorded; items are sorted by
 * distinct, valid file names and found by them; an aggregate is listed
 * under each of its hosts; a Placement document has one total per class
 * it counts a capacity for. Everything is freed (LeakSanitizer is on). */
#include <string.h>

#include "fuzz_common.h"
#include "infrafs/derived.h"
#include "infrafs/errors.h"
#include "infrafs/json_util.h"
#include "infrafs/model.h"
#include "infrafs/names.h"
#include "infrafs/render.h"

/* All members NULL: the built-in GPU rules. */
static const struct gpu_rules builtin_rules;

/* Where every byte read goes, so that reading cannot be optimised away. */
static volatile guint64 sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup_logging();
	return 0;
}

/* Read a file's bytes as a reader would. */
static void touch(GBytes *bytes)
{
	gsize len = 0;
	const guchar *data = g_bytes_get_data(bytes, &len);
	guint64 sum = len;

	for (gsize i = 0; i < len; i++)
		sum = sum * 31 + data[i];
	sink += sum;
}

/* A one-value file or a list, rendered as tree.c does, then read. */
static void touch_value(const char *value)
{
	g_autoptr(GBytes) bytes = render_value(value);
	gsize len = g_bytes_get_size(bytes);

	FUZZ_CHECK(value == NULL ? len == 0 : len == strlen(value) + 1,
		   "render_value gave %zu bytes", len);
	touch(bytes);
}

/* A JSON file of the model: read it, check its hash and that it parses
 * back; returns the parsed copy when `reparsed` is wanted. */
static void check_json(const char *what, GBytes *json, guint64 hash, json_object **reparsed)
{
	FUZZ_CHECK(json != NULL, "%s: no JSON", what);
	gsize len = 0;
	const char *text = g_bytes_get_data(json, &len);
	g_autoptr(GError) error = NULL;

	touch(json);
	FUZZ_CHECK(hash == model_hash_bytes(json, 0), "%s: stale hash", what);
	FUZZ_CHECK(len >= 2 && text[len - 1] == '\n', "%s: %zu bytes, no final newline", what, len);
	json_object *parsed = json_util_parse(text, len, &error);

	FUZZ_CHECK(parsed != NULL, "%s: rendered JSON does not parse back: %s", what,
		   error ? error->message : "?");
	if (reparsed != NULL)
		*reparsed = parsed;
	else
		json_object_put(parsed);
}

static void check_file_name(const char *what, const char *file_name)
{
	const char *problem = fuzz_component_problem(file_name, NAMES_MAX_BYTES);

	FUZZ_CHECK(problem == NULL, "%s \"%s\": %s", what, fuzz_shown(file_name), problem);
}

/* metadata/<key> and extra_specs/<key>: sorted, distinct, valid names,
 * each with a value. */
static void check_values(const struct model_values *values)
{
	FUZZ_CHECK(values->keys != NULL && values->values != NULL, "values not set");
	FUZZ_CHECK(values->keys->len == g_hash_table_size(values->values), "%u keys for %u values",
		   values->keys->len, g_hash_table_size(values->values));
	for (guint i = 0; i < values->keys->len; i++) {
		const char *key = values->keys->pdata[i];
		const char *value = g_hash_table_lookup(values->values, key);

		check_file_name("value", key);
		FUZZ_CHECK(i == 0 || strcmp(values->keys->pdata[i - 1], key) < 0,
			   "value keys not sorted and distinct at %u", i);
		FUZZ_CHECK(value != NULL, "key %u has no value", i);
		touch_value(value);
	}
}

/* hosts: one encoded service host name per line. */
static void touch_encoded_lines(const GPtrArray *names)
{
	g_autoptr(GPtrArray) encoded = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < names->len; i++)
		g_ptr_array_add(encoded, names_encode(names->pdata[i]));
	g_autoptr(GBytes) bytes = render_lines((const char *const *)encoded->pdata, encoded->len);

	touch(bytes);
}

static void touch_host(const struct model_collection *hosts, const struct model_host *host)
{
	FUZZ_CHECK(model_find_host(hosts, host->item.file_name) == host,
		   "a host is not found by its file name");
	touch_value(host->service_host);
	touch_value(host->state);
	touch_value(host->status);

	const char *gpu_type = derived_gpu_type_from_name(&builtin_rules, host->item.name);

	if (gpu_type == NULL)
		gpu_type = derived_gpu_type_from_name(&builtin_rules, host->service_host);
	touch_value(gpu_type);

	g_autofree char *flavor = derived_flavor(&builtin_rules, gpu_type, "8");

	touch_value(flavor);
}

static void touch_aggregate(const struct model_collection *aggregates,
			    const struct model_aggregate *aggregate)
{
	touch_encoded_lines(aggregate->hosts);
	touch_value(aggregate->availability_zone);
	check_values(&aggregate->metadata);
	touch_value(g_hash_table_lookup(aggregate->metadata.values, "gpu_type"));
	for (guint h = 0; h < aggregate->hosts->len; h++) {
		const GPtrArray *member_of =
			model_aggregates_of_host(aggregates, aggregate->hosts->pdata[h]);
		gboolean listed = FALSE;

		for (guint i = 0; member_of != NULL && i < member_of->len && !listed; i++)
			listed = member_of->pdata[i] == aggregate;
		FUZZ_CHECK(listed, "an aggregate is not listed under its host %u", h);
	}
}

static void check_collection(enum data_class data_class, const struct model_collection *collection,
			     json_object *json)
{
	FUZZ_CHECK(collection->data_class == data_class, "collection of the wrong class");
	FUZZ_CHECK(collection->items->len == json_object_array_length(json), "%u items of %zu",
		   collection->items->len, json_object_array_length(json));
	for (guint i = 0; i < collection->items->len; i++) {
		const struct model_item *item = collection->items->pdata[i];

		check_file_name("item", item->file_name);
		const struct model_item *previous = i > 0 ? collection->items->pdata[i - 1] : NULL;

		FUZZ_CHECK(previous == NULL || strcmp(previous->file_name, item->file_name) < 0,
			   "items not sorted by distinct file names at %u", i);
		FUZZ_CHECK(model_find(collection, item->file_name) == item,
			   "item %u is not found by its file name", i);
		check_json("item", item->json, item->json_hash, NULL);

		switch (data_class) {
		case CLASS_HOSTS:
			touch_host(collection, (const struct model_host *)item);
			break;
		case CLASS_AGGREGATES:
			touch_aggregate(collection, (const struct model_aggregate *)item);
			break;
		case CLASS_FLAVORS:
			check_values(&((const struct model_flavor *)item)->extra_specs);
			break;
		default:
			break;
		}
	}
	if (collection->by_service_host != NULL) {
		GHashTableIter iter;
		gpointer alias, host;

		g_hash_table_iter_init(&iter, collection->by_service_host);
		while (g_hash_table_iter_next(&iter, &alias, &host)) {
			FUZZ_CHECK(model_find(collection, alias) == NULL,
				   "a service host alias hides a host's own file name");
			FUZZ_CHECK(model_find_host(collection, alias) == host,
				   "a service host alias does not lead to its host");
		}
	}
	check_json("collection", collection->json, collection->json_hash, NULL);
}

static void check_document(enum data_class data_class, const struct model_document *document)
{
	json_object *reparsed = NULL;

	FUZZ_CHECK(document->data_class == data_class, "document of the wrong class");
	check_json("document", document->json, document->json_hash, &reparsed);
	if (data_class == CLASS_QUOTAS) {
		FUZZ_CHECK(document->table != NULL, "quotas without a table");
		FUZZ_CHECK(document->table_hash == model_hash_bytes(document->table, 0),
			   "stale table hash");
		gsize len = 0;
		const char *table = g_bytes_get_data(document->table, &len);

		FUZZ_CHECK(len == 0 || table[len - 1] == '\n', "table without a final newline");
		touch(document->table);
	}
	if (data_class == CLASS_PLACEMENT) {
		json_object *totals = json_util_get(reparsed, "totals", json_type_object);

		FUZZ_CHECK(document->capacities != NULL, "Placement without capacities");
		FUZZ_CHECK(totals != NULL, "inventory.json without totals");
		FUZZ_CHECK((guint)json_object_object_length(totals) ==
				   g_hash_table_size(document->capacities),
			   "%d totals for %u capacities", json_object_object_length(totals),
			   g_hash_table_size(document->capacities));
		sink += (guint64)derived_gpu_count(&builtin_rules, document->capacities);
	} else {
		FUZZ_CHECK(document->capacities == NULL, "capacities outside Placement");
	}
	json_object_put(reparsed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) parse_error = NULL;
	g_autoptr(json_object) json = json_util_parse((const char *)data, size, &parse_error);

	FUZZ_CHECK((json == NULL) == (parse_error != NULL), "json_util_parse: result and error");
	if (json == NULL)
		return 0;

	for (int c = 0; c < CLASS_COUNT; c++) {
		enum data_class data_class = (enum data_class)c;
		g_autoptr(GError) error = NULL;
		struct model *model = model_build(data_class, json, &error);

		FUZZ_CHECK((model == NULL) == (error != NULL), "model_build(%s): result and error",
			   classes_name(data_class));
		if (model == NULL)
			continue;
		FUZZ_CHECK((model->collection == NULL) != (model->document == NULL),
			   "model_build(%s): not exactly one of collection and document",
			   classes_name(data_class));
		FUZZ_CHECK(model->size_bytes > 0, "model_build(%s): no size",
			   classes_name(data_class));
		if (model->collection != NULL) {
			FUZZ_CHECK(model->content_hash == model->collection->json_hash,
				   "content hash is not the collection's");
			check_collection(data_class, model->collection, json);
		} else {
			FUZZ_CHECK(model->content_hash == model->document->json_hash,
				   "content hash is not the document's");
			check_document(data_class, model->document);
		}
		model_free(model);
	}
	return 0;
}
