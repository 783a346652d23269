/* Unit tests for model: backend JSON -> immutable snapshots with encoded
 * names (design.md, "The tree"). */
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "infrafs/errors.h"
#include "infrafs/json_util.h"
#include "infrafs/derived.h"
#include "infrafs/model.h"
#include "infrafs/names.h"

typedef struct model model;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(model, model_free)

#define assert_bytes_text(bytes, text)                                                  \
	g_assert_cmpmem(g_bytes_get_data((bytes), NULL), g_bytes_get_size(bytes), (text), \
			strlen(text))

static json_object *parse(const char *text)
{
	g_autoptr(GError) error = NULL;
	json_object *json = json_util_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	g_assert_nonnull(json);
	return json;
}

static struct model *build_ok(enum data_class data_class, const char *text)
{
	g_autoptr(json_object) json = parse(text);
	g_autoptr(GError) error = NULL;
	struct model *built = model_build(data_class, json, &error);

	g_assert_no_error(error);
	g_assert_nonnull(built);
	if (built == NULL) {
		/* Already failed: an empty model lets the test go on without crashing. */
		g_autoptr(json_object) empty = parse(data_class == CLASS_QUOTAS ? "{}" : "[]");

		return model_build(data_class, empty, NULL);
	}
	g_assert_cmpuint(built->size_bytes, >, 0);
	return built;
}

static void assert_build_fails(enum data_class data_class, const char *text)
{
	g_autoptr(json_object) json = parse(text);
	g_autoptr(GError) error = NULL;
	struct model *built = model_build(data_class, json, &error);

	g_assert_null(built);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
}

/* `bytes` parses back to a JSON value equal to `text`. */
static void assert_json_equal(GBytes *bytes, const char *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(json_object) got = json_util_parse(g_bytes_get_data(bytes, NULL),
						     g_bytes_get_size(bytes), &error);
	g_autoptr(json_object) expected = parse(text);

	g_assert_no_error(error);
	g_assert_true(json_object_equal(got, expected));
	g_assert_cmpint(((const char *)g_bytes_get_data(bytes, NULL))[g_bytes_get_size(bytes) - 1],
			==, '\n');
}

/* The file names of a collection's items, in their order. */
static void assert_file_names(const struct model_collection *collection,
			      const char *const *expected)
{
	g_assert_cmpuint(collection->items->len, ==, g_strv_length((char **)expected));
	for (guint i = 0; i < collection->items->len; i++) {
		const struct model_item *item = collection->items->pdata[i];

		g_assert_cmpstr(item->file_name, ==, expected[i]);
		g_assert_true(model_find(collection, item->file_name) == item);
	}
}

static void assert_values(const struct model_values *values, const char *const *keys,
			  const char *const *texts)
{
	g_assert_nonnull(values->keys);
	g_assert_nonnull(values->values);
	g_assert_cmpuint(values->keys->len, ==, g_strv_length((char **)keys));
	g_assert_cmpuint(g_hash_table_size(values->values), ==, values->keys->len);
	for (guint i = 0; i < values->keys->len; i++) {
		g_assert_cmpstr(values->keys->pdata[i], ==, keys[i]);
		g_assert_cmpstr(g_hash_table_lookup(values->values, keys[i]), ==, texts[i]);
	}
}

/* ---- aggregates -------------------------------------------------------- */

static const char *const aggregates_json =
	"[{\"id\": 1, \"name\": \"gpu-h100\", \"availability_zone\": \"az1\","
	"  \"hosts\": [\"cn1\", \"cn2\"],"
	"  \"metadata\": {\"gpu_type\": \"H100\", \"a/b\": \"x\", \"count\": 8}},"
	" {\"id\": 2, \"name\": \"empty\", \"availability_zone\": null,"
	"  \"hosts\": null, \"metadata\": null},"
	" {\"id\": 3, \"name\": \"all\", \"availability_zone\": \"az1\","
	"  \"hosts\": [\"cn2\", \"cn3\"], \"metadata\": {}}]";

