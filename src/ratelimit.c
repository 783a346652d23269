/* ratelimit: a token bucket (see infrafs/ratelimit.h). */
#include "infrafs/ratelimit.h"

#include "infrafs/clock.h"

struct rate_limit {
	GMutex lock;            /* guards the fields below */
	double per_second;
	double burst;
	double tokens;          /* may go negative: reservations waiting their turn */
	gint64 updated_mono_us;
};

struct rate_limit *rate_limit_new(double per_second, guint burst)
{
	struct rate_limit *limit = g_new0(struct rate_limit, 1);

	g_mutex_init(&limit->lock);
	limit->per_second = per_second;
	limit->burst = MAX(burst, 1);
	limit->tokens = limit->burst;
	limit->updated_mono_us = clock_mono_us();
	return limit;
}

void rate_limit_free(struct rate_limit *limit)
{
	if (limit == NULL)
		return;
	g_mutex_clear(&limit->lock);
	g_free(limit);
}

gboolean rate_limit_reserve(struct rate_limit *limit, gint64 deadline_mono_us, gint64 *wait_us)
{
	*wait_us = 0;
	if (limit == NULL || limit->per_second <= 0)
		return TRUE;
	g_mutex_lock(&limit->lock);
	gint64 now_us = clock_mono_us();
	double elapsed_s = (double)(now_us - limit->updated_mono_us) / 1e6;

	limit->tokens = MIN(limit->burst, limit->tokens + MAX(elapsed_s, 0.0) * limit->per_second);
	limit->updated_mono_us = now_us;
	/* A token is ours once the count, after taking it, is not below 0;
	 * below, the deficit is paid back at per_second. */
	double deficit = 1.0 - limit->tokens;
	gint64 wait = deficit > 0 ? (gint64)(deficit / limit->per_second * 1e6 + 0.5) : 0;
	gboolean ok = now_us + wait <= deadline_mono_us;

	if (ok) {
		limit->tokens -= 1.0;
		*wait_us = wait;
	}
	g_mutex_unlock(&limit->lock);
	return ok;
}

gboolean rate_limit_take(struct rate_limit *limit, gint64 deadline_mono_us)
{
	gint64 wait_us = 0;

	if (!rate_limit_reserve(limit, deadline_mono_us, &wait_us))
		return FALSE;
	if (wait_us > 0)
		g_usleep((gulong)wait_us);
	return TRUE;
}
