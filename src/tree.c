/* tree: the path grammar of design.md (see infrafs/tree.h).
 *
 * Each call splits the path and walks it: the top component picks a data
 * class, the next an item of its collection, the next a view of that item.
 * The cache values a walk uses are held in `struct sources` until the reply
 * is built, so a refresh landing meanwhile cannot free them. */
#include "infrafs/tree.h"

#include <string.h>

#include "build_config.h"
#include "infrafs/clock.h"
#include "infrafs/control.h"
#include "infrafs/derived.h"
#include "infrafs/l2.h"
#include "infrafs/model.h"
#include "infrafs/names.h"
#include "infrafs/render.h"
#include "infrafs/stats_format.h"
#include "infrafs/warm.h"

/* How long the kernel may keep what never changes (the root, static files). */
#define TREE_STATIC_CACHE_S 3600.0
#define TREE_MAX_SOURCES 6

#define MODE_DIR 0555
#define MODE_FILE 0444
#define MODE_CONTROL_WRITE 0600

struct tree {
	struct cache *cache;          /* borrowed */
	const struct config *config;  /* borrowed */
	struct error_log *error_log;  /* borrowed */
	tree_changed_fn changed;
	gpointer changed_data;
	struct warm *warm;            /* borrowed; NULL without a warmer */
	const struct request_counts *requests; /* borrowed; may be NULL */
	gint write_generation;        /* control writes so far (atomic) */
	struct api *api;              /* borrowed; may be NULL */
	struct l2 *l2;                /* borrowed; may be NULL */
	tree_expiry_fn expiry_hook;   /* set before use; may be NULL */
	gpointer expiry_hook_data;
	gint64 mount_wall_us;
};

/* The cache values one walk relies on; released when the walk is done. */
struct sources {
	struct cache_value *values[TREE_MAX_SOURCES];
	enum data_class classes[TREE_MAX_SOURCES];
	const char *keys[TREE_MAX_SOURCES];  /* borrowed: NULL, or from a model held here */
	guint n;
	gboolean stale;                 /* some value was served past freshness */
};

/* What a walk found. Files carry their content; directories their
 * entries, when the walk was asked to list. */
struct node {
	enum tree_kind kind;
	guint mode;
	GBytes *content;        /* files: owned */
	guint64 version;        /* files: known version of content, or 0 to hash it */
	GPtrArray *entries;     /* directories, when listing: struct tree_dirent */
	gboolean volatile_data;
	gboolean writable;
};

struct walk {
	struct tree *tree;
	char **parts;           /* path components */
	guint n_parts;
	gboolean listing;       /* fill node.entries for directories */
	gboolean reading;       /* the caller wants content or a listing, not attributes */
	gboolean live;          /* under /live */
	gboolean fetch_live;    /* under /live and reading or listing: fetch everything
				 * now (a stat uses the cache, so that one cat costs
				 * one request, not three) */
	struct sources sources;
	struct node node;
};

static const char *const top_names[] = {
	"README", "aggregates.json", "hosts.json", "flavors.json", "projects.json",
	"aggregates", "hosts", "flavors", "quotas", "live", ".infrafs", NULL,
};

/* ---- small helpers ------------------------------------------------------ */

void tree_dirent_free(gpointer data)
{
	struct tree_dirent *dirent = data;

	g_free(dirent->name);
	g_free(dirent);
}

static void add_entry(struct walk *walk, const char *name, enum tree_kind kind)
{
	struct tree_dirent *dirent = g_new0(struct tree_dirent, 1);

	dirent->name = g_strdup(name);
	dirent->kind = kind;
	dirent->fetched_at_lookup = walk->live && kind == TREE_FILE;
	g_ptr_array_add(walk->node.entries, dirent);
}

static void sources_clear(struct sources *sources)
{
	for (guint i = 0; i < sources->n; i++)
		cache_value_unref(sources->values[i]);
	sources->n = 0;
}

/* The model of (class, key), fetched if needed, held for the walk. */
static const struct model *need(struct walk *walk, enum data_class data_class, const char *key,
				GError **error)
{
	g_assert(walk->sources.n < TREE_MAX_SOURCES);
	gboolean stale = FALSE;
	struct cache_value *value =
		walk->fetch_live ? cache_get_live(walk->tree->cache, data_class, key, error)
			   : cache_get_full(walk->tree->cache, data_class, key, &stale, error);

	if (value == NULL)
		return NULL;
	walk->sources.values[walk->sources.n] = value;
	walk->sources.classes[walk->sources.n] = data_class;
	walk->sources.keys[walk->sources.n] = key;
	walk->sources.n++;
	walk->sources.stale |= stale;
	return cache_value_data(value);
}

static gboolean not_found(struct walk *walk, GError **error)
{
	g_autofree char *path = g_strjoinv("/", walk->parts);

	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_NOT_FOUND, "no such path: /%s", path);
	return FALSE;
}

static gboolean set_dir(struct walk *walk)
{
	walk->node.kind = TREE_DIR;
	walk->node.mode = MODE_DIR;
	if (walk->listing && walk->node.entries == NULL)
		walk->node.entries = g_ptr_array_new_with_free_func(tree_dirent_free);
	return TRUE;
}

/* Takes `content`. */
static gboolean set_file(struct walk *walk, GBytes *content)
{
	walk->node.kind = TREE_FILE;
	walk->node.mode = MODE_FILE;
	walk->node.content = content;
	return TRUE;
}

/* A model's pre-rendered file, whose version was computed when the model
 * was built: lookups need not hash it again. Takes a new reference. */
static gboolean set_file_hashed(struct walk *walk, GBytes *content, guint64 hash)
{
	walk->node.version = hash;
	return set_file(walk, g_bytes_ref(content));
}

/* ---- /README and /.infrafs --------------------------------------------- */

static GBytes *render_readme(struct tree *tree)
{
	GString *out = g_string_new(NULL);

	g_string_append(out,
			"infrafs: this cloud's inventory as files, fetched on first read and cached.\n"
			"\n"
			"  aggregates.json hosts.json flavors.json projects.json   whole collections, for jq\n"
			"  aggregates/<name>/   aggregate.json hosts metadata/<key> availability_zone gpu_type\n"
			"  hosts/<hypervisor>/  hypervisor.json service_host aggregates state status\n"
			"                       servers.json inventory.json gpu_type gpu_count flavor\n"
			"                       (hosts/<service host> works too)\n"
			"  flavors/<name>/      flavor.json extra_specs/<key>\n"
			"  quotas/<project>/    compute.json compute\n"
			"\n"
			"Control files in .infrafs/:\n"
			"  invalidate  write paths or globs, one per line (hosts, 'hosts/*h100*', '*'):\n"
			"              matching data expires now and is fetched on the next read\n"
			"  refresh     the same, but fetched again before the write returns (EIO if\n"
			"              the backend fails)\n"
			"  ttl         read: '<class> <seconds>' per class; write such lines to change them\n"
			"  warm        read: the warmer's progress; write 'start' or 'stop'\n"
			"  stats       cache counters per data class (also stats.json, and metrics in\n"
			"              the Prometheus text format)\n"
			"  errors      the last backend errors\n"
			"  version     version and build\n"
			"\n"
			"Past its time to live, data is still served for a grace window while it is\n"
			"fetched again in the background; when a fetch fails, the last good copy is\n"
			"served (up to max_stale old) and marked stale. Every file tells its state in\n"
			"extended attributes: getfattr -d FILE (user.infrafs.fetched_at, expires_at,\n"
			"stale, source).\n"
			"\n"
			"Time to live per data class (seconds):\n");
	for (int c = 0; c < CLASS_COUNT; c++)
		g_string_append_printf(out, "  %-11s %u\n", classes_name((enum data_class)c),
				       cache_get_ttl(tree->cache, (enum data_class)c));
	return g_string_free_to_bytes(out);
}