static void test_aggregates_items(void)
{
	g_autoptr(model) built = build_ok(CLASS_AGGREGATES, aggregates_json);
	const struct model_collection *collection = built->collection;

	g_assert_null(built->document);
	g_assert_nonnull(collection);
	g_assert_cmpint(collection->data_class, ==, CLASS_AGGREGATES);
	/* Sorted by file name. */
	assert_file_names(collection, (const char *const[]){ "all", "empty", "gpu-h100", NULL });

	const struct model_aggregate *gpu = model_find(collection, "gpu-h100");

	g_assert_nonnull(gpu);
	g_assert_cmpstr(gpu->item.name, ==, "gpu-h100");
	g_assert_cmpstr(gpu->item.id, ==, "1");
	g_assert_cmpstr(gpu->availability_zone, ==, "az1");
	g_assert_cmpuint(gpu->hosts->len, ==, 2);
	g_assert_cmpstr(gpu->hosts->pdata[0], ==, "cn1");
	g_assert_cmpstr(gpu->hosts->pdata[1], ==, "cn2");
	assert_values(&gpu->metadata, (const char *const[]){ "a%2Fb", "count", "gpu_type", NULL },
		      (const char *const[]){ "x", "8", "H100", NULL });
	assert_json_equal(gpu->item.json,
			  "{\"id\": 1, \"name\": \"gpu-h100\", \"availability_zone\": \"az1\","
			  " \"hosts\": [\"cn1\", \"cn2\"],"
			  " \"metadata\": {\"gpu_type\": \"H100\", \"a/b\": \"x\", \"count\": 8}}");
	g_assert_null(model_find(collection, "nope"));
}

static void test_aggregates_nulls(void)
{
	g_autoptr(model) built = build_ok(CLASS_AGGREGATES, aggregates_json);
	const struct model_aggregate *empty = model_find(built->collection, "empty");

	g_assert_nonnull(empty);
	g_assert_null(empty->availability_zone);
	g_assert_nonnull(empty->hosts);
	g_assert_cmpuint(empty->hosts->len, ==, 0);
	assert_values(&empty->metadata, (const char *const[]){ NULL },
		      (const char *const[]){ NULL });
}

static void test_aggregates_collection_json(void)
{
	g_autoptr(model) built = build_ok(CLASS_AGGREGATES, aggregates_json);

	assert_json_equal(built->collection->json, aggregates_json);
}

static void test_aggregates_by_host(void)
{
	g_autoptr(model) built = build_ok(CLASS_AGGREGATES, aggregates_json);
	const struct model_collection *collection = built->collection;
	const GPtrArray *of_cn1 = model_aggregates_of_host(collection, "cn1");
	const GPtrArray *of_cn2 = model_aggregates_of_host(collection, "cn2");

	g_assert_nonnull(of_cn1);
	g_assert_cmpuint(of_cn1->len, ==, 1);
	g_assert_cmpstr(((const struct model_aggregate *)of_cn1->pdata[0])->item.name, ==, "gpu-h100");
	g_assert_nonnull(of_cn2);
	g_assert_cmpuint(of_cn2->len, ==, 2);
	g_assert_cmpstr(((const struct model_aggregate *)of_cn2->pdata[0])->item.name, ==, "all");
	g_assert_cmpstr(((const struct model_aggregate *)of_cn2->pdata[1])->item.name, ==, "gpu-h100");
	g_assert_null(model_aggregates_of_host(collection, "cn9"));
	g_assert_null(model_aggregates_of_host(collection, NULL));
}

static void test_aggregates_host_listed_twice(void)
{
	g_autoptr(model) built = build_ok(CLASS_AGGREGATES,
					  "[{\"id\": 1, \"name\": \"a\", \"hosts\": [\"cn1\", \"cn1\"]}]");
	const GPtrArray *of_cn1 = model_aggregates_of_host(built->collection, "cn1");

	g_assert_nonnull(of_cn1);
	g_assert_cmpuint(of_cn1->len, ==, 1);
}

