/* Unit tests of redis_url: what -o redis accepts, what it refuses, and that
 * neither the errors nor the masked form show the password. */
#include <string.h>

#include "infrafs/errors.h"
#include "infrafs/redis_url.h"

static void test_minimal_defaults(void)
{
	struct redis_url url = { 0 };

	g_assert_true(redis_url_parse("redis://cache.example.org", &url, NULL));
	g_assert_cmpstr(url.host, ==, "cache.example.org");
	g_assert_cmpuint(url.port, ==, 6379);
	g_assert_cmpuint(url.db, ==, 0);
	g_assert_null(url.username);
	g_assert_null(url.password);
	redis_url_clear(&url);
}

static void test_everything(void)
{
	struct redis_url url = { 0 };

	g_assert_true(redis_url_parse("redis://infra:s3cr%40t@10.0.0.5:6390/3", &url, NULL));
	g_assert_cmpstr(url.host, ==, "10.0.0.5");
	g_assert_cmpuint(url.port, ==, 6390);
	g_assert_cmpuint(url.db, ==, 3);
	g_assert_cmpstr(url.username, ==, "infra");
	g_assert_cmpstr(url.password, ==, "s3cr@t");
	g_autofree char *masked = redis_url_masked(&url);

	g_assert_cmpstr(masked, ==, "redis://infra:***@10.0.0.5:6390/3");
	redis_url_clear(&url);
}

static void test_password_only_and_at_sign(void)
{
	struct redis_url url = { 0 };

	/* The host starts after the last '@'. */
	g_assert_true(redis_url_parse("redis://:p@ss@localhost/", &url, NULL));
	g_assert_null(url.username);
	g_assert_cmpstr(url.password, ==, "p@ss");
	g_assert_cmpstr(url.host, ==, "localhost");
	g_autofree char *masked = redis_url_masked(&url);

	g_assert_cmpstr(masked, ==, "redis://:***@localhost:6379/0");
	redis_url_clear(&url);
}

static void test_ipv6(void)
{
	struct redis_url url = { 0 };

	g_assert_true(redis_url_parse("redis://[::1]:7000/1", &url, NULL));
	g_assert_cmpstr(url.host, ==, "::1");
	g_assert_cmpuint(url.port, ==, 7000);
	g_autofree char *masked = redis_url_masked(&url);

	g_assert_cmpstr(masked, ==, "redis://[::1]:7000/1");
	redis_url_clear(&url);
}

static void test_refusals(void)
{
	static const char *const bad[] = {
		"", "http://localhost", "redis://", "redis://host:0", "redis://host:65536",
		"redis://host:port", "redis://host/x", "redis://host/1/2", "redis://ho st",
		"redis://host?db=1", "redis://[::1", "redis://[]:6379", "redis://h%ost",
		"redis://us%zzer:pw@host", "redis://host:6379:1", "redis://u:p\n@host",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct redis_url url = { 0 };
		g_autoptr(GError) error = NULL;

		g_test_message("%s", bad[i]);
		g_assert_false(redis_url_parse(bad[i], &url, &error));
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
		g_assert_null(url.host);
	}
}

static void test_tls_refused_clearly(void)
{
	struct redis_url url = { 0 };
	g_autoptr(GError) error = NULL;

	g_assert_false(redis_url_parse("rediss://u:topsecret@host:6380", &url, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "TLS"));
	g_assert_null(strstr(error->message, "topsecret"));
}

static void test_errors_never_quote_password(void)
{
	struct redis_url url = { 0 };
	g_autoptr(GError) error = NULL;

	g_assert_false(redis_url_parse("redis://u:topsecret@bad host", &url, &error));
	g_assert_null(strstr(error->message, "topsecret"));
}

static void test_parse_failure_keeps_previous(void)
{
	struct redis_url url = { 0 };

	g_assert_true(redis_url_parse("redis://first:1234", &url, NULL));
	g_assert_false(redis_url_parse("redis://", &url, NULL));
	g_assert_cmpstr(url.host, ==, "first");
	g_assert_true(redis_url_parse("redis://second", &url, NULL));
	g_assert_cmpstr(url.host, ==, "second");
	g_assert_cmpuint(url.port, ==, 6379);
	redis_url_clear(&url);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	g_test_add_func("/redis_url/minimal-defaults", test_minimal_defaults);
	g_test_add_func("/redis_url/everything", test_everything);
	g_test_add_func("/redis_url/password-only-and-at-sign", test_password_only_and_at_sign);
	g_test_add_func("/redis_url/ipv6", test_ipv6);
	g_test_add_func("/redis_url/refusals", test_refusals);
	g_test_add_func("/redis_url/tls-refused-clearly", test_tls_refused_clearly);
	g_test_add_func("/redis_url/errors-never-quote-password", test_errors_never_quote_password);
	g_test_add_func("/redis_url/parse-failure-keeps-previous", test_parse_failure_keeps_previous);
	return g_test_run();
}
