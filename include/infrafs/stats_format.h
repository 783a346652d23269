/* stats_format: the cache counters as users read them: a table for
 * .infrafs/stats, JSON for .infrafs/stats.json, and the Prometheus text
 * exposition for .infrafs/metrics. Pure; labels are per class and outcome,
 * never per key, so the number of series stays fixed. */
#pragma once

#include <glib.h>

#include "infrafs/api.h"
#include "infrafs/cache.h"
#include "infrafs/l2.h"
#include "infrafs/requests.h"

/* A snapshot of every class's counters, taken once per read. */
struct stats_snapshot {
	struct cache_class_stats classes[CLASS_COUNT];
	guint64 errors_recorded;    /* backend errors ever recorded */
	guint64 total_bytes;        /* held by the cache, all classes */
	guint64 max_bytes;          /* its bound (0: none) */
	guint64 kernel_requests[REQUEST_KIND_COUNT]; /* sent by the kernel, by kind */
	struct api_counts api;      /* requests sent, retries, 429s, rate-limit waits */
	gboolean l2_enabled;        /* a shared cache in Redis is configured */
	const char *l2_url;         /* its URL, password masked; borrowed */
	struct l2_counts l2;
	gint64 now_wall_us;
};

GBytes *stats_format_table(const struct stats_snapshot *snapshot);
GBytes *stats_format_json(const struct stats_snapshot *snapshot);
GBytes *stats_format_prometheus(const struct stats_snapshot *snapshot);

/* The fetch duration (ms) below which `fraction` of fetches fell, from the
 * buckets (upper bound of the bucket that crosses it); 0 with no fetches. */
double stats_fetch_quantile_ms(const struct cache_class_stats *stats, double fraction);