static void test_aggregates_non_string_hosts_skipped(void)
{
	g_autoptr(model) built = build_ok(
		CLASS_AGGREGATES,
		"[{\"id\": 1, \"name\": \"a\", \"hosts\": [\"cn1\", 5, null, {\"h\": 1}, \"cn2\"]}]");
	const struct model_aggregate *aggregate = model_find(built->collection, "a");

	g_assert_nonnull(aggregate);
	g_assert_cmpuint(aggregate->hosts->len, ==, 2);
	g_assert_cmpstr(aggregate->hosts->pdata[0], ==, "cn1");
	g_assert_cmpstr(aggregate->hosts->pdata[1], ==, "cn2");
	g_assert_null(model_aggregates_of_host(built->collection, "5"));
}

/* ---- hosts ------------------------------------------------------------- */

static const char *const hosts_json =
	"[{\"id\": \"u1\", \"hypervisor_hostname\": \"cn1.example.org\", \"state\": \"up\","
	"  \"status\": \"enabled\", \"service\": {\"host\": \"cn1\", \"id\": 7}},"
	/* service host equals its own hypervisor name */
	" {\"id\": \"u2\", \"hypervisor_hostname\": \"cn2\", \"state\": \"down\","
	"  \"status\": \"disabled\", \"service\": {\"host\": \"cn2\"}},"
	/* Ironic: one service host, two nodes */
	" {\"id\": \"u3\", \"hypervisor_hostname\": \"ironic-node-1\", \"service\": {\"host\": \"ironic\"}},"
	" {\"id\": \"u4\", \"hypervisor_hostname\": \"ironic-node-2\", \"service\": {\"host\": \"ironic\"}},"
	/* service host that is another hypervisor's real name */
	" {\"id\": \"u5\", \"hypervisor_hostname\": \"cn3\", \"service\": {\"host\": \"cn4\"}},"
	" {\"id\": \"u6\", \"hypervisor_hostname\": \"cn4\", \"service\": {\"host\": \"cn4-svc\"}},"
	" {\"id\": \"u7\", \"hypervisor_hostname\": \"no-service\", \"service\": null}]";

static void test_hosts_items(void)
{
	g_autoptr(model) built = build_ok(CLASS_HOSTS, hosts_json);
	const struct model_collection *collection = built->collection;

	assert_file_names(collection,
			  (const char *const[]){ "cn1.example.org", "cn2", "cn3", "cn4",
						 "ironic-node-1", "ironic-node-2", "no-service",
						 NULL });

	const struct model_host *cn1 = model_find(collection, "cn1.example.org");

	g_assert_nonnull(cn1);
	g_assert_cmpstr(cn1->item.id, ==, "u1");
	g_assert_cmpstr(cn1->service_host, ==, "cn1");
	g_assert_cmpstr(cn1->state, ==, "up");
	g_assert_cmpstr(cn1->status, ==, "enabled");

	const struct model_host *cn2 = model_find(collection, "cn2");

	g_assert_cmpstr(cn2->state, ==, "down");
	g_assert_cmpstr(cn2->status, ==, "disabled");

	const struct model_host *lonely = model_find(collection, "no-service");

	g_assert_null(lonely->service_host);
	g_assert_null(lonely->state);
}

static void test_hosts_service_host_alias(void)
{
	g_autoptr(model) built = build_ok(CLASS_HOSTS, hosts_json);
	const struct model_collection *collection = built->collection;
	const struct model_host *via_alias = model_find_host(collection, "cn1");

	g_assert_nonnull(via_alias);
	g_assert_cmpstr(via_alias->item.file_name, ==, "cn1.example.org");
	g_assert_true(model_find_host(collection, "cn1.example.org") == via_alias);
	g_assert_cmpstr(model_find_host(collection, "cn4-svc")->item.id, ==, "u6");
	/* Not an alias key: cn1 alone is not a host's own file name. */
	g_assert_null(model_find(collection, "cn1"));
}

