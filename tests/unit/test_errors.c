/* Unit tests for errors: GError -> errno, and the ring shown in /.infrafs/errors. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "infrafs/clock.h"
#include "infrafs/errors.h"

typedef struct error_log error_log;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(error_log, error_log_free)

/* 2023-11-14T22:13:20Z */
#define START_WALL_US ((gint64)1700000000 * G_USEC_PER_SEC)

static gint64 mono_us;
static gint64 wall_us;

#define assert_bytes_text(bytes, text)                                                  \
	g_assert_cmpmem(g_bytes_get_data((bytes), NULL), g_bytes_get_size(bytes), (text), \
			strlen(text))

static int errno_of(GQuark domain, int code)
{
	g_autoptr(GError) error = g_error_new_literal(domain, code, "test");

	return errors_to_errno(error);
}

static void test_errno_table(void)
{
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_NOT_FOUND), ==, ENOENT);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_INVALID), ==, EINVAL);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_TIMEOUT), ==, EIO);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_BACKEND), ==, EIO);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE), ==, EIO);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE), ==, EIO);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_AUTH), ==, EACCES);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_FORBIDDEN), ==, EACCES);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_CONFIG), ==, EINVAL);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_IS_DIR), ==, EISDIR);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_NOT_DIR), ==, ENOTDIR);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, INFRAFS_ERROR_READ_ONLY), ==, EACCES);
}

static void test_errno_foreign_or_unknown(void)
{
	GQuark other = g_quark_from_static_string("other-domain");

	/* Another domain's code must not be read as ours (0 is our NOT_FOUND). */
	g_assert_cmpint(errno_of(G_FILE_ERROR, G_FILE_ERROR_EXIST), ==, EIO);
	g_assert_cmpint(errno_of(other, INFRAFS_ERROR_NOT_FOUND), ==, EIO);
	g_assert_cmpint(errno_of(other, INFRAFS_ERROR_INVALID), ==, EIO);
	g_assert_cmpint(errno_of(INFRAFS_ERROR, 999), ==, EIO);
	g_assert_cmpint(errors_to_errno(NULL), ==, EIO);
}

static void test_code_names(void)
{
	g_assert_cmpstr(errors_code_name(INFRAFS_ERROR_NOT_FOUND), ==, "not_found");
	g_assert_cmpstr(errors_code_name(INFRAFS_ERROR_TIMEOUT), ==, "timeout");
	g_assert_cmpstr(errors_code_name(INFRAFS_ERROR_BAD_RESPONSE), ==, "bad_response");
	g_assert_cmpstr(errors_code_name(INFRAFS_ERROR_READ_ONLY), ==, "read_only");
	g_assert_cmpstr(errors_code_name(999), ==, "unknown");
	g_assert_cmpstr(errors_code_name(-1), ==, "unknown");
}

static void with_manual_clock(void)
{
	mono_us = 0;
	wall_us = START_WALL_US;
	clock_use_manual(&mono_us, &wall_us);
}

static void add_error(struct error_log *log, const char *what, int code, const char *message)
{
	g_autoptr(GError) error = g_error_new_literal(INFRAFS_ERROR, code, message);

	error_log_add(log, what, error);
}

static void test_log_empty(void)
{
	g_autoptr(error_log) log = error_log_new(4);
	g_autoptr(GBytes) rendered = error_log_render(log);

	g_assert_cmpuint(g_bytes_get_size(rendered), ==, 0);
	g_assert_cmpuint(error_log_count(log), ==, 0);
}

static void test_log_line_format(void)
{
	g_autoptr(error_log) log = error_log_new(4);

	with_manual_clock();
	add_error(log, "hosts", INFRAFS_ERROR_UNAVAILABLE, "GET /os-hypervisors: 503");
	wall_us += 61 * G_USEC_PER_SEC;
	add_error(log, "quotas/p1", INFRAFS_ERROR_NOT_FOUND, "no such project");
	g_autoptr(GBytes) rendered = error_log_render(log);

	clock_use_manual(NULL, NULL);
	assert_bytes_text(rendered, "2023-11-14T22:13:20Z hosts unavailable GET /os-hypervisors: 503\n"
				    "2023-11-14T22:14:21Z quotas/p1 not_found no such project\n");
	g_assert_cmpuint(error_log_count(log), ==, 2);
}

