/* Unit tests of l2_format: entries round-trip, and every kind of damage
 * (corrupt, truncated, foreign, another version) is refused; scopes tell
 * clouds, regions, users and projects apart and hold no secret. */
#include <string.h>

#include "infrafs/errors.h"
#include "infrafs/l2_format.h"

#define KEY "infrafs:1:0123456789abcdef:data:hosts"
#define PAYLOAD "[{\"hypervisor_hostname\":\"gpu-1\"}]"

static GBytes *sample(void)
{
	return l2_format_encode(KEY, 42, 1700000000123456, PAYLOAD, strlen(PAYLOAD));
}

static void test_round_trip(void)
{
	g_autoptr(GBytes) bytes = sample();
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);
	struct l2_entry entry;
	g_autoptr(GError) error = NULL;

	g_assert_true(l2_format_decode(KEY, data, len, &entry, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(entry.epoch, ==, 42);
	g_assert_cmpint(entry.fetched_wall_us, ==, 1700000000123456);
	g_assert_cmpmem(entry.payload, entry.payload_len, PAYLOAD, strlen(PAYLOAD));
}

static void assert_refused(const char *key, const char *data, gsize len, const char *why)
{
	struct l2_entry entry;
	g_autoptr(GError) error = NULL;

	g_assert_false(l2_format_decode(key, data, len, &entry, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
	if (error != NULL && strstr(error->message, why) == NULL)
		g_test_fail_printf("expected \"%s\" in \"%s\"", why, error->message);
}

static void test_every_flipped_byte_refused(void)
{
	g_autoptr(GBytes) bytes = sample();
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);

	for (gsize i = 0; i < len; i++) {
		g_autofree char *copy = g_memdup2(data, len);
		struct l2_entry entry;

		copy[i] ^= 0x01;
		if (l2_format_decode(KEY, copy, len, &entry, NULL))
			g_test_fail_printf("flipping byte %zu went unnoticed", i);
	}
}

static void test_every_truncation_refused(void)
{
	g_autoptr(GBytes) bytes = sample();
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);

	for (gsize cut = 0; cut < len; cut++) {
		struct l2_entry entry;

		if (l2_format_decode(KEY, data, cut, &entry, NULL))
			g_test_fail_printf("an entry cut to %zu of %zu bytes was taken", cut, len);
	}
	assert_refused(KEY, data, len - 1, "payload cut short");
}

static void test_foreign_refused(void)
{
	g_autoptr(GBytes) bytes = sample();
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);

	assert_refused("infrafs:1:fedcba9876543210:data:hosts", data, len, "another key");
	assert_refused("infrafs:1:0123456789abcdef:data:flavors", data, len, "another key");
}

static void test_other_version_and_garbage_refused(void)
{
	const char *v2 = "infrafs-l2 2\nkey " KEY "\n";
	const char *garbage = "\x00\x01not ours at all";

	assert_refused(KEY, v2, strlen(v2), "another format version");
	assert_refused(KEY, garbage, 17, "not an infrafs entry");
	assert_refused(KEY, "", 0, "not an infrafs entry");
}

static void test_appended_bytes_refused(void)
{
	g_autoptr(GBytes) bytes = sample();
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);
	g_autofree char *longer = g_strdup_printf("%.*sX", (int)len, data);

	assert_refused(KEY, longer, len + 1, "payload too long");
}

/* A NUL inside a header line must not end its text early: the fuzzer's
 * find (tests/fuzz/crashes/l2/nul-in-checksum-line). */
static void test_nul_in_header_refused(void)
{
	g_autoptr(GBytes) bytes = sample();
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);
	const char *checksum_end = strstr(data, "\n\n");
	g_autoptr(GString) damaged = g_string_new_len(data, checksum_end - data);

	g_string_append_len(damaged, "\0\0", 2);
	g_string_append_len(damaged, checksum_end, (gssize)(data + len - checksum_end));
	assert_refused(KEY, damaged->str, damaged->len, "malformed header");
}

