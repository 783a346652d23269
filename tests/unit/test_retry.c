/* Unit tests for retry (which failures are retried, how long the waits are)
 * and ratelimit (the token bucket), on a manual clock. */
#include <glib.h>

#include "infrafs/clock.h"
#include "infrafs/errors.h"
#include "infrafs/ratelimit.h"
#include "infrafs/retry.h"

static void test_transient_statuses(void)
{
	for (long status = 100; status < 600; status++) {
		gboolean expected = status == 429 || status == 500 || status == 502 ||
				    status == 503 || status == 504;

		g_assert_cmpint(retry_status_is_transient(status), ==, expected);
	}
}

static void test_transient_errors(void)
{
	g_autoptr(GError) timeout = g_error_new(INFRAFS_ERROR, INFRAFS_ERROR_TIMEOUT, "t");
	g_autoptr(GError) refused = g_error_new(INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE, "r");
	g_autoptr(GError) bad_json = g_error_new(INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE, "j");

	g_assert_true(retry_error_is_transient(timeout));
	g_assert_true(retry_error_is_transient(refused));
	g_assert_false(retry_error_is_transient(bad_json));
	g_assert_false(retry_error_is_transient(NULL));
}

static void test_backoff_ceilings_double_up_to_the_cap(void)
{
	/* random_unit just below 1 gives the ceiling. */
	const double top = 0.999999;

	g_assert_cmpuint(retry_backoff_ms(1, top), ==, RETRY_BASE_MS - 1);
	g_assert_cmpuint(retry_backoff_ms(2, top), ==, 2 * RETRY_BASE_MS - 1);
	g_assert_cmpuint(retry_backoff_ms(3, top), ==, 4 * RETRY_BASE_MS - 1);
	g_assert_cmpuint(retry_backoff_ms(20, top), ==, RETRY_CAP_MS - 1);
	g_assert_cmpuint(retry_backoff_ms(1000, top), ==, RETRY_CAP_MS - 1);
}

static void test_backoff_is_jittered_from_zero(void)
{
	g_assert_cmpuint(retry_backoff_ms(3, 0.0), ==, 0);
	g_assert_cmpuint(retry_backoff_ms(3, 0.5), ==, 2 * RETRY_BASE_MS);
	/* Out-of-range randomness is clamped, never a longer wait. */
	g_assert_cmpuint(retry_backoff_ms(1, 7.0), <=, RETRY_BASE_MS);
	g_assert_cmpuint(retry_backoff_ms(1, -1.0), ==, 0);
}

static void test_retry_after_seconds(void)
{
	guint64 ms = 0;

	g_assert_true(retry_after_ms("2", 0, &ms));
	g_assert_cmpuint(ms, ==, 2000);
	g_assert_true(retry_after_ms(" 0 ", 0, &ms));
	g_assert_cmpuint(ms, ==, 0);
}

static void test_retry_after_http_date(void)
{
	/* 2015-10-21 07:28:00 UTC is 1445412480. */
	gint64 now_us = (gint64)1445412470 * G_USEC_PER_SEC;
	guint64 ms = 0;

	g_assert_true(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now_us, &ms));
	g_assert_cmpuint(ms, ==, 10000);
	/* A date already past asks for no wait. */
	g_assert_true(retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now_us, &ms));
	g_assert_cmpuint(ms, ==, 0);
}

static void test_retry_after_garbage_is_refused(void)
{
	guint64 ms = 77;

	g_assert_false(retry_after_ms(NULL, 0, &ms));
	g_assert_false(retry_after_ms("", 0, &ms));
	g_assert_false(retry_after_ms("soon", 0, &ms));
	g_assert_false(retry_after_ms("-5", 0, &ms));
	g_assert_false(retry_after_ms("5s", 0, &ms));
	g_assert_false(retry_after_ms("99999999999999", 0, &ms));
	g_assert_false(retry_after_ms("Wed, 21 Oct 2015 07:28:00", 0, &ms));
	g_assert_cmpuint(ms, ==, 77);
}