static void take_snapshot(struct tree *tree, struct stats_snapshot *snapshot)
{
	for (int c = 0; c < CLASS_COUNT; c++)
		cache_class_stats(tree->cache, (enum data_class)c, &snapshot->classes[c]);
	snapshot->errors_recorded = error_log_count(tree->error_log);
	snapshot->total_bytes = cache_total_bytes(tree->cache);
	snapshot->max_bytes = tree->config->cache_max_bytes;
	snapshot->now_wall_us = clock_wall_us();
	if (tree->api != NULL)
		api_get_counts(tree->api, &snapshot->api);
	snapshot->l2_enabled = tree->l2 != NULL;
	if (tree->l2 != NULL) {
		snapshot->l2_url = l2_url_masked(tree->l2);
		l2_counts(tree->l2, &snapshot->l2);
	}
	for (int k = 0; tree->requests != NULL && k < REQUEST_KIND_COUNT; k++)
		snapshot->kernel_requests[k] =
			request_counts_get(tree->requests, (enum request_kind)k);
}

/* The read-only control files made from the counters. */
static const struct {
	const char *name;
	GBytes *(*format)(const struct stats_snapshot *snapshot);
} stats_files[] = {
	{ "metrics", stats_format_prometheus },
	{ "stats", stats_format_table },
	{ "stats.json", stats_format_json },
};

static const char *const control_names[] = { "errors",     "invalidate", "metrics", "refresh",
					     "stats",      "stats.json", "ttl",     "version",
					     "warm",       NULL };

/* Control files that take writes (mode 0600, the mounting user's). */
static const char *const writable_names[] = { ".infrafs/invalidate", ".infrafs/refresh",
					      ".infrafs/ttl", ".infrafs/warm", NULL };

/* "<class> <seconds>" for every class. */
static GBytes *render_ttls(struct tree *tree)
{
	GString *out = g_string_new(NULL);

	for (int c = 0; c < CLASS_COUNT; c++)
		g_string_append_printf(out, "%s %u\n", classes_name((enum data_class)c),
				       cache_get_ttl(tree->cache, (enum data_class)c));
	return g_string_free_to_bytes(out);
}

static gboolean walk_control(struct walk *walk, GError **error)
{
	struct tree *tree = walk->tree;

	if (walk->n_parts == 1) {
		set_dir(walk);
		for (int i = 0; walk->listing && control_names[i]; i++)
			add_entry(walk, control_names[i], TREE_FILE);
		return TRUE;
	}
	if (walk->n_parts != 2)
		return not_found(walk, error);

	const char *name = walk->parts[1];

	walk->node.volatile_data = TRUE;
	if (g_strcmp0(name, "invalidate") == 0 || g_strcmp0(name, "refresh") == 0 ||
	    g_strcmp0(name, "ttl") == 0 || g_strcmp0(name, "warm") == 0) {
		GBytes *content = name[0] == 't'   ? render_ttls(tree)
				  : name[0] == 'w' ? (tree->warm ? warm_render(tree->warm)
								 : render_value("state off"))
						   : g_bytes_new_static("", 0);

		set_file(walk, content);
		walk->node.mode = MODE_CONTROL_WRITE;
		walk->node.writable = TRUE;
		return TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(stats_files); i++) {
		if (g_strcmp0(name, stats_files[i].name) == 0) {
			struct stats_snapshot snapshot;

			take_snapshot(tree, &snapshot);
			return set_file(walk, stats_files[i].format(&snapshot));
		}
	}
	if (g_strcmp0(name, "errors") == 0)
		return set_file(walk, error_log_render(tree->error_log));
	if (g_strcmp0(name, "version") == 0) {
		walk->node.volatile_data = FALSE;
		return set_file(walk, g_bytes_new_static("infrafs " INFRAFS_VERSION
							  "\nbuild: " INFRAFS_BUILD_TYPE "\n",
							  strlen("infrafs " INFRAFS_VERSION
								 "\nbuild: " INFRAFS_BUILD_TYPE
								 "\n")));
	}
	return not_found(walk, error);
}

/* ---- shared shapes: a collection directory, a key/value directory ------ */

static void list_collection(struct walk *walk, const struct model_collection *collection)
{
	for (guint i = 0; walk->listing && i < collection->items->len; i++) {
		const struct model_item *item = collection->items->pdata[i];

		add_entry(walk, item->file_name, TREE_DIR);
	}
}

/* parts[depth] names a key of `values` (a file) or nothing (the directory). */
static gboolean walk_values(struct walk *walk, const struct model_values *values, guint depth,
			    GError **error)
{
	if (walk->n_parts == depth) {
		set_dir(walk);
		for (guint i = 0; walk->listing && i < values->keys->len; i++)
			add_entry(walk, values->keys->pdata[i], TREE_FILE);
		return TRUE;
	}
	if (walk->n_parts != depth + 1)
		return not_found(walk, error);

	const char *value = g_hash_table_lookup(values->values, walk->parts[depth]);

	if (value == NULL)
		return not_found(walk, error);
	return set_file(walk, render_value(value));
}

/* Entries of an item directory: name and kind, in listing order. */
struct view {
	const char *name;
	enum tree_kind kind;
};

static void list_views(struct walk *walk, const struct view *views, gsize n)
{
	for (gsize i = 0; walk->listing && i < n; i++)
		add_entry(walk, views[i].name, views[i].kind);
}

enum step {
	STEP_FAILED,  /* *error is set */
	STEP_DONE,    /* the walk is answered */
	STEP_DEEPER,  /* a path below an item: the caller goes on */
};

/* The shape every collection shares: /<dir> lists the items, /<dir>/<item>
 * lists `views`; deeper paths are the caller's, given *item. */
static enum step walk_collection(struct walk *walk, enum data_class data_class,
				 const struct view *views, gsize n_views,
				 const struct model_item **item, GError **error)
{
	const struct model *model = need(walk, data_class, NULL, error);

	if (model == NULL)
		return STEP_FAILED;
	if (walk->n_parts == 1) {
		set_dir(walk);
		list_collection(walk, model->collection);
		return STEP_DONE;
	}
	/* Hosts also answer to their service host name (design.md). */
	*item = data_class == CLASS_HOSTS
			? (const struct model_item *)model_find_host(model->collection, walk->parts[1])
			: model_find(model->collection, walk->parts[1]);
	if (*item == NULL) {
		not_found(walk, error);
		return STEP_FAILED;
	}
	if (walk->n_parts == 2) {
		set_dir(walk);
		list_views(walk, views, n_views);
		return STEP_DONE;
	}
	return STEP_DEEPER;
}