static void test_hosts_shared_service_host_no_alias(void)
{
	g_autoptr(model) built = build_ok(CLASS_HOSTS, hosts_json);
	const struct model_collection *collection = built->collection;

	g_assert_null(model_find_host(collection, "ironic"));
	g_assert_false(g_hash_table_contains(collection->by_service_host, "ironic"));
}

static void test_hosts_alias_never_hides_real_host(void)
{
	g_autoptr(model) built = build_ok(CLASS_HOSTS, hosts_json);
	const struct model_collection *collection = built->collection;

	/* cn3's service host is "cn4", which is a real hypervisor. */
	g_assert_cmpstr(model_find_host(collection, "cn4")->item.id, ==, "u6");
	/* The alias table holds exactly cn1 and cn4-svc. */
	g_assert_cmpuint(g_hash_table_size(collection->by_service_host), ==, 2);
	g_assert_true(g_hash_table_lookup(collection->by_service_host, "cn1") ==
		      model_find(collection, "cn1.example.org"));
	g_assert_true(g_hash_table_lookup(collection->by_service_host, "cn4-svc") ==
		      model_find(collection, "cn4"));
}

static void test_hosts_hostile_service_host_encoded(void)
{
	g_autoptr(model) built = build_ok(
		CLASS_HOSTS,
		"[{\"id\": \"u1\", \"hypervisor_hostname\": \"h1\", \"service\": {\"host\": \"../x\"}}]");

	g_assert_cmpstr(model_find_host(built->collection, "%2E.%2Fx")->item.id, ==, "u1");
	g_assert_null(model_find_host(built->collection, "../x"));
}

/* ---- flavors ----------------------------------------------------------- */

static void test_flavors_extra_specs(void)
{
	g_autoptr(model) built = build_ok(
		CLASS_FLAVORS,
		"[{\"id\": \"f1\", \"name\": \"n3-H100x8\", \"extra_specs\": {"
		"   \"resources:VGPU\": \"8\", \"hw:cpu_policy\": \"dedicated\","
		"   \"trait/x\": \"required\", \"num\": 4, \"nul\": null, \".hidden\": \"h\"}},"
		" {\"id\": \"f2\", \"name\": \"tiny\"}]");
	const struct model_collection *collection = built->collection;

	assert_file_names(collection, (const char *const[]){ "n3-H100x8", "tiny", NULL });

	const struct model_flavor *big = model_find(collection, "n3-H100x8");
	const struct model_flavor *tiny = model_find(collection, "tiny");

	g_assert_cmpstr(big->item.id, ==, "f1");
	assert_values(&big->extra_specs,
		      (const char *const[]){ "%2Ehidden", "hw:cpu_policy", "nul", "num",
					     "resources:VGPU", "trait%2Fx", NULL },
		      (const char *const[]){ "h", "dedicated", "", "4", "8", "required", NULL });
	assert_values(&tiny->extra_specs, (const char *const[]){ NULL },
		      (const char *const[]){ NULL });
}

/* ---- projects ---------------------------------------------------------- */

static void test_projects_items(void)
{
	g_autoptr(model) built = build_ok(
		CLASS_PROJECTS, "[{\"id\": \"p2\", \"name\": \"demo\", \"domain_id\": \"default\"},"
				" {\"id\": \"p1\", \"name\": \"admin\", \"enabled\": true}]");
	const struct model_collection *collection = built->collection;

	assert_file_names(collection, (const char *const[]){ "admin", "demo", NULL });
	g_assert_cmpstr(((const struct model_project *)model_find(collection, "admin"))->item.id,
			==, "p1");
	assert_json_equal(((const struct model_project *)model_find(collection, "demo"))->item.json,
			  "{\"id\": \"p2\", \"name\": \"demo\", \"domain_id\": \"default\"}");
}

static void test_projects_empty(void)
{
	g_autoptr(model) built = build_ok(CLASS_PROJECTS, "[]");

	g_assert_cmpuint(built->collection->items->len, ==, 0);
	assert_json_equal(built->collection->json, "[]");
}