static void test_log_keeps_last_n_in_order(void)
{
	g_autoptr(error_log) log = error_log_new(3);

	with_manual_clock();
	for (int i = 1; i <= 5; i++) {
		g_autofree char *message = g_strdup_printf("failure %d", i);

		add_error(log, "hosts", INFRAFS_ERROR_TIMEOUT, message);
		wall_us += G_USEC_PER_SEC;
	}
	g_autoptr(GBytes) rendered = error_log_render(log);

	clock_use_manual(NULL, NULL);
	assert_bytes_text(rendered, "2023-11-14T22:13:22Z hosts timeout failure 3\n"
				    "2023-11-14T22:13:23Z hosts timeout failure 4\n"
				    "2023-11-14T22:13:24Z hosts timeout failure 5\n");
	/* The count is of every error ever recorded, not of those kept. */
	g_assert_cmpuint(error_log_count(log), ==, 5);
}

static void test_log_capacity_zero_keeps_one(void)
{
	g_autoptr(error_log) log = error_log_new(0);

	with_manual_clock();
	add_error(log, "a", INFRAFS_ERROR_BACKEND, "first");
	add_error(log, "b", INFRAFS_ERROR_BACKEND, "second");
	g_autoptr(GBytes) rendered = error_log_render(log);

	clock_use_manual(NULL, NULL);
	assert_bytes_text(rendered, "2023-11-14T22:13:20Z b backend second\n");
}

static void test_log_message_newlines_folded(void)
{
	g_autoptr(error_log) log = error_log_new(4);

	with_manual_clock();
	add_error(log, "hosts", INFRAFS_ERROR_BACKEND, "HTTP 500:\r\n<html>\n\tboom</html>\n");
	g_autoptr(GBytes) rendered = error_log_render(log);

	clock_use_manual(NULL, NULL);
	assert_bytes_text(rendered,
			  "2023-11-14T22:13:20Z hosts backend HTTP 500:  <html>  boom</html> \n");
}

/* `what` can carry a backend name (servers/<hypervisor_hostname>): one
 * record must still be one line. */
static void test_log_what_newlines_folded(void)
{
	g_autoptr(error_log) log = error_log_new(4);

	with_manual_clock();
	add_error(log, "servers/evil\nhost", INFRAFS_ERROR_TIMEOUT, "slow");
	g_autoptr(GBytes) rendered = error_log_render(log);
	gsize size = 0;
	const char *text = g_bytes_get_data(rendered, &size);
	guint newlines = 0;

	clock_use_manual(NULL, NULL);
	for (gsize i = 0; i < size; i++)
		newlines += text[i] == '\n';
	g_assert_cmpuint(newlines, ==, 1);
	g_assert_cmpint(text[size - 1], ==, '\n');
}

static void test_log_foreign_domain_is_backend(void)
{
	g_autoptr(error_log) log = error_log_new(2);
	g_autoptr(GError) error = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_EXIST, "refused");

	with_manual_clock();
	error_log_add(log, "flavors", error);
	g_autoptr(GBytes) rendered = error_log_render(log);

	clock_use_manual(NULL, NULL);
	assert_bytes_text(rendered, "2023-11-14T22:13:20Z flavors backend refused\n");
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/errors/errno/table", test_errno_table);
	g_test_add_func("/errors/errno/foreign-or-unknown", test_errno_foreign_or_unknown);
	g_test_add_func("/errors/code-names", test_code_names);
	g_test_add_func("/errors/log/empty", test_log_empty);
	g_test_add_func("/errors/log/line-format", test_log_line_format);
	g_test_add_func("/errors/log/keeps-last-n-in-order", test_log_keeps_last_n_in_order);
	g_test_add_func("/errors/log/capacity-zero-keeps-one", test_log_capacity_zero_keeps_one);
	g_test_add_func("/errors/log/message-newlines-folded", test_log_message_newlines_folded);
	g_test_add_func("/errors/log/what-newlines-folded", test_log_what_newlines_folded);
	g_test_add_func("/errors/log/foreign-domain-is-backend", test_log_foreign_domain_is_backend);

	return g_test_run();
}
