/* api: one request to an OpenStack service, sent as a good API citizen.
 *
 * - At most `rate_per_s` requests a second to each service (a token bucket
 *   per service name, `burst` deep), however many readers want data.
 * - Transient failures (retry.h) are tried again, at most `max_retries`
 *   times, after an exponential backoff with full jitter, or after what a
 *   Retry-After header on 429 or 503 asks for.
 * - All of it inside one deadline, `deadline_ms` from the first attempt:
 *   no wait is begun that would end past it, and the last attempt's
 *   transfer timeout is cut to what is left. So a read never waits longer
 *   than the configured timeout for one request, retries included.
 *
 * Thread-safe; the client is borrowed. */
#pragma once

#include <glib.h>

#include "infrafs/http.h"

struct api_options {
	guint max_retries;      /* 0: one attempt only */
	double rate_per_s;      /* 0: unlimited */
	guint burst;            /* requests a service may get at once after a quiet spell */
	guint deadline_ms;      /* one request, retries and waits included */
};

/* What the retries and the rate limit have done, since the start. */
struct api_counts {
	guint64 requests;       /* attempts sent */
	guint64 retries;        /* attempts that were retries */
	guint64 throttled;      /* 429 answers */
	guint64 rate_waits;     /* requests that waited for the rate limit */
};

struct api;

struct api *api_new(struct http_client *client, const struct api_options *options);
void api_free(struct api *api);

/* Send the request to `service` (names the bucket: "identity", "compute",
 * "placement"). Returns the last response: a success, a status that is
 * not transient, or a transient one when retries or time ran out. NULL
 * with the last transport error (TIMEOUT when the deadline passed). */
struct http_response *api_request(struct api *api, const char *service, const char *method,
				  const char *url, const char *const *headers, const char *body,
				  GError **error);

void api_get_counts(struct api *api, struct api_counts *counts);
