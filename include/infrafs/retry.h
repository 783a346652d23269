/* retry: whether a failed API request deserves another try, and how long
 * to wait before it. Pure; thread-safe.
 *
 * Transient: 429 (too many requests), 500, 502, 503, 504, and transport
 * failures (refused, reset, timed out). Not transient: every other status
 * (a 404 is an answer; a 401 is handled by re-authenticating) and a body
 * that does not parse. Waits grow exponentially with full jitter (AWS's
 * "Exponential Backoff And Jitter"), so that many clients retrying at once
 * spread out; a Retry-After header on 429 or 503 is honoured instead. */
#pragma once

#include <glib.h>

/* Shortest and longest backoff ceilings, in milliseconds. */
#define RETRY_BASE_MS 100
#define RETRY_CAP_MS 5000

gboolean retry_status_is_transient(long status);
gboolean retry_error_is_transient(const GError *error);

/* The wait before retry number `retry` (1 for the first retry): uniform in
 * [0, min(RETRY_CAP_MS, RETRY_BASE_MS * 2^(retry-1))], picked by
 * `random_unit` in [0, 1). */
guint retry_backoff_ms(guint retry, double random_unit);

/* The wait a Retry-After value asks for: delta-seconds ("120") or an
 * HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT") compared with `now_wall_us`
 * (a date in the past asks for 0). FALSE when it is neither. */
gboolean retry_after_ms(const char *value, gint64 now_wall_us, guint64 *wait_ms);