/* ---- documents --------------------------------------------------------- */

static const char *const quota_json =
	"{\"id\": \"p1\","
	" \"ram\": {\"limit\": 51200, \"in_use\": 2048, \"reserved\": 0},"
	" \"cores\": {\"limit\": -1, \"in_use\": 3, \"reserved\": 0},"
	" \"instances\": {\"limit\": 10, \"in_use\": 1, \"reserved\": 0},"
	" \"key_pairs\": 100}";

static void test_quotas_table(void)
{
	g_autoptr(model) built = build_ok(CLASS_QUOTAS, quota_json);

	g_assert_null(built->collection);
	g_assert_nonnull(built->document);
	g_assert_cmpint(built->document->data_class, ==, CLASS_QUOTAS);
	/* Sorted by resource, no "id" line, -1 (unlimited) kept as it is. */
	assert_bytes_text(built->document->table,
			  "cores -1 3 0\n"
			  "instances 10 1 0\n"
			  "key_pairs 100 - -\n"
			  "ram 51200 2048 0\n");
	assert_json_equal(built->document->json, quota_json);
}

static void test_quotas_missing_fields_dashed(void)
{
	g_autoptr(model) built = build_ok(CLASS_QUOTAS,
					  "{\"cores\": {\"limit\": 20}, \"ram\": {}}");

	assert_bytes_text(built->document->table, "cores 20 - -\nram - - -\n");
}

static void test_servers_document(void)
{
	const char *text = "[{\"id\": \"s1\", \"name\": \"vm1\", \"status\": \"ACTIVE\"}]";
	g_autoptr(model) built = build_ok(CLASS_SERVERS, text);

	g_assert_null(built->collection);
	g_assert_cmpint(built->document->data_class, ==, CLASS_SERVERS);
	g_assert_null(built->document->table);
	assert_json_equal(built->document->json, text);
}

static void test_servers_empty(void)
{
	g_autoptr(model) built = build_ok(CLASS_SERVERS, "[]");

	assert_json_equal(built->document->json, "[]");
}

/* ---- wrong shapes ------------------------------------------------------ */

static void test_shape_object_instead_of_array(void)
{
	assert_build_fails(CLASS_AGGREGATES, "{\"aggregates\": []}");
	assert_build_fails(CLASS_HOSTS, "{\"hypervisors\": []}");
	assert_build_fails(CLASS_FLAVORS, "{}");
	assert_build_fails(CLASS_PROJECTS, "{\"projects\": []}");
	assert_build_fails(CLASS_SERVERS, "{\"servers\": []}");
}

static void test_shape_item_not_object(void)
{
	assert_build_fails(CLASS_HOSTS, "[\"cn1\"]");
	/* After good items, so the items built so far must be freed. */
	assert_build_fails(CLASS_AGGREGATES,
			   "[{\"id\": 1, \"name\": \"a\", \"hosts\": [\"cn1\"],"
			   "  \"metadata\": {\"k\": \"v\"}}, 42]");
	assert_build_fails(CLASS_FLAVORS,
			   "[{\"id\": \"f\", \"name\": \"f\", \"extra_specs\": {\"k\": \"v\"}}, null]");
	assert_build_fails(CLASS_PROJECTS, "[{\"id\": \"p\"}, [1]]");
}

static void test_shape_quota_array(void)
{
	assert_build_fails(CLASS_QUOTAS, "[{\"cores\": 1}]");
	assert_build_fails(CLASS_QUOTAS, "\"text\"");
}

