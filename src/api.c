/* api: rate limit, retries and one deadline per request (see infrafs/api.h). */
#include "infrafs/api.h"

#include "infrafs/clock.h"
#include "infrafs/errors.h"
#include "infrafs/ratelimit.h"
#include "infrafs/retry.h"

struct api {
	struct http_client *client;  /* borrowed */
	struct api_options options;
	GMutex lock;                 /* guards limits */
	GHashTable *limits;          /* service name -> struct rate_limit (owned) */
	struct api_counts counts;    /* atomics */
};

struct api *api_new(struct http_client *client, const struct api_options *options)
{
	struct api *api = g_new0(struct api, 1);

	api->client = client;
	api->options = *options;
	g_mutex_init(&api->lock);
	api->limits = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    (GDestroyNotify)rate_limit_free);
	return api;
}

void api_free(struct api *api)
{
	if (api == NULL)
		return;
	g_hash_table_unref(api->limits);
	g_mutex_clear(&api->lock);
	g_free(api);
}

static struct rate_limit *limit_of(struct api *api, const char *service)
{
	g_mutex_lock(&api->lock);
	struct rate_limit *limit = g_hash_table_lookup(api->limits, service);

	if (limit == NULL) {
		limit = rate_limit_new(api->options.rate_per_s, api->options.burst);
		g_hash_table_insert(api->limits, g_strdup(service), limit);
	}
	g_mutex_unlock(&api->lock);
	return limit;
}

static void count(guint64 *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* How long to wait before retry number `retry` after `response` (NULL after
 * a transport error): what Retry-After asks, else a jittered backoff. */
static guint64 wait_before_retry_ms(const struct http_response *response, guint retry)
{
	guint64 asked_ms = 0;

	if (response != NULL && (response->status == 429 || response->status == 503) &&
	    retry_after_ms(http_response_header(response, "Retry-After"), clock_wall_us(),
			   &asked_ms))
		return asked_ms;
	return retry_backoff_ms(retry, g_random_double());
}

struct http_response *api_request(struct api *api, const char *service, const char *method,
				  const char *url, const char *const *headers, const char *body,
				  GError **error)
{
	gint64 deadline_us = clock_mono_us() + (gint64)api->options.deadline_ms * 1000;
	struct rate_limit *limit = limit_of(api, service);

	for (guint retry = 0;; retry++) {
		gint64 wait_us = 0;

		if (!rate_limit_reserve(limit, deadline_us, &wait_us)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_TIMEOUT,
				    "%s %s: the rate limit (%.3g requests/s to %s) leaves no time "
				    "before the deadline",
				    method, url, api->options.rate_per_s, service);
			return NULL;
		}
		if (wait_us > 0) {
			count(&api->counts.rate_waits);
			g_usleep((gulong)wait_us);
		}
		gint64 left_ms = (deadline_us - clock_mono_us()) / 1000;
		g_autoptr(GError) failure = NULL;

		count(&api->counts.requests);
		if (retry > 0)
			count(&api->counts.retries);
		struct http_response *response =
			http_request_within(api->client, method, url, headers, body,
					    (guint)CLAMP(left_ms, 1, G_MAXUINT), &failure);

		if (response != NULL && response->status == 429)
			count(&api->counts.throttled);
		gboolean transient = response != NULL ? retry_status_is_transient(response->status)
						      : retry_error_is_transient(failure);

		if (!transient || retry >= api->options.max_retries) {
			if (response == NULL)
				g_propagate_error(error, g_steal_pointer(&failure));
			return response;
		}
		guint64 pause_ms = wait_before_retry_ms(response, retry + 1);
		gint64 resume_us = clock_mono_us() + (gint64)pause_ms * 1000;

		if (resume_us >= deadline_us) {
			/* No time for another try: the last answer stands. */
			if (response == NULL)
				g_propagate_error(error, g_steal_pointer(&failure));
			return response;
		}
		/* Debug only: a failing cloud would otherwise fill the log; the
		 * failure that ends a fetch is logged once, by the cache. */
		if (response != NULL)
			g_debug("%s %s: HTTP %ld, retrying in %" G_GUINT64_FORMAT " ms (retry %u of %u)",
			       method, url, response->status, pause_ms, retry + 1,
			       api->options.max_retries);
		else
			g_debug("%s %s: %s, retrying in %" G_GUINT64_FORMAT " ms (retry %u of %u)",
			       method, url, failure->message, pause_ms, retry + 1,
			       api->options.max_retries);
		http_response_free(response);
		g_usleep((gulong)(pause_ms * 1000));
	}
}

void api_get_counts(struct api *api, struct api_counts *counts)
{
	counts->requests = __atomic_load_n(&api->counts.requests, __ATOMIC_RELAXED);
	counts->retries = __atomic_load_n(&api->counts.retries, __ATOMIC_RELAXED);
	counts->throttled = __atomic_load_n(&api->counts.throttled, __ATOMIC_RELAXED);
	counts->rate_waits = __atomic_load_n(&api->counts.rate_waits, __ATOMIC_RELAXED);
}
