/* stats_format: table, JSON and Prometheus text of the cache counters
 * (see infrafs/stats_format.h). */
#include "infrafs/stats_format.h"

#include <json-c/json.h>

#include "infrafs/json_util.h"
#include "infrafs/render.h"

static double bucket_upper_ms(guint bucket)
{
	return (double)(1u << bucket);
}

double stats_fetch_quantile_ms(const struct cache_class_stats *stats, double fraction)
{
	guint64 total = 0, seen = 0;

	for (guint b = 0; b < CACHE_FETCH_BUCKETS; b++)
		total += stats->fetch_buckets[b];
	if (total == 0)
		return 0.0;
	for (guint b = 0; b < CACHE_FETCH_BUCKETS; b++) {
		seen += stats->fetch_buckets[b];
		if ((double)seen >= fraction * (double)total)
			return bucket_upper_ms(b);
	}
	return bucket_upper_ms(CACHE_FETCH_BUCKETS - 1);
}

static double hit_rate(const struct cache_class_stats *stats)
{
	guint64 lookups = stats->hits + stats->misses;

	return lookups ? (double)stats->hits / (double)lookups : 0.0;
}

GBytes *stats_format_table(const struct stats_snapshot *snapshot)
{
	GString *out = g_string_new(NULL);

	g_string_append_printf(out,
			       "%-11s %6s %7s %7s %10s %8s %8s %7s %9s %8s %7s %8s %7s %7s\n",
			       "class", "ttl_s", "grace_s", "entries", "bytes", "hits", "misses",
			       "stale", "coalesced", "fetches", "errors", "hit_rate", "p50_ms",
			       "p99_ms");
	for (int c = 0; c < CLASS_COUNT; c++) {
		const struct cache_class_stats *s = &snapshot->classes[c];

		g_string_append_printf(
			out,
			"%-11s %6u %7u %7" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT
			" %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT
			" %9" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT
			" %8.3f %7.0f %7.0f\n",
			classes_name((enum data_class)c), s->ttl_s, s->grace_s, s->entries,
			s->bytes, s->hits, s->misses, s->stale_served, s->coalesced, s->fetches,
			s->errors, hit_rate(s), stats_fetch_quantile_ms(s, 0.5),
			stats_fetch_quantile_ms(s, 0.99));
	}
	if (snapshot->l2_enabled) {
		const struct l2_counts *l2 = &snapshot->l2;

		g_string_append_printf(out,
				       "\nshared cache %s: %s, %" G_GUINT64_FORMAT " hits, %" G_GUINT64_FORMAT
				       " misses, %" G_GUINT64_FORMAT " errors, %" G_GUINT64_FORMAT
				       " lock waits, %" G_GUINT64_FORMAT " rejected\n",
				       snapshot->l2_url, l2->connected ? "connected" : "not connected",
				       l2->hits, l2->misses, l2->errors, l2->lock_waits, l2->rejected);
	}
	return g_string_free_to_bytes(out);
}

static void add_uint(json_object *object, const char *key, guint64 value)
{
	json_object_object_add(object, key, json_object_new_int64((gint64)value));
}

GBytes *stats_format_json(const struct stats_snapshot *snapshot)
{
	g_autoptr(json_object) root = json_object_new_object();
	json_object *classes = json_object_new_object();

	json_object_object_add(root, "classes", classes);
	add_uint(root, "errors_recorded", snapshot->errors_recorded);
	add_uint(root, "bytes", snapshot->total_bytes);
	add_uint(root, "max_bytes", snapshot->max_bytes);
	json_object *api = json_object_new_object();

	json_object_object_add(root, "api", api);
	add_uint(api, "requests", snapshot->api.requests);
	add_uint(api, "retries", snapshot->api.retries);
	add_uint(api, "throttled", snapshot->api.throttled);
	add_uint(api, "rate_limit_waits", snapshot->api.rate_waits);
	json_object *l2 = json_object_new_object();

	json_object_object_add(root, "l2", l2);
	json_object_object_add(l2, "enabled", json_object_new_boolean(snapshot->l2_enabled));
	if (snapshot->l2_enabled) {
		const struct l2_counts *c = &snapshot->l2;

		json_object_object_add(l2, "url", json_object_new_string(snapshot->l2_url));
		json_object_object_add(l2, "connected", json_object_new_boolean(c->connected));
		json_object_object_add(l2, "subscribed", json_object_new_boolean(c->subscribed));
		add_uint(l2, "hits", c->hits);
		add_uint(l2, "misses", c->misses);
		add_uint(l2, "errors", c->errors);
		add_uint(l2, "lock_waits", c->lock_waits);
		add_uint(l2, "lock_timeouts", c->lock_timeouts);
		add_uint(l2, "rejected", c->rejected);
		add_uint(l2, "stores", c->stores);
		add_uint(l2, "invalidations_sent", c->invalidations_sent);
		add_uint(l2, "invalidations_received", c->invalidations_received);
		add_uint(l2, "reconnects", c->reconnects);
	}
	json_object *requests = json_object_new_object();

	json_object_object_add(root, "kernel_requests", requests);
	for (int k = 0; k < REQUEST_KIND_COUNT; k++)
		add_uint(requests, request_kind_name((enum request_kind)k),
			 snapshot->kernel_requests[k]);
	for (int c = 0; c < CLASS_COUNT; c++) {
		const struct cache_class_stats *s = &snapshot->classes[c];
		json_object *entry = json_object_new_object();

		add_uint(entry, "ttl_s", s->ttl_s);
		add_uint(entry, "grace_s", s->grace_s);
		add_uint(entry, "entries", s->entries);
		add_uint(entry, "bytes", s->bytes);
		add_uint(entry, "hits", s->hits);
		add_uint(entry, "misses", s->misses);
		add_uint(entry, "stale_served", s->stale_served);
		add_uint(entry, "coalesced", s->coalesced);
		add_uint(entry, "fetches", s->fetches);
		add_uint(entry, "errors", s->errors);
		add_uint(entry, "refreshes", s->refreshes);
		add_uint(entry, "evictions", s->evictions);
		json_object_object_add(entry, "hit_rate", json_object_new_double(hit_rate(s)));
		json_object_object_add(entry, "fetch_ms_p50",
				       json_object_new_double(stats_fetch_quantile_ms(s, 0.5)));
		json_object_object_add(entry, "fetch_ms_p99",
				       json_object_new_double(stats_fetch_quantile_ms(s, 0.99)));
		json_object_object_add(
			entry, "fetch_ms_total",
			json_object_new_double((double)s->fetch_us_total / 1000.0));
		json_object_object_add(classes, classes_name((enum data_class)c), entry);
	}
	return render_json(root);
}