/* ---- /aggregates -------------------------------------------------------- */

static const struct view aggregate_views[] = {
	{ "aggregate.json", TREE_FILE },   { "availability_zone", TREE_FILE },
	{ "gpu_type", TREE_FILE },         { "hosts", TREE_FILE },
	{ "metadata", TREE_DIR },
};

static GBytes *render_encoded_lines(const GPtrArray *names)
{
	g_autoptr(GPtrArray) encoded = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; names != NULL && i < names->len; i++)
		g_ptr_array_add(encoded, names_encode(names->pdata[i]));
	return render_lines((const char *const *)encoded->pdata, encoded->len);
}

static gboolean walk_aggregates(struct walk *walk, GError **error)
{
	const struct model_item *item = NULL;
	enum step step = walk_collection(walk, CLASS_AGGREGATES, aggregate_views,
					 G_N_ELEMENTS(aggregate_views), &item, error);

	if (step != STEP_DEEPER)
		return step == STEP_DONE;
	const struct model_aggregate *aggregate = (const struct model_aggregate *)item;
	const char *view = walk->parts[2];

	if (g_strcmp0(view, "metadata") == 0)
		return walk_values(walk, &aggregate->metadata, 3, error);
	if (walk->n_parts != 3)
		return not_found(walk, error);
	if (g_strcmp0(view, "aggregate.json") == 0)
		return set_file_hashed(walk, aggregate->item.json, aggregate->item.json_hash);
	if (g_strcmp0(view, "hosts") == 0)
		return set_file(walk, render_encoded_lines(aggregate->hosts));
	if (g_strcmp0(view, "availability_zone") == 0)
		return set_file(walk, render_value(aggregate->availability_zone));
	if (g_strcmp0(view, "gpu_type") == 0)
		return set_file(walk, render_value(g_hash_table_lookup(aggregate->metadata.values,
								       "gpu_type")));
	return not_found(walk, error);
}

/* ---- /hosts ------------------------------------------------------------- */

static const struct view host_views[] = {
	{ "aggregates", TREE_FILE },     { "flavor", TREE_FILE },
	{ "gpu_count", TREE_FILE },      { "gpu_type", TREE_FILE },
	{ "hypervisor.json", TREE_FILE }, { "inventory.json", TREE_FILE }, { "servers.json", TREE_FILE },
	{ "service_host", TREE_FILE },   { "state", TREE_FILE },        { "status", TREE_FILE },
};

/* The same with NetBox configured: netbox.json too, in name order. */
static const struct view host_views_netbox[] = {
	{ "aggregates", TREE_FILE },     { "flavor", TREE_FILE },
	{ "gpu_count", TREE_FILE },      { "gpu_type", TREE_FILE },
	{ "hypervisor.json", TREE_FILE }, { "inventory.json", TREE_FILE }, { "netbox.json", TREE_FILE },
	{ "servers.json", TREE_FILE },   { "service_host", TREE_FILE },  { "state", TREE_FILE },
	{ "status", TREE_FILE },
};

static gboolean render_host_aggregates(struct walk *walk, const struct model_host *host,
				       GError **error)
{
	const struct model *model = need(walk, CLASS_AGGREGATES, NULL, error);

	if (model == NULL)
		return FALSE;
	const GPtrArray *member_of = model_aggregates_of_host(model->collection, host->service_host);
	g_autoptr(GPtrArray) names = g_ptr_array_new();

	for (guint i = 0; member_of != NULL && i < member_of->len; i++) {
		const struct model_aggregate *aggregate = member_of->pdata[i];

		g_ptr_array_add(names, aggregate->item.file_name);
	}
	return set_file(walk, render_lines((const char *const *)names->pdata, names->len));
}

/* The first non-empty `key` in the metadata of the host's aggregates, or
 * NULL (*value is borrowed from the walk's sources). FALSE on a fetch error. */
static gboolean host_aggregate_metadata(struct walk *walk, const struct model_host *host,
					const char *key, const char **value, GError **error)
{
	const struct model *model = need(walk, CLASS_AGGREGATES, NULL, error);

	*value = NULL;
	if (model == NULL)
		return FALSE;
	const GPtrArray *member_of = model_aggregates_of_host(model->collection, host->service_host);

	for (guint i = 0; member_of != NULL && i < member_of->len && *value == NULL; i++) {
		const struct model_aggregate *aggregate = member_of->pdata[i];
		const char *found = g_hash_table_lookup(aggregate->metadata.values, key);

		if (found != NULL && *found != '\0')
			*value = found;
	}
	return TRUE;
}

/* Hostname rules first (no backend call), then the aggregates' metadata;
 * NULL when unknown, never a guess. *value is borrowed. */
static gboolean host_gpu_type(struct walk *walk, const struct model_host *host,
			      const char **value, GError **error)
{
	const struct gpu_rules *rules = &walk->tree->config->gpu;

	*value = derived_gpu_type_from_name(rules, host->item.name);
	if (*value == NULL)
		*value = derived_gpu_type_from_name(rules, host->service_host);
	if (*value != NULL)
		return TRUE;
	return host_aggregate_metadata(walk, host, "gpu_type", value, error);
}

/* Placement's GPU inventory first; else the gpu_count of the host's
 * aggregates' metadata (also when Placement refuses or does not know the
 * host); NULL when neither knows. *value is the caller's. */
static gboolean host_gpu_count(struct walk *walk, const struct model_host *host, char **value,
			       GError **error)
{
	g_autoptr(GError) placement_error = NULL;
	const struct model *placement =
		need(walk, CLASS_PLACEMENT, host->item.name ? host->item.name : "", &placement_error);
	const char *from_aggregates = NULL;

	gint64 gpus = placement != NULL ? derived_gpu_count(&walk->tree->config->gpu,
							     placement->document->capacities)
					: -1;

	*value = NULL;
	if (gpus >= 0) {
		*value = g_strdup_printf("%" G_GINT64_FORMAT, gpus);
		return TRUE;
	}
	if (placement == NULL &&
	    !g_error_matches(placement_error, INFRAFS_ERROR, INFRAFS_ERROR_FORBIDDEN) &&
	    !g_error_matches(placement_error, INFRAFS_ERROR, INFRAFS_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&placement_error));
		return FALSE;
	}
	if (!host_aggregate_metadata(walk, host, "gpu_count", &from_aggregates, error))
		return FALSE;
	*value = g_strdup(from_aggregates);
	return TRUE;
}

