/* Unit tests for inode: inode numbers <-> tree paths, lookup counts, opens. */
#include <string.h>

#include <glib.h>

#include "infrafs/inode.h"

typedef struct inode_table inode_table;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(inode_table, inode_table_free)

static void test_root(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	g_autofree char *path = inode_table_path(table, INODE_ROOT);

	g_assert_cmpstr(path, ==, "");
	g_assert_cmpuint(inode_table_find(table, ""), ==, INODE_ROOT);
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_root_never_forgotten(void)
{
	g_autoptr(inode_table) table = inode_table_new();

	inode_table_forget(table, INODE_ROOT, 1000);
	g_autofree char *path = inode_table_path(table, INODE_ROOT);

	g_assert_cmpstr(path, ==, "");
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_ref_assigns_numbers(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 hosts = inode_table_ref(table, "hosts");
	guint64 flavors = inode_table_ref(table, "flavors");

	g_assert_cmpuint(hosts, !=, INODE_ROOT);
	g_assert_cmpuint(hosts, !=, 0);
	g_assert_cmpuint(flavors, !=, hosts);
	/* The same path keeps its number. */
	g_assert_cmpuint(inode_table_ref(table, "hosts"), ==, hosts);
	g_assert_cmpuint(inode_table_find(table, "hosts"), ==, hosts);

	g_autofree char *path = inode_table_path(table, flavors);

	g_assert_cmpstr(path, ==, "flavors");
	g_assert_cmpuint(inode_table_size(table), ==, 3);
}

static void test_find_unknown(void)
{
	g_autoptr(inode_table) table = inode_table_new();

	g_assert_cmpuint(inode_table_find(table, "hosts/nope"), ==, 0);
	g_assert_null(inode_table_path(table, 12345));
	/* Looking does not create. */
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_forget_frees_at_zero(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = inode_table_ref(table, "hosts/a/state");

	g_assert_cmpuint(inode_table_ref(table, "hosts/a/state"), ==, ino);
	inode_table_forget(table, ino, 1);

	g_autofree char *still = inode_table_path(table, ino);

	g_assert_cmpstr(still, ==, "hosts/a/state");
	inode_table_forget(table, ino, 1);
	g_assert_null(inode_table_path(table, ino));
	g_assert_cmpuint(inode_table_find(table, "hosts/a/state"), ==, 0);
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_forget_counts_in_bulk(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = 0;

	for (int i = 0; i < 5; i++)
		ino = inode_table_ref(table, "x");
	inode_table_forget(table, ino, 4);
	g_assert_cmpuint(inode_table_find(table, "x"), ==, ino);
	inode_table_forget(table, ino, 1);
	g_assert_cmpuint(inode_table_find(table, "x"), ==, 0);
}

static void test_find_takes_no_reference(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = inode_table_ref(table, "a");

	g_assert_cmpuint(inode_table_find(table, "a"), ==, ino);
	g_assert_cmpuint(inode_table_find(table, "a"), ==, ino);
	inode_table_forget(table, ino, 1);
	g_assert_cmpuint(inode_table_find(table, "a"), ==, 0);
}

static void test_forget_more_than_held(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = inode_table_ref(table, "a");

	inode_table_forget(table, ino, 100);
	g_assert_null(inode_table_path(table, ino));
	/* Unknown inodes are ignored. */
	inode_table_forget(table, ino, 1);
	inode_table_forget(table, 999, 1);
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_numbers_never_reused(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 first = inode_table_ref(table, "a");

	inode_table_forget(table, first, 1);
	guint64 second = inode_table_ref(table, "a");
	guint64 other = inode_table_ref(table, "b");

	g_assert_cmpuint(second, !=, first);
	g_assert_cmpuint(other, !=, first);
	g_assert_cmpuint(other, !=, second);
	g_assert_null(inode_table_path(table, first));
}

static void test_note_open_unchanged(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = inode_table_ref(table, "hosts/a/state");

	/* First open: nothing to compare with. */
	g_assert_false(inode_table_note_open(table, ino, 1000, 3));
	g_assert_true(inode_table_note_open(table, ino, 1000, 3));
	g_assert_true(inode_table_note_open(table, ino, 1000, 3));
	/* Refetched: a new mtime. */
	g_assert_false(inode_table_note_open(table, ino, 2000, 3));
	g_assert_true(inode_table_note_open(table, ino, 2000, 3));
	/* Same mtime, other size. */
	g_assert_false(inode_table_note_open(table, ino, 2000, 5));
	g_assert_true(inode_table_note_open(table, ino, 2000, 5));
}

static void test_note_open_first_is_never_unchanged(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = inode_table_ref(table, "empty");

	/* Even an empty file with a zero mtime has no earlier open to match. */
	g_assert_false(inode_table_note_open(table, ino, 0, 0));
	g_assert_true(inode_table_note_open(table, ino, 0, 0));
}

static void test_note_open_per_inode(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 a = inode_table_ref(table, "a");
	guint64 b = inode_table_ref(table, "b");

	g_assert_false(inode_table_note_open(table, a, 1000, 3));
	g_assert_false(inode_table_note_open(table, b, 1000, 3));
	g_assert_true(inode_table_note_open(table, a, 1000, 3));
}

static void test_note_open_unknown_or_forgotten(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = inode_table_ref(table, "a");

	g_assert_false(inode_table_note_open(table, 999, 1000, 3));
	g_assert_false(inode_table_note_open(table, ino, 1000, 3));
	inode_table_forget(table, ino, 1);
	guint64 again = inode_table_ref(table, "a");

	/* A new inode: what the old one saw does not carry over. */
	g_assert_false(inode_table_note_open(table, again, 1000, 3));
}

static gboolean under_hosts(const char *path, gpointer user_data)
{
	return g_str_has_prefix(path, "hosts");
}

static void collect(guint64 ino, const char *path, gpointer user_data)
{
	g_ptr_array_add(user_data, g_strdup(path));
}

static int compare_paths(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_foreach_matching(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);

	inode_table_ref(table, "hosts");
	inode_table_ref(table, "hosts/a/state");
	inode_table_ref(table, "flavors");
	inode_table_foreach_matching(table, under_hosts, collect, paths);
	g_ptr_array_sort(paths, compare_paths);

	g_assert_cmpuint(paths->len, ==, 2);
	g_assert_cmpstr(paths->pdata[0], ==, "hosts");
	g_assert_cmpstr(paths->pdata[1], ==, "hosts/a/state");
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/inode/root/present", test_root);
	g_test_add_func("/inode/root/never-forgotten", test_root_never_forgotten);
	g_test_add_func("/inode/ref/assigns-numbers", test_ref_assigns_numbers);
	g_test_add_func("/inode/find/unknown", test_find_unknown);
	g_test_add_func("/inode/find/takes-no-reference", test_find_takes_no_reference);
	g_test_add_func("/inode/forget/frees-at-zero", test_forget_frees_at_zero);
	g_test_add_func("/inode/forget/counts-in-bulk", test_forget_counts_in_bulk);
	g_test_add_func("/inode/forget/more-than-held", test_forget_more_than_held);
	g_test_add_func("/inode/numbers/never-reused", test_numbers_never_reused);
	g_test_add_func("/inode/open/unchanged", test_note_open_unchanged);
	g_test_add_func("/inode/open/first-is-never-unchanged",
			test_note_open_first_is_never_unchanged);
	g_test_add_func("/inode/open/per-inode", test_note_open_per_inode);
	g_test_add_func("/inode/open/unknown-or-forgotten", test_note_open_unknown_or_forgotten);
	g_test_add_func("/inode/foreach/matching", test_foreach_matching);

	return g_test_run();
}