static void append_l2_metrics(GString *out, const struct l2_counts *c)
{
	const struct {
		const char *name;
		const char *help;
		guint64 value;
	} counters[] = {
		{ "hits", "Lookups answered by the shared cache in Redis.", c->hits },
		{ "misses", "Lookups the shared cache could not answer.", c->misses },
		{ "errors", "Failed Redis connections and commands.", c->errors },
		{ "lock_waits", "Fetches that waited for another mount's fetch.", c->lock_waits },
		{ "lock_timeouts", "Waits for another mount's fetch that passed their deadline.",
		  c->lock_timeouts },
		{ "rejected", "Entries refused: corrupt, foreign, truncated or unusable.",
		  c->rejected },
		{ "stores", "Fetches stored in the shared cache.", c->stores },
		{ "invalidations_sent", "Invalidations published to the other mounts.",
		  c->invalidations_sent },
		{ "invalidations_received", "Invalidations received from other mounts.",
		  c->invalidations_received },
		{ "reconnects", "Recoveries after a Redis outage.", c->reconnects },
	};

	g_string_append_printf(out,
			       "# HELP infrafs_l2_connected Whether Redis answers (1) or not (0).\n"
			       "# TYPE infrafs_l2_connected gauge\n"
			       "infrafs_l2_connected %d\n",
			       c->connected ? 1 : 0);
	for (gsize i = 0; i < G_N_ELEMENTS(counters); i++)
		g_string_append_printf(out,
				       "# HELP infrafs_l2_%s_total %s\n"
				       "# TYPE infrafs_l2_%s_total counter\n"
				       "infrafs_l2_%s_total %" G_GUINT64_FORMAT "\n",
				       counters[i].name, counters[i].help, counters[i].name,
				       counters[i].name, counters[i].value);
}