/* gpu_type, gpu_count and flavor: a value, or an empty file when unknown. */
static gboolean render_host_derived(struct walk *walk, const struct model_host *host,
				    const char *view, GError **error)
{
	const char *gpu_type = NULL;
	g_autofree char *gpu_count = NULL;
	gboolean want_type = g_strcmp0(view, "gpu_count") != 0;
	gboolean want_count = g_strcmp0(view, "gpu_type") != 0;

	if ((want_type && !host_gpu_type(walk, host, &gpu_type, error)) ||
	    (want_count && !host_gpu_count(walk, host, &gpu_count, error)))
		return FALSE;
	if (!want_count)
		return set_file(walk, render_value(gpu_type));
	if (!want_type)
		return set_file(walk, render_value(gpu_count));

	g_autofree char *flavor = derived_flavor(&walk->tree->config->gpu, gpu_type, gpu_count);

	return set_file(walk, render_value(flavor));
}

static gboolean walk_hosts(struct walk *walk, GError **error)
{
	const struct model_item *item = NULL;
	gboolean netbox = walk->tree->config->netbox_url != NULL;
	enum step step = netbox ? walk_collection(walk, CLASS_HOSTS, host_views_netbox,
						  G_N_ELEMENTS(host_views_netbox), &item, error)
				: walk_collection(walk, CLASS_HOSTS, host_views,
						  G_N_ELEMENTS(host_views), &item, error);

	if (step != STEP_DEEPER)
		return step == STEP_DONE;
	const struct model_host *host = (const struct model_host *)item;

	if (walk->n_parts != 3)
		return not_found(walk, error);

	const char *view = walk->parts[2];

	if (g_strcmp0(view, "hypervisor.json") == 0)
		return set_file_hashed(walk, host->item.json, host->item.json_hash);
	if (g_strcmp0(view, "service_host") == 0)
		return set_file(walk, render_value(host->service_host));
	if (g_strcmp0(view, "state") == 0)
		return set_file(walk, render_value(host->state));
	if (g_strcmp0(view, "status") == 0)
		return set_file(walk, render_value(host->status));
	if (g_strcmp0(view, "aggregates") == 0)
		return render_host_aggregates(walk, host, error);
	if (g_strcmp0(view, "gpu_type") == 0 || g_strcmp0(view, "gpu_count") == 0 ||
	    g_strcmp0(view, "flavor") == 0)
		return render_host_derived(walk, host, view, error);
	if (g_strcmp0(view, "inventory.json") == 0) {
		const struct model *placement =
			need(walk, CLASS_PLACEMENT, host->item.name ? host->item.name : "", error);

		return placement && set_file_hashed(walk, placement->document->json,
						    placement->document->json_hash);
	}
	if (netbox && g_strcmp0(view, "netbox.json") == 0) {
		/* NetBox names devices as Nova names compute services: short. */
		const char *name = host->service_host ? host->service_host : host->item.name;
		const struct model *device = need(walk, CLASS_NETBOX, name ? name : "", error);

		return device && set_file_hashed(walk, device->document->json,
						 device->document->json_hash);
	}
	if (g_strcmp0(view, "servers.json") == 0) {
		const struct model *servers =
			need(walk, CLASS_SERVERS, host->item.name ? host->item.name : "", error);

		return servers && set_file_hashed(walk, servers->document->json,
						  servers->document->json_hash);
	}
	return not_found(walk, error);
}

/* ---- /flavors ----------------------------------------------------------- */

static const struct view flavor_views[] = {
	{ "extra_specs", TREE_DIR },
	{ "flavor.json", TREE_FILE },
};

static gboolean walk_flavors(struct walk *walk, GError **error)
{
	const struct model_item *item = NULL;
	enum step step = walk_collection(walk, CLASS_FLAVORS, flavor_views,
					 G_N_ELEMENTS(flavor_views), &item, error);

	if (step != STEP_DEEPER)
		return step == STEP_DONE;
	const struct model_flavor *flavor = (const struct model_flavor *)item;

	if (g_strcmp0(walk->parts[2], "extra_specs") == 0)
		return walk_values(walk, &flavor->extra_specs, 3, error);
	if (walk->n_parts == 3 && g_strcmp0(walk->parts[2], "flavor.json") == 0)
		return set_file_hashed(walk, flavor->item.json, flavor->item.json_hash);
	return not_found(walk, error);
}

/* ---- /quotas ------------------------------------------------------------ */

static const struct view quota_views[] = {
	{ "compute", TREE_FILE },
	{ "compute.json", TREE_FILE },
};

static gboolean walk_quotas(struct walk *walk, GError **error)
{
	const struct model_item *project = NULL;
	enum step step = walk_collection(walk, CLASS_PROJECTS, quota_views,
					 G_N_ELEMENTS(quota_views), &project, error);

	if (step != STEP_DEEPER)
		return step == STEP_DONE;
	if (walk->n_parts != 3 || project->id == NULL)
		return not_found(walk, error);

	const char *view = walk->parts[2];
	gboolean want_json = g_strcmp0(view, "compute.json") == 0;

	if (!want_json && g_strcmp0(view, "compute") != 0)
		return not_found(walk, error);

	const struct model *quota = need(walk, CLASS_QUOTAS, project->id, error);

	if (quota == NULL)
		return FALSE;
	if (want_json)
		return set_file_hashed(walk, quota->document->json, quota->document->json_hash);
	return set_file_hashed(walk, quota->document->table, quota->document->table_hash);
}

/* ---- the root ----------------------------------------------------------- */

static const struct {
	const char *name;
	enum data_class data_class;
} collection_files[] = {
	{ "aggregates.json", CLASS_AGGREGATES },
	{ "flavors.json", CLASS_FLAVORS },
	{ "hosts.json", CLASS_HOSTS },
	{ "projects.json", CLASS_PROJECTS },
};

