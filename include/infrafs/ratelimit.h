/* ratelimit: a token bucket, so that infrafs sends a service at most so
 * many requests a second, however many readers want data at once. Tokens
 * accrue at `per_second` up to `burst`; taking one when none is there
 * waits, on the monotonic clock. Thread-safe. */
#pragma once

#include <glib.h>

struct rate_limit;

/* `per_second` 0 means unlimited: every take succeeds at once. */
struct rate_limit *rate_limit_new(double per_second, guint burst);
void rate_limit_free(struct rate_limit *limit);

/* Reserve one token: how long the caller must wait before using it, in
 * microseconds (0 when one was there). FALSE, reserving nothing, when that
 * wait would end after `deadline_mono_us`. */
gboolean rate_limit_reserve(struct rate_limit *limit, gint64 deadline_mono_us, gint64 *wait_us);

/* rate_limit_reserve(), then sleep the wait. */
gboolean rate_limit_take(struct rate_limit *limit, gint64 deadline_mono_us);