/* One counter or gauge family with a value per class. */
static void prometheus_family(GString *out, const struct stats_snapshot *snapshot,
			      const char *name, const char *type, const char *help,
			      gsize field_offset)
{
	g_string_append_printf(out, "# HELP infrafs_%s %s\n# TYPE infrafs_%s %s\n", name, help,
			       name, type);
	for (int c = 0; c < CLASS_COUNT; c++) {
		const guint8 *base = (const guint8 *)&snapshot->classes[c];
		guint64 value = *(const guint64 *)(base + field_offset);

		g_string_append_printf(out, "infrafs_%s{class=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       name, classes_name((enum data_class)c), value);
	}
}

GBytes *stats_format_prometheus(const struct stats_snapshot *snapshot)
{
	GString *out = g_string_new(NULL);
	static const struct {
		const char *name;
		const char *type;
		const char *help;
		gsize offset;
	} families[] = {
		{ "cache_entries", "gauge", "Cache entries held.",
		  G_STRUCT_OFFSET(struct cache_class_stats, entries) },
		{ "cache_bytes", "gauge", "Approximate bytes of cached data.",
		  G_STRUCT_OFFSET(struct cache_class_stats, bytes) },
		{ "cache_hits_total", "counter", "Reads answered from memory.",
		  G_STRUCT_OFFSET(struct cache_class_stats, hits) },
		{ "cache_misses_total", "counter", "Reads that had to wait for a fetch.",
		  G_STRUCT_OFFSET(struct cache_class_stats, misses) },
		{ "cache_stale_served_total", "counter",
		  "Reads answered with data past its freshness (grace or failed fetch).",
		  G_STRUCT_OFFSET(struct cache_class_stats, stale_served) },
		{ "cache_coalesced_total", "counter", "Reads that joined another reader's fetch.",
		  G_STRUCT_OFFSET(struct cache_class_stats, coalesced) },
		{ "cache_refreshes_total", "counter", "Background refreshes started.",
		  G_STRUCT_OFFSET(struct cache_class_stats, refreshes) },
		{ "cache_evictions_total", "counter", "Values dropped to stay within cache_max_bytes.",
		  G_STRUCT_OFFSET(struct cache_class_stats, evictions) },
	};

	for (gsize f = 0; f < G_N_ELEMENTS(families); f++)
		prometheus_family(out, snapshot, families[f].name, families[f].type,
				  families[f].help, families[f].offset);

	g_string_append(out, "# HELP infrafs_backend_fetches_total Backend fetches by outcome.\n"
			     "# TYPE infrafs_backend_fetches_total counter\n");
	for (int c = 0; c < CLASS_COUNT; c++) {
		const struct cache_class_stats *s = &snapshot->classes[c];
		const char *name = classes_name((enum data_class)c);

		g_string_append_printf(out,
				       "infrafs_backend_fetches_total{class=\"%s\",outcome=\"ok\"} "
				       "%" G_GUINT64_FORMAT "\n"
				       "infrafs_backend_fetches_total{class=\"%s\",outcome=\"error\"} "
				       "%" G_GUINT64_FORMAT "\n",
				       name, s->fetches - s->errors, name, s->errors);
	}
	g_string_append(out, "# HELP infrafs_backend_fetch_duration_seconds Time one fetch took.\n"
			     "# TYPE infrafs_backend_fetch_duration_seconds histogram\n");
	for (int c = 0; c < CLASS_COUNT; c++) {
		const struct cache_class_stats *s = &snapshot->classes[c];
		const char *name = classes_name((enum data_class)c);
		guint64 cumulative = 0;

		for (guint b = 0; b + 1 < CACHE_FETCH_BUCKETS; b++) {
			cumulative += s->fetch_buckets[b];
			g_string_append_printf(out,
					       "infrafs_backend_fetch_duration_seconds_bucket{class=\"%s\","
					       "le=\"%g\"} %" G_GUINT64_FORMAT "\n",
					       name, bucket_upper_ms(b) / 1000.0, cumulative);
		}
		g_string_append_printf(out,
				       "infrafs_backend_fetch_duration_seconds_bucket{class=\"%s\","
				       "le=\"+Inf\"} %" G_GUINT64_FORMAT "\n"
				       "infrafs_backend_fetch_duration_seconds_sum{class=\"%s\"} %.6f\n"
				       "infrafs_backend_fetch_duration_seconds_count{class=\"%s\"} "
				       "%" G_GUINT64_FORMAT "\n",
				       name, s->fetches, name, (double)s->fetch_us_total / 1e6, name,
				       s->fetches);
	}
	g_string_append_printf(out,
			       "# HELP infrafs_backend_errors_recorded_total Backend errors recorded "
			       "in .infrafs/errors.\n"
			       "# TYPE infrafs_backend_errors_recorded_total counter\n"
			       "infrafs_backend_errors_recorded_total %" G_GUINT64_FORMAT "\n",
			       snapshot->errors_recorded);
	g_string_append_printf(
		out,
		"# HELP infrafs_api_requests_total HTTP requests sent to the cloud, retries "
		"included.\n"
		"# TYPE infrafs_api_requests_total counter\n"
		"infrafs_api_requests_total %" G_GUINT64_FORMAT "\n"
		"# HELP infrafs_api_retries_total Requests sent again after a transient failure.\n"
		"# TYPE infrafs_api_retries_total counter\n"
		"infrafs_api_retries_total %" G_GUINT64_FORMAT "\n"
		"# HELP infrafs_api_throttled_total Answers of 429 Too Many Requests.\n"
		"# TYPE infrafs_api_throttled_total counter\n"
		"infrafs_api_throttled_total %" G_GUINT64_FORMAT "\n"
		"# HELP infrafs_api_rate_limit_waits_total Requests that waited for the rate "
		"limit.\n"
		"# TYPE infrafs_api_rate_limit_waits_total counter\n"
		"infrafs_api_rate_limit_waits_total %" G_GUINT64_FORMAT "\n",
		snapshot->api.requests, snapshot->api.retries, snapshot->api.throttled,
		snapshot->api.rate_waits);
	if (snapshot->l2_enabled)
		append_l2_metrics(out, &snapshot->l2);
	g_string_append(out, "# HELP infrafs_kernel_requests_total Requests the kernel sent "
			     "the daemon, by kind.\n"
			     "# TYPE infrafs_kernel_requests_total counter\n");
	for (int k = 0; k < REQUEST_KIND_COUNT; k++)
		g_string_append_printf(out,
				       "infrafs_kernel_requests_total{op=\"%s\"} %" G_GUINT64_FORMAT
				       "\n",
				       request_kind_name((enum request_kind)k),
				       snapshot->kernel_requests[k]);
	return g_string_free_to_bytes(out);
}