static gboolean walk_root(struct walk *walk, GError **error)
{
	static const struct view root_views[] = {
		{ ".infrafs", TREE_DIR },       { "README", TREE_FILE },
		{ "aggregates", TREE_DIR },      { "aggregates.json", TREE_FILE },
		{ "flavors", TREE_DIR },         { "flavors.json", TREE_FILE },
		{ "hosts", TREE_DIR },           { "hosts.json", TREE_FILE },
		{ "live", TREE_DIR },            { "projects.json", TREE_FILE },
		{ "quotas", TREE_DIR },
	};

	if (walk->n_parts == 0) {
		set_dir(walk);
		/* /live holds the same tree but for README, .infrafs and itself. */
		for (gsize i = 0; walk->listing && i < G_N_ELEMENTS(root_views); i++)
			if (!walk->live || (root_views[i].name[0] != '.' &&
					    g_strcmp0(root_views[i].name, "README") != 0 &&
					    g_strcmp0(root_views[i].name, "live") != 0))
				add_entry(walk, root_views[i].name, root_views[i].kind);
		return TRUE;
	}
	const char *top = walk->parts[0];

	if (g_strcmp0(top, "live") == 0 && !walk->live) {
		/* Walk the rest of the path as from the root, fetching everything. */
		g_free(walk->parts[0]);
		memmove(walk->parts, walk->parts + 1, walk->n_parts * sizeof(char *));
		walk->n_parts--;
		walk->live = TRUE;
		walk->fetch_live = walk->reading;
		walk->node.volatile_data = TRUE;
		gboolean found = walk_root(walk, error);

		/* Every read of a live file goes to the daemon, and so to the API. */
		walk->node.volatile_data = TRUE;
		return found;
	}
	if (walk->live && (g_strcmp0(top, ".infrafs") == 0 || g_strcmp0(top, "README") == 0 ||
			   g_strcmp0(top, "live") == 0))
		return not_found(walk, error);

	if (g_strcmp0(top, "aggregates") == 0)
		return walk_aggregates(walk, error);
	if (g_strcmp0(top, "hosts") == 0)
		return walk_hosts(walk, error);
	if (g_strcmp0(top, "flavors") == 0)
		return walk_flavors(walk, error);
	if (g_strcmp0(top, "quotas") == 0)
		return walk_quotas(walk, error);
	if (g_strcmp0(top, ".infrafs") == 0)
		return walk_control(walk, error);
	if (walk->n_parts != 1)
		return not_found(walk, error);
	if (g_strcmp0(top, "README") == 0) {
		walk->node.volatile_data = TRUE; /* TTLs may change */
		return set_file(walk, render_readme(walk->tree));
	}
	for (gsize i = 0; i < G_N_ELEMENTS(collection_files); i++) {
		if (g_strcmp0(top, collection_files[i].name) != 0)
			continue;
		const struct model *model = need(walk, collection_files[i].data_class, NULL, error);

		return model && set_file_hashed(walk, model->collection->json,
						model->collection->json_hash);
	}
	return not_found(walk, error);
}

/* ---- walking ------------------------------------------------------------ */

static void walk_clear(struct walk *walk)
{
	g_strfreev(walk->parts);
	sources_clear(&walk->sources);
	g_clear_pointer(&walk->node.content, g_bytes_unref);
	g_clear_pointer(&walk->node.entries, g_ptr_array_unref);
}

static gboolean walk_path(struct tree *tree, const char *path, gboolean listing,
			  gboolean reading, struct walk *walk, GError **error)
{
	memset(walk, 0, sizeof(*walk));
	walk->tree = tree;
	walk->listing = listing;
	walk->reading = reading;
	walk->parts = (path == NULL || *path == '\0') ? g_new0(char *, 1)
						      : g_strsplit(path, "/", -1);
	walk->n_parts = g_strv_length(walk->parts);
	for (guint i = 0; i < walk->n_parts; i++)
		if (walk->parts[i][0] == '\0')
			return not_found(walk, error);
	return walk_root(walk, error);
}

static void fill_attr(struct walk *walk, struct tree_attr *attr)
{
	gint64 now_us = clock_mono_us();
	gint64 newest_wall_us = 0;
	double cache_s = TREE_STATIC_CACHE_S;

	for (guint i = 0; i < walk->sources.n; i++) {
		const struct cache_value *value = walk->sources.values[i];
		/* The kernel asks again when refreshing ahead begins: a path it
		 * serves by itself is then refreshed before it expires, as one
		 * read often would be. */
		double left_s = (double)(cache_value_refresh_ahead_mono_us(value) - now_us) / 1e6;

		newest_wall_us = MAX(newest_wall_us, cache_value_fetched_wall_us(value));
		cache_s = MIN(cache_s, MAX(left_s, 0.0));
	}
	/* Stale data is being refreshed: let the kernel ask again at once. */
	if (walk->node.volatile_data || walk->sources.stale)
		cache_s = 0.0;
	memset(attr, 0, sizeof(*attr));
	attr->stale = walk->sources.stale;
	if (walk->node.kind == TREE_FILE) {
		/* Pre-rendered files came with their hash; only small rendered
		 * values (a state, a list of names, a control file) are hashed
		 * here. */
		attr->version = walk->node.version ? walk->node.version
						   : model_hash_bytes(walk->node.content, 0);
		/* A write leaves its bytes in the kernel's pages of the file it
		 * went to: after one, a writable file is a new inode, whatever
		 * its content. */
		if (walk->node.writable)
			attr->version ^= (guint64)g_atomic_int_get(&walk->tree->write_generation) *
					 G_GUINT64_CONSTANT(0x9e3779b97f4a7c15);
		/* 0 means "unversioned". */
		attr->version |= attr->version == 0;
	}
	attr->kind = walk->node.kind;
	attr->mode = walk->node.mode;
	attr->size = walk->node.content ? g_bytes_get_size(walk->node.content) : 0;
	attr->mtime_wall_us = newest_wall_us ? newest_wall_us : walk->tree->mount_wall_us;
	attr->cache_s = cache_s;
	attr->volatile_data = walk->node.volatile_data;
}

struct tree *tree_new(struct cache *cache, const struct config *config,
		      struct error_log *error_log, tree_changed_fn changed, gpointer user_data)
{
	struct tree *tree = g_new0(struct tree, 1);

	tree->cache = cache;
	tree->config = config;
	tree->error_log = error_log;
	tree->changed = changed;
	tree->changed_data = user_data;
	tree->mount_wall_us = clock_wall_us();
	return tree;
}

void tree_free(struct tree *tree)
{
	g_free(tree);
}

void tree_set_warm(struct tree *tree, struct warm *warm)
{
	tree->warm = warm;
}

void tree_set_request_counts(struct tree *tree, const struct request_counts *requests)
{
	tree->requests = requests;
}

void tree_set_l2(struct tree *tree, struct l2 *l2)
{
	tree->l2 = l2;
}

void tree_set_expiry_hook(struct tree *tree, tree_expiry_fn hook, gpointer user_data)
{
	tree->expiry_hook = hook;
	tree->expiry_hook_data = user_data;
}

void tree_note_write(struct tree *tree)
{
	g_atomic_int_inc(&tree->write_generation);
}

void tree_set_api(struct tree *tree, struct api *api)
{
	tree->api = api;
}

/* warm: one word, "start" or "stop". */
static gboolean control_warm(struct tree *tree, const char *data, gsize len, GError **error)
{
	g_autofree char *word = g_strstrip(g_strndup(data, len));

	if (*word == '\0')
		return TRUE;
	if (tree->warm == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
			    "warm: no warmer on this mount");
		return FALSE;
	}
	if (g_strcmp0(word, "start") == 0) {
		warm_start(tree->warm);
		return TRUE;
	}
	if (g_strcmp0(word, "stop") == 0) {
		warm_stop(tree->warm);
		return TRUE;
	}
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
		    "warm: expected \"start\" or \"stop\", got \"%s\"", word);
	return FALSE;
}

gboolean tree_stat(struct tree *tree, const char *path, struct tree_attr *attr, GError **error)
{
	struct walk walk;
	gboolean found = walk_path(tree, path, FALSE, FALSE, &walk, error);

	if (found)
		fill_attr(&walk, attr);
	walk_clear(&walk);
	return found;
}