static void test_shape_null_json(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(model_build(CLASS_HOSTS, NULL, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
	g_clear_error(&error);
	g_assert_null(model_build(CLASS_QUOTAS, NULL, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
}

static void test_shape_class_without_model(void)
{
	g_autoptr(json_object) json = parse("[]");
	g_autoptr(GError) error = NULL;

	g_assert_null(model_build(CLASS_NETBOX, json, &error));
	g_assert_nonnull(error);
	g_assert_true(error->domain == INFRAFS_ERROR);
}

/* Versions: every pre-rendered file carries the hash of its own bytes. */
static void test_hashes_are_the_hashes_of_the_bytes(void)
{
	g_autoptr(model) hosts = build_ok(
		CLASS_HOSTS, "[{\"id\": \"1\", \"hypervisor_hostname\": \"a\"},"
			     " {\"id\": \"2\", \"hypervisor_hostname\": \"b\"}]");
	g_autoptr(model) quota = build_ok(
		CLASS_QUOTAS, "{\"id\": \"p\", \"cores\": {\"limit\": 2, \"in_use\": 1, \"reserved\": 0}}");

	for (guint i = 0; i < hosts->collection->items->len; i++) {
		const struct model_item *item = hosts->collection->items->pdata[i];

		g_assert_cmpuint(item->json_hash, ==, model_hash_bytes(item->json, 0));
	}
	g_assert_cmpuint(hosts->collection->json_hash, ==,
			 model_hash_bytes(hosts->collection->json, 0));
	g_assert_cmpuint(hosts->content_hash, ==, hosts->collection->json_hash);
	g_assert_cmpuint(quota->document->json_hash, ==, model_hash_bytes(quota->document->json, 0));
	g_assert_cmpuint(quota->document->table_hash, ==,
			 model_hash_bytes(quota->document->table, 0));
	g_assert_cmpuint(quota->document->json_hash, !=, quota->document->table_hash);
}

/* ---- placement ---------------------------------------------------------- */

/* A root provider and one child GPU provider, as libvirt vGPU reports them. */
static const char placement_tree[] =
	"{\"resource_providers\": ["
	" {\"uuid\": \"r1\", \"name\": \"cmp1\","
	"  \"inventories\": {\"VCPU\": {\"total\": 64, \"reserved\": 4, \"allocation_ratio\": 2.0},"
	"                   \"MEMORY_MB\": {\"total\": 1000, \"reserved\": 0, \"allocation_ratio\": 1.0}},"
	"  \"usages\": {\"VCPU\": 10, \"MEMORY_MB\": 500}},"
	" {\"uuid\": \"c1\", \"name\": \"cmp1_pci_0000_84_00_0\","
	"  \"inventories\": {\"VGPU\": {\"total\": 4, \"reserved\": 0, \"allocation_ratio\": 1.0},"
	"                   \"CUSTOM_GPU_A100\": {\"total\": 2, \"reserved\": 1, \"allocation_ratio\": 1.0}},"
	"  \"usages\": {\"VGPU\": 3}}]}";

static void test_placement_totals_and_gpu_count(void)
{
	g_autoptr(model) built = build_ok(CLASS_PLACEMENT, placement_tree);
	g_autoptr(GError) error = NULL;
	g_autoptr(json_object) got = json_util_parse(g_bytes_get_data(built->document->json, NULL),
						     g_bytes_get_size(built->document->json), &error);
	json_object *totals = json_util_get(got, "totals", json_type_object);
	json_object *vcpu = json_util_get(totals, "VCPU", json_type_object);
	json_object *vgpu = json_util_get(totals, "VGPU", json_type_object);

	g_assert_no_error(error);
	/* (64 - 4) x 2.0 = 120 VCPUs, 10 used. */
	g_assert_cmpint(json_object_get_int64(json_util_get(vcpu, "capacity", json_type_int)), ==, 120);
	g_assert_cmpint(json_object_get_int64(json_util_get(vcpu, "free", json_type_int)), ==, 110);
	g_assert_cmpint(json_object_get_int64(json_util_get(vgpu, "used", json_type_int)), ==, 3);
	/* GPUs: 4 VGPU + (2 - 1) CUSTOM_GPU_A100; VCPU and memory do not count. */
	g_assert_cmpint(derived_gpu_count(NULL, built->document->capacities), ==, 5);
	g_assert_cmpuint(json_object_array_length(
				 json_util_get(got, "resource_providers", json_type_array)), ==, 2);
}

static void test_placement_totals_are_sorted_for_a_stable_version(void)
{
	g_autoptr(model) first = build_ok(CLASS_PLACEMENT, placement_tree);
	g_autoptr(model) second = build_ok(CLASS_PLACEMENT, placement_tree);
	g_autofree char *text = g_strndup(g_bytes_get_data(first->document->json, NULL),
					  g_bytes_get_size(first->document->json));
	const char *totals = strstr(text, "\"totals\"");

	g_assert_true(g_bytes_equal(first->document->json, second->document->json));
	g_assert_cmpuint(first->content_hash, ==, second->content_hash);
	/* Within the totals, resource classes come in name order. */
	g_assert_nonnull(totals);
	g_assert_true(strstr(totals, "\"CUSTOM_GPU_A100\"") < strstr(totals, "\"MEMORY_MB\""));
	g_assert_true(strstr(totals, "\"MEMORY_MB\"") < strstr(totals, "\"VCPU\""));
	g_assert_true(strstr(totals, "\"VCPU\"") < strstr(totals, "\"VGPU\""));
}

static void test_placement_without_gpus_or_providers(void)
{
	g_autoptr(model) cpu_only = build_ok(
		CLASS_PLACEMENT,
		"{\"resource_providers\": [{\"uuid\": \"r\", \"inventories\": {\"VCPU\": "
		"{\"total\": 8, \"reserved\": 0, \"allocation_ratio\": 1.0}}, \"usages\": {}}]}");
	g_autoptr(model) unknown = build_ok(CLASS_PLACEMENT, "{\"resource_providers\": []}");

	g_assert_cmpint(derived_gpu_count(NULL, cpu_only->document->capacities), ==, -1);
	g_assert_cmpint(derived_gpu_count(NULL, unknown->document->capacities), ==, -1);
	assert_build_fails(CLASS_PLACEMENT, "{\"providers\": []}");
	assert_build_fails(CLASS_PLACEMENT, "[]");
}

/* ---- names ------------------------------------------------------------- */

static void test_names_duplicates_suffixed(void)
{
	g_autoptr(model) built = build_ok(CLASS_PROJECTS,
					  "[{\"id\": \"b2\", \"name\": \"dup\"},"
					  " {\"id\": \"c3\", \"name\": \"solo\"},"
					  " {\"id\": \"a1\", \"name\": \"dup\"}]");
	const struct model_collection *collection = built->collection;

	assert_file_names(collection, (const char *const[]){ "dup~a1", "dup~b2", "solo", NULL });
	g_assert_null(model_find(collection, "dup"));
	g_assert_cmpstr(((const struct model_project *)model_find(collection, "dup~b2"))->item.name,
			==, "dup");
}

static void test_names_hostile_never_escape(void)
{
	g_autoptr(model) built = build_ok(
		CLASS_AGGREGATES,
		"[{\"id\": 1, \"name\": \"../../etc\", \"metadata\": {\"../k\": \"v\", \"a/b\": \"w\"}},"
		" {\"id\": 2, \"name\": \"a/b\"},"
		" {\"id\": 3, \"name\": \".\"},"
		" {\"id\": 4, \"name\": \"..\"},"
		" {\"id\": 5, \"name\": \"\"},"
		" {\"id\": 6},"
		" {\"id\": \"x/../y\", \"name\": \"twin\"},"
		" {\"id\": \"../z\", \"name\": \"twin\"},"
		" {\"id\": 9, \"name\": \"new\\nline\"}]");
	const struct model_collection *collection = built->collection;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	g_assert_cmpuint(collection->items->len, ==, 9);
	for (guint i = 0; i < collection->items->len; i++) {
		const struct model_aggregate *aggregate = collection->items->pdata[i];
		const char *file_name = aggregate->item.file_name;

		g_assert_null(strchr(file_name, '/'));
		g_assert_null(strchr(file_name, '\n'));
		g_assert_cmpstr(file_name, !=, ".");
		g_assert_cmpstr(file_name, !=, "..");
		g_assert_cmpint(file_name[0], !=, '.');
		g_assert_cmpuint(strlen(file_name), >, 0);
		g_assert_true(g_hash_table_add(seen, (gpointer)file_name));
		for (guint k = 0; k < aggregate->metadata.keys->len; k++)
			g_assert_null(strchr(aggregate->metadata.keys->pdata[k], '/'));
	}
	/* The backend name is kept verbatim next to its file name. */
	const struct model_aggregate *etc = model_find(collection, "%2E.%2F..%2Fetc");

	g_assert_nonnull(etc);
	g_assert_cmpstr(etc->item.name, ==, "../../etc");
	assert_values(&etc->metadata, (const char *const[]){ "%2E.%2Fk", "a%2Fb", NULL },
		      (const char *const[]){ "v", "w", NULL });
	g_assert_nonnull(model_find(collection, "twin~x%2F..%2Fy"));
	g_assert_nonnull(model_find(collection, "twin~%2E.%2Fz"));
	/* "" and a missing name both show as %00EMPTY, told apart by id. */
	g_assert_nonnull(model_find(collection, "%00EMPTY~5"));
	g_assert_nonnull(model_find(collection, "%00EMPTY~6"));
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/model/aggregates/items", test_aggregates_items);
	g_test_add_func("/model/aggregates/nulls", test_aggregates_nulls);
	g_test_add_func("/model/aggregates/collection-json", test_aggregates_collection_json);
	g_test_add_func("/model/aggregates/by-host", test_aggregates_by_host);
	g_test_add_func("/model/aggregates/host-listed-twice", test_aggregates_host_listed_twice);
	g_test_add_func("/model/aggregates/non-string-hosts-skipped",
			test_aggregates_non_string_hosts_skipped);
	g_test_add_func("/model/hosts/items", test_hosts_items);
	g_test_add_func("/model/hosts/service-host-alias", test_hosts_service_host_alias);
	g_test_add_func("/model/hosts/shared-service-host-no-alias",
			test_hosts_shared_service_host_no_alias);
	g_test_add_func("/model/hosts/alias-never-hides-real-host",
			test_hosts_alias_never_hides_real_host);
	g_test_add_func("/model/hosts/hostile-service-host-encoded",
			test_hosts_hostile_service_host_encoded);
	g_test_add_func("/model/flavors/extra-specs", test_flavors_extra_specs);
	g_test_add_func("/model/projects/items", test_projects_items);
	g_test_add_func("/model/projects/empty", test_projects_empty);
	g_test_add_func("/model/quotas/table", test_quotas_table);
	g_test_add_func("/model/quotas/missing-fields-dashed", test_quotas_missing_fields_dashed);
	g_test_add_func("/model/servers/document", test_servers_document);
	g_test_add_func("/model/servers/empty", test_servers_empty);
	g_test_add_func("/model/shape/object-instead-of-array", test_shape_object_instead_of_array);
	g_test_add_func("/model/shape/item-not-object", test_shape_item_not_object);
	g_test_add_func("/model/shape/quota-array", test_shape_quota_array);
	g_test_add_func("/model/shape/null-json", test_shape_null_json);
	g_test_add_func("/model/shape/class-without-model", test_shape_class_without_model);
	g_test_add_func("/model/hashes/of-the-bytes", test_hashes_are_the_hashes_of_the_bytes);
	g_test_add_func("/model/placement/totals-and-gpu-count", test_placement_totals_and_gpu_count);
	g_test_add_func("/model/placement/sorted-for-a-stable-version",
			test_placement_totals_are_sorted_for_a_stable_version);
	g_test_add_func("/model/placement/without-gpus-or-providers",
			test_placement_without_gpus_or_providers);
	g_test_add_func("/model/names/duplicates-suffixed", test_names_duplicates_suffixed);
	g_test_add_func("/model/names/hostile-never-escape", test_names_hostile_never_escape);

	return g_test_run();
}