static void test_keys_and_channel(void)
{
	g_autofree char *data = l2_format_key("0123456789abcdef", "data", "servers", "gpu-1");
	g_autofree char *whole = l2_format_key("0123456789abcdef", "epoch", "hosts", NULL);
	g_autofree char *channel = l2_format_channel("0123456789abcdef");
	g_autofree char *netbox_a = l2_format_class_tag(CLASS_NETBOX, "https://a.example");
	g_autofree char *netbox_b = l2_format_class_tag(CLASS_NETBOX, "https://b.example");
	g_autofree char *hosts = l2_format_class_tag(CLASS_HOSTS, "https://a.example");

	g_assert_cmpstr(data, ==, "infrafs:1:0123456789abcdef:data:servers:gpu-1");
	g_assert_cmpstr(whole, ==, "infrafs:1:0123456789abcdef:epoch:hosts");
	g_assert_cmpstr(channel, ==, "infrafs:1:0123456789abcdef:invalidate");
	g_assert_true(g_str_has_prefix(netbox_a, "netbox@"));
	g_assert_cmpstr(netbox_a, !=, netbox_b);
	g_assert_cmpstr(hosts, ==, "hosts");
}

static void test_scope(void)
{
	struct os_credentials base = {
		.auth_url = (char *)"https://keystone.example/v3",
		.username = (char *)"admin",
		.password = (char *)"hunter2",
		.project_name = (char *)"admin",
		.region_name = (char *)"RegionOne",
	};
	struct os_credentials other_password = base, other_project = base, other_region = base,
			      other_cloud = base, other_user = base;

	other_password.password = (char *)"changed";
	other_project.project_name = (char *)"ops";
	other_region.region_name = (char *)"RegionTwo";
	other_cloud.auth_url = (char *)"https://keystone.other/v3";
	other_user.username = (char *)"reader";
	g_autofree char *scope = l2_format_scope(&base);
	g_autofree char *same = l2_format_scope(&other_password);
	g_autofree char *project = l2_format_scope(&other_project);
	g_autofree char *region = l2_format_scope(&other_region);
	g_autofree char *cloud = l2_format_scope(&other_cloud);
	g_autofree char *user = l2_format_scope(&other_user);

	g_assert_cmpuint(strlen(scope), ==, L2_FORMAT_SCOPE_CHARS);
	/* A password change is the same user's view: the scope holds no secret. */
	g_assert_cmpstr(scope, ==, same);
	g_assert_cmpstr(scope, !=, project);
	g_assert_cmpstr(scope, !=, region);
	g_assert_cmpstr(scope, !=, cloud);
	g_assert_cmpstr(scope, !=, user);
}

static void test_messages(void)
{
	g_autofree char *message = l2_format_message("abcd", "hosts\nflavors\n", 14);
	g_autofree char *origin = NULL;
	const char *patterns = NULL;
	gsize len = 0;

	g_assert_true(l2_format_parse_message(message, strlen(message), &origin, &patterns, &len));
	g_assert_cmpstr(origin, ==, "abcd");
	g_assert_cmpmem(patterns, len, "hosts\nflavors\n", 14);
	g_assert_false(l2_format_parse_message("hello", 5, &origin, &patterns, &len));
	g_assert_false(l2_format_parse_message("infrafs-invalidate 9 x\nhosts", 28, &origin,
					       &patterns, &len));
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	g_test_add_func("/l2_format/round-trip", test_round_trip);
	g_test_add_func("/l2_format/every-flipped-byte-refused", test_every_flipped_byte_refused);
	g_test_add_func("/l2_format/every-truncation-refused", test_every_truncation_refused);
	g_test_add_func("/l2_format/foreign-refused", test_foreign_refused);
	g_test_add_func("/l2_format/other-version-and-garbage-refused",
			test_other_version_and_garbage_refused);
	g_test_add_func("/l2_format/appended-bytes-refused", test_appended_bytes_refused);
	g_test_add_func("/l2_format/nul-in-header-refused", test_nul_in_header_refused);
	g_test_add_func("/l2_format/keys-and-channel", test_keys_and_channel);
	g_test_add_func("/l2_format/scope", test_scope);
	g_test_add_func("/l2_format/messages", test_messages);
	return g_test_run();
}