GPtrArray *tree_list(struct tree *tree, const char *path, GError **error)
{
	struct walk walk;
	GPtrArray *entries = NULL;

	if (walk_path(tree, path, TRUE, TRUE, &walk, error)) {
		if (walk.node.kind == TREE_DIR)
			entries = g_steal_pointer(&walk.node.entries);
		else
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_NOT_DIR,
				    "not a directory: /%s", path);
	}
	walk_clear(&walk);
	return entries;
}

GBytes *tree_read(struct tree *tree, const char *path, struct tree_attr *attr, GError **error)
{
	struct walk walk;
	GBytes *content = NULL;

	if (walk_path(tree, path, FALSE, TRUE, &walk, error)) {
		if (walk.node.kind == TREE_FILE) {
			fill_attr(&walk, attr);
			content = g_steal_pointer(&walk.node.content);
		} else {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_IS_DIR,
				    "is a directory: /%s", path);
		}
	}
	walk_clear(&walk);
	return content;
}

static char *iso8601(gint64 wall_us)
{
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(wall_us / G_USEC_PER_SEC);

	return when ? g_date_time_format_iso8601(when) : g_strdup("-");
}

GHashTable *tree_xattrs(struct tree *tree, const char *path, GError **error)
{
	struct walk walk;
	GHashTable *xattrs = NULL;

	if (walk_path(tree, path, FALSE, FALSE, &walk, error)) {
		gint64 fetched_us = 0;
		gint64 expires_us = G_MAXINT64;
		g_autoptr(GString) source = g_string_new(NULL);

		for (guint i = 0; i < walk.sources.n; i++) {
			const struct cache_value *value = walk.sources.values[i];

			fetched_us = MAX(fetched_us, cache_value_fetched_wall_us(value));
			expires_us = MIN(expires_us, cache_value_expires_wall_us(value));
			const char *key = walk.sources.keys[i];

			g_string_append_printf(source, "%s%s%s%s", i ? "," : "",
					       classes_name(walk.sources.classes[i]), key ? "/" : "",
					       key ? key : "");
		}
		xattrs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
		g_hash_table_insert(xattrs, TREE_XATTR_FETCHED_AT,
				    walk.sources.n ? iso8601(fetched_us) : g_strdup("-"));
		g_hash_table_insert(xattrs, TREE_XATTR_EXPIRES_AT,
				    walk.sources.n ? iso8601(expires_us) : g_strdup("-"));
		g_hash_table_insert(xattrs, TREE_XATTR_STALE,
				    g_strdup(walk.sources.stale ? "1" : "0"));
		g_hash_table_insert(xattrs, TREE_XATTR_SOURCE,
				    walk.sources.n ? g_strdup(source->str) : g_strdup("infrafs"));
	}
	walk_clear(&walk);
	return xattrs;
}

gboolean tree_is_writable(struct tree *tree, const char *path)
{
	return g_strv_contains(writable_names, path);
}

/* ---- invalidation ------------------------------------------------------- */

/* Where each class's data shows in the tree: for matching written patterns
 * against cache entries, and for telling the kernel what to forget. */
static const struct {
	const char *dir;          /* the collection's directory (items below it) */
	const char *json;         /* the whole-collection file */
	gboolean items_hold_data; /* files below dir/<item> come from this class
				   * (projects only give quotas/ its names) */
	const char *changed[8];   /* globs of paths to forget when it expires */
} class_paths[CLASS_COUNT] = {
	[CLASS_AGGREGATES] = { "aggregates", "aggregates.json", TRUE,
			       { "aggregates", "aggregates.json", "hosts/*/aggregates",
				 "hosts/*/gpu_type", "hosts/*/gpu_count", "hosts/*/flavor" } },
	[CLASS_HOSTS] = { "hosts", "hosts.json", TRUE, { "hosts", "hosts.json" } },
	[CLASS_FLAVORS] = { "flavors", "flavors.json", TRUE, { "flavors", "flavors.json" } },
	[CLASS_PROJECTS] = { "quotas", "projects.json", FALSE, { "quotas", "projects.json" } },
	/* Invalidation matches quotas per project (see entry_matches). */
	[CLASS_QUOTAS] = { NULL, NULL, FALSE, { "quotas/*/compute", "quotas/*/compute.json" } },
	[CLASS_SERVERS] = { NULL, NULL, FALSE, { "hosts/*/servers.json" } },
	[CLASS_PLACEMENT] = { NULL, NULL, FALSE,
			      { "hosts/*/inventory.json", "hosts/*/gpu_count", "hosts/*/flavor" } },
	[CLASS_NETBOX] = { NULL, NULL, FALSE, { "hosts/*/netbox.json" } },
};

/* One cache entry that expired, to refetch it for `refresh`. */
struct expired_key {
	enum data_class data_class;
	char *key;
};

static void expired_key_free(gpointer data)
{
	struct expired_key *expired = data;

	g_free(expired->key);
	g_free(expired);
}

struct expiry {
	GPtrArray *patterns;      /* char* */
	GPtrArray *keys;          /* struct expired_key, owned */
	GHashTable *project_dirs; /* project id -> "quotas/<file name>", or NULL */
	gboolean expired[CLASS_COUNT];
	GPtrArray *changed;       /* globs to forget, owned */
};

static gboolean any_pattern_covers(const struct expiry *expiry, const char *path)
{
	for (guint i = 0; i < expiry->patterns->len; i++)
		if (control_pattern_covers(expiry->patterns->pdata[i], path))
			return TRUE;
	return FALSE;
}

/* A pattern names `path` itself or one of its ancestors (not something below). */
static gboolean any_pattern_contains(const struct expiry *expiry, const char *path)
{
	for (guint i = 0; i < expiry->patterns->len; i++)
		if (control_glob_contains(expiry->patterns->pdata[i], path))
			return TRUE;
	return FALSE;
}

static gboolean item_paths_covered(const struct expiry *expiry, const char *dir,
				   const struct model_collection *collection)
{
	for (guint i = 0; i < collection->items->len; i++) {
		const struct model_item *item = collection->items->pdata[i];
		g_autofree char *path = g_strconcat(dir, "/", item->file_name, NULL);

		if (any_pattern_covers(expiry, path))
			return TRUE;
	}
	return FALSE;
}

static gboolean collection_matches(const struct expiry *expiry, enum data_class data_class,
				   const struct cache_value *value)
{
	const char *dir = class_paths[data_class].dir;

	if (any_pattern_covers(expiry, class_paths[data_class].json))
		return TRUE;
	if (!class_paths[data_class].items_hold_data)
		return any_pattern_contains(expiry, dir);
	if (any_pattern_covers(expiry, dir))
		return TRUE;
	/* Bare globs such as '*h100*' select items by name. */
	return value != NULL &&
	       item_paths_covered(expiry, dir, ((const struct model *)cache_value_data(value))
						       ->collection);
}