/* ---- ratelimit, on a manual clock -------------------------------------- */

static gint64 mono_us, wall_us;

static void manual_clock(void)
{
	mono_us = 1000 * G_USEC_PER_SEC;
	wall_us = 0;
	clock_use_manual(&mono_us, &wall_us);
}

static void test_rate_limit_burst_then_spacing(void)
{
	manual_clock();
	struct rate_limit *limit = rate_limit_new(10.0, 3);
	gint64 wait_us = -1;

	for (int i = 0; i < 3; i++) {
		g_assert_true(rate_limit_reserve(limit, G_MAXINT64, &wait_us));
		g_assert_cmpint(wait_us, ==, 0);
	}
	/* The bucket is empty: each further token is 100 ms after the last. */
	g_assert_true(rate_limit_reserve(limit, G_MAXINT64, &wait_us));
	g_assert_cmpint(wait_us, ==, 100000);
	g_assert_true(rate_limit_reserve(limit, G_MAXINT64, &wait_us));
	g_assert_cmpint(wait_us, ==, 200000);
	/* Time refills it, up to the burst only. */
	mono_us += 10 * G_USEC_PER_SEC;
	for (int i = 0; i < 3; i++) {
		g_assert_true(rate_limit_reserve(limit, G_MAXINT64, &wait_us));
		g_assert_cmpint(wait_us, ==, 0);
	}
	g_assert_true(rate_limit_reserve(limit, G_MAXINT64, &wait_us));
	g_assert_cmpint(wait_us, >, 0);
	rate_limit_free(limit);
	clock_use_manual(NULL, NULL);
}

static void test_rate_limit_refuses_past_the_deadline(void)
{
	manual_clock();
	struct rate_limit *limit = rate_limit_new(1.0, 1);
	gint64 wait_us = -1;

	g_assert_true(rate_limit_reserve(limit, mono_us, &wait_us));
	/* The next token is a second away; a deadline sooner gets none... */
	g_assert_false(rate_limit_reserve(limit, mono_us + 500000, &wait_us));
	/* ...and reserved nothing: the one after is still a second away. */
	g_assert_true(rate_limit_reserve(limit, mono_us + G_USEC_PER_SEC, &wait_us));
	g_assert_cmpint(wait_us, ==, G_USEC_PER_SEC);
	rate_limit_free(limit);
	clock_use_manual(NULL, NULL);
}

static void test_rate_limit_zero_is_unlimited(void)
{
	struct rate_limit *limit = rate_limit_new(0.0, 1);
	gint64 wait_us = -1;

	for (int i = 0; i < 1000; i++) {
		g_assert_true(rate_limit_reserve(limit, 0, &wait_us));
		g_assert_cmpint(wait_us, ==, 0);
	}
	rate_limit_free(limit);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/retry/status/transient", test_transient_statuses);
	g_test_add_func("/retry/error/transient", test_transient_errors);
	g_test_add_func("/retry/backoff/ceilings-double-up-to-the-cap",
			test_backoff_ceilings_double_up_to_the_cap);
	g_test_add_func("/retry/backoff/jittered-from-zero", test_backoff_is_jittered_from_zero);
	g_test_add_func("/retry/retry-after/seconds", test_retry_after_seconds);
	g_test_add_func("/retry/retry-after/http-date", test_retry_after_http_date);
	g_test_add_func("/retry/retry-after/garbage-refused", test_retry_after_garbage_is_refused);
	g_test_add_func("/ratelimit/burst-then-spacing", test_rate_limit_burst_then_spacing);
	g_test_add_func("/ratelimit/refuses-past-the-deadline",
			test_rate_limit_refuses_past_the_deadline);
	g_test_add_func("/ratelimit/zero-is-unlimited", test_rate_limit_zero_is_unlimited);
	return g_test_run();
}