/* A cache_match_fn: does any written pattern touch this entry's data? */
static gboolean entry_matches(enum data_class data_class, const char *key,
			      const struct cache_value *value, gpointer user_data)
{
	struct expiry *expiry = user_data;
	gboolean hit = FALSE;

	if (data_class == CLASS_QUOTAS) {
		const char *dir = expiry->project_dirs && key
					  ? g_hash_table_lookup(expiry->project_dirs, key)
					  : NULL;

		hit = any_pattern_covers(expiry, dir ? dir : "quotas");
		if (hit)
			g_ptr_array_add(expiry->changed, g_strdup(dir ? dir : "quotas"));
	} else if (data_class == CLASS_SERVERS || data_class == CLASS_PLACEMENT ||
		   data_class == CLASS_NETBOX) {
		/* NetBox's key is the service host, which names the host too. */
		g_autofree char *file_name = names_encode(key);
		g_autofree char *path = g_strconcat("hosts/", file_name,
						    data_class == CLASS_SERVERS     ? "/servers.json"
						    : data_class == CLASS_PLACEMENT ? "/inventory.json"
										    : "/netbox.json",
						    NULL);

		hit = key != NULL && any_pattern_covers(expiry, path);
	} else if (class_paths[data_class].dir != NULL) {
		hit = collection_matches(expiry, data_class, value);
	}
	if (hit) {
		struct expired_key *expired = g_new0(struct expired_key, 1);

		expired->data_class = data_class;
		expired->key = g_strdup(key);
		g_ptr_array_add(expiry->keys, expired);
		expiry->expired[data_class] = TRUE;
	}
	return hit;
}

/* Project id -> "quotas/<file name>", from the projects held now (no fetch). */
static GHashTable *project_dirs(struct tree *tree)
{
	g_autoptr(cache_value) value = cache_peek(tree->cache, CLASS_PROJECTS, NULL);

	if (value == NULL)
		return NULL;
	const struct model_collection *projects =
		((const struct model *)cache_value_data(value))->collection;
	GHashTable *dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	for (guint i = 0; i < projects->items->len; i++) {
		const struct model_item *item = projects->items->pdata[i];

		if (item->id != NULL)
			g_hash_table_replace(dirs, g_strdup(item->id),
					     g_strconcat("quotas/", item->file_name, NULL));
	}
	return dirs;
}

/* Tell the fs layer which paths to forget for the classes in `expired`
 * plus the extra globs already in `globs`. */
static void announce(struct tree *tree, const gboolean expired[CLASS_COUNT], GPtrArray *globs)
{
	for (int c = 0; c < CLASS_COUNT; c++)
		for (gsize i = 0; expired[c] && i < G_N_ELEMENTS(class_paths[c].changed) &&
				  class_paths[c].changed[i];
		     i++)
			g_ptr_array_add(globs, g_strdup(class_paths[c].changed[i]));
	g_ptr_array_add(globs, NULL);
	if (tree->changed != NULL && globs->len > 1)
		tree->changed((const char *const *)globs->pdata, tree->changed_data);
}

/* The first component of `path`. Owned. */
static char *first_component(const char *path)
{
	const char *slash = strchr(path, '/');

	return slash ? g_strndup(path, (gsize)(slash - path)) : g_strdup(path);
}

/* Whether `pattern` may touch data of `data_class`: its first component
 * is a glob or names the top of one of the class's paths. A superset of
 * what entry_matches() selects, decided without the entries. */
static gboolean pattern_may_touch(const char *pattern, enum data_class data_class)
{
	g_autofree char *top = first_component(pattern);
	const char *paths[G_N_ELEMENTS(class_paths[0].changed) + 2] = {
		class_paths[data_class].dir, class_paths[data_class].json,
	};

	/* A glob there may cross '/' ('*h100*' selects hosts/gpu-h100-1). */
	if (strpbrk(top, "*?[\\") != NULL)
		return TRUE;
	memcpy(paths + 2, class_paths[data_class].changed, sizeof(class_paths[0].changed));
	for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
		if (paths[i] == NULL)
			continue;
		g_autofree char *path_top = first_component(paths[i]);

		if (strcmp(top, path_top) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Tell the hook (the fleet) what is about to expire. */
static void announce_expiry(struct tree *tree, const GPtrArray *patterns)
{
	gboolean classes[CLASS_COUNT] = { FALSE };
	g_autoptr(GString) text = g_string_new(NULL);

	if (tree->expiry_hook == NULL)
		return;
	for (guint i = 0; i < patterns->len; i++) {
		g_string_append_printf(text, "%s\n", (const char *)patterns->pdata[i]);
		for (int c = 0; c < CLASS_COUNT; c++)
			classes[c] = classes[c] ||
				     pattern_may_touch(patterns->pdata[i], (enum data_class)c);
	}
	tree->expiry_hook(text->str, text->len, classes, tree->expiry_hook_data);
}

/* invalidate and refresh: expire what the patterns select; with `refetch`,
 * fetch it again before returning, failing on the first backend error.
 * Unless `remote`, the expiry hook hears of it first. */
static gboolean expire_patterns(struct tree *tree, const char *data, gsize len,
				gboolean refetch, gboolean remote, GError **error)
{
	g_autoptr(GPtrArray) patterns = control_parse_patterns(data, len, top_names, error);

	if (patterns == NULL)
		return FALSE;
	if (patterns->len == 0)
		return TRUE;
	/* Before the local expiry: a refetch must not find the old shared copy. */
	if (!remote)
		announce_expiry(tree, patterns);

	g_autoptr(GHashTable) dirs = project_dirs(tree);
	g_autoptr(GPtrArray) globs = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(expired_key_free);
	struct expiry expiry = {
		.patterns = patterns, .keys = keys, .project_dirs = dirs, .changed = globs,
	};
	guint expired = cache_expire(tree->cache, entry_matches, &expiry);
	gboolean ok = TRUE;

	g_info("%s%s: %u pattern(s), %u cache entries expired", refetch ? "refresh" : "invalidate",
	       remote ? " from another mount" : "", patterns->len, expired);
	for (guint i = 0; refetch && ok && i < keys->len; i++) {
		const struct expired_key *key = keys->pdata[i];

		ok = cache_fetch_now(tree->cache, key->data_class, key->key, error);
		if (!ok)
			g_prefix_error(error, "refresh of %s%s%s: ", classes_name(key->data_class),
				       key->key ? "/" : "", key->key ? key->key : "");
	}
	/* Expired entries are news for the kernel even when a refetch failed. */
	announce(tree, expiry.expired, globs);
	return ok;
}

gboolean tree_expire_remote(struct tree *tree, const char *patterns, gsize len, GError **error)
{
	if (patterns == NULL)
		return expire_patterns(tree, "*", 1, FALSE, TRUE, error);
	return expire_patterns(tree, patterns, len, FALSE, TRUE, error);
}

void tree_on_data_changed(enum data_class data_class, const char *key, gpointer user_data)
{
	struct tree *tree = user_data;
	gboolean changed[CLASS_COUNT] = { FALSE };
	g_autoptr(GPtrArray) globs = g_ptr_array_new_with_free_func(g_free);

	changed[data_class] = TRUE;
	g_debug("%s%s%s changed in a fetch", classes_name(data_class), key ? "/" : "",
		key ? key : "");
	announce(tree, changed, globs);
}

/* ttl: lines "<class> <seconds>"; all checked before any applies. */
gboolean tree_lookup(struct tree *tree, const char *path, struct tree_attr *attr,
		     GBytes **content, GError **error)
{
	struct walk walk;
	gboolean found = walk_path(tree, path, FALSE, FALSE, &walk, error);

	/* A file under /live is fetched when it is looked up: with no open
	 * request, the lookup is the kernel's last word before it reads. */
	if (found && walk.live && walk.node.kind == TREE_FILE) {
		walk_clear(&walk);
		found = walk_path(tree, path, FALSE, TRUE, &walk, error);
	}
	if (found) {
		fill_attr(&walk, attr);
		*content = walk.node.kind == TREE_FILE ? g_steal_pointer(&walk.node.content) : NULL;
	}
	walk_clear(&walk);
	return found;
}

static gboolean set_ttls(struct tree *tree, const char *data, gsize len, GError **error)
{
	g_autofree char *text = g_strndup(data, len);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	guint ttl_s[CLASS_COUNT];
	gboolean changed[CLASS_COUNT] = { FALSE };
	gboolean any = FALSE;

	for (int i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) words = g_strsplit_set(g_strstrip(lines[i]), " \t", -1);
		guint n_words = 0;
		const char *class_name = NULL, *seconds = NULL;
		enum data_class data_class;

		for (int w = 0; words[w] != NULL; w++) {
			if (words[w][0] == '\0')
				continue;
			if (n_words == 0)
				class_name = words[w];
			else
				seconds = words[w];
			n_words++;
		}
		if (n_words == 0)
			continue;
		if (n_words != 2 || !classes_from_name(class_name, &data_class)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
				    "ttl: expected \"<class> <seconds>\" (classes as listed when "
				    "reading ttl), got \"%s\"",
				    lines[i]);
			return FALSE;
		}
		if (!config_parse_seconds(seconds, &ttl_s[data_class])) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
				    "ttl: %s: expected whole seconds from 0 to %d, got \"%s\"",
				    class_name, CONFIG_MAX_SECONDS, seconds);
			return FALSE;
		}
		changed[data_class] = any = TRUE;
	}
	if (!any)
		return TRUE;
	for (int c = 0; c < CLASS_COUNT; c++) {
		if (!changed[c])
			continue;
		cache_set_ttl(tree->cache, (enum data_class)c, ttl_s[c]);
		/* A grace window not set explicitly follows its TTL, as at mount. */
		if (!tree->config->grace_set[c])
			cache_set_grace(tree->cache, (enum data_class)c,
					MIN(ttl_s[c], CONFIG_MAX_DEFAULT_GRACE_S));
		g_info("ttl: %s now %u s", classes_name((enum data_class)c), ttl_s[c]);
	}
	/* The kernel holds names and attributes for the old TTL: drop them. */
	g_autoptr(GPtrArray) globs = g_ptr_array_new_with_free_func(g_free);

	announce(tree, changed, globs);
	return TRUE;
}

/* ttl: "<class> <seconds>" so far? */
static enum control_fragment ttl_fragment(const char *data, gsize len)
{
	if (memchr(data, '\0', len) != NULL)
		return CONTROL_FRAGMENT_INVALID;
	g_autofree char *text = g_strndup(data, len);
	gboolean word_ended = len > 0 && g_ascii_isspace(data[len - 1]);
	g_auto(GStrv) parts = g_strsplit_set(g_strstrip(text), " \t", -1);
	const char *words[3] = { NULL };
	guint n_words = 0;
	enum data_class data_class;
	guint seconds;

	for (int i = 0; parts[i] != NULL; i++) {
		if (parts[i][0] == '\0')
			continue;
		if (n_words == G_N_ELEMENTS(words))
			return CONTROL_FRAGMENT_INVALID;
		words[n_words++] = parts[i];
	}
	if (n_words == 0)
		return CONTROL_FRAGMENT_PARTIAL;
	if (n_words == 1 && !word_ended) {
		for (int c = 0; c < CLASS_COUNT; c++)
			if (g_str_has_prefix(classes_name((enum data_class)c), words[0]))
				return CONTROL_FRAGMENT_PARTIAL;
		return CONTROL_FRAGMENT_INVALID;
	}
	if (n_words > 2 || !classes_from_name(words[0], &data_class))
		return CONTROL_FRAGMENT_INVALID;
	if (n_words == 1)
		return CONTROL_FRAGMENT_PARTIAL;
	return config_parse_seconds(words[1], &seconds) ? CONTROL_FRAGMENT_COMPLETE
						       : CONTROL_FRAGMENT_INVALID;
}

/* warm: "start" or "stop" so far? */
static enum control_fragment warm_fragment(const char *data, gsize len)
{
	if (memchr(data, '\0', len) != NULL)
		return CONTROL_FRAGMENT_INVALID;
	g_autofree char *word = g_strstrip(g_strndup(data, len));

	if (g_strcmp0(word, "start") == 0 || g_strcmp0(word, "stop") == 0)
		return CONTROL_FRAGMENT_COMPLETE;
	if (g_str_has_prefix("start", word) || g_str_has_prefix("stop", word))
		return CONTROL_FRAGMENT_PARTIAL;
	return CONTROL_FRAGMENT_INVALID;
}

enum control_fragment tree_write_fragment(const char *path, const char *data, gsize len,
					  gpointer user_data)
{
	if (g_strcmp0(path, ".infrafs/invalidate") == 0 ||
	    g_strcmp0(path, ".infrafs/refresh") == 0)
		return control_pattern_fragment(data, len, top_names);
	if (g_strcmp0(path, ".infrafs/ttl") == 0)
		return ttl_fragment(data, len);
	if (g_strcmp0(path, ".infrafs/warm") == 0)
		return warm_fragment(data, len);
	return CONTROL_FRAGMENT_INVALID;
}

gboolean tree_write(struct tree *tree, const char *path, const char *data, gsize len,
		    GError **error)
{
	/* Every control file takes text: a NUL would cut what is parsed short
	 * of what was written. */
	if (memchr(data, '\0', len) != NULL && tree_is_writable(tree, path)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID, "write contains a NUL byte");
		return FALSE;
	}
	if (g_strcmp0(path, ".infrafs/invalidate") == 0)
		return expire_patterns(tree, data, len, FALSE, FALSE, error);
	if (g_strcmp0(path, ".infrafs/refresh") == 0)
		return expire_patterns(tree, data, len, TRUE, FALSE, error);
	if (g_strcmp0(path, ".infrafs/ttl") == 0)
		return set_ttls(tree, data, len, error);
	if (g_strcmp0(path, ".infrafs/warm") == 0)
		return control_warm(tree, data, len, error);
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_READ_ONLY, "/%s is not writable", path);
	return FALSE;
}
