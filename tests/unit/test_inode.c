/* Unit tests for inode: inode numbers <-> path versions, lookup counts. */
#include <string.h>

#include <glib.h>

#include "infrafs/inode.h"

typedef struct inode_table inode_table;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(inode_table, inode_table_free)

/* A file of `size` bytes at content version `version`. */
static guint64 ref_version(struct inode_table *table, const char *path, guint64 version,
			   gsize size)
{
	struct tree_attr attr = { .kind = TREE_FILE, .mode = 0444, .size = size,
				  .version = version };

	return inode_table_ref(table, path, &attr, NULL);
}

static guint64 ref(struct inode_table *table, const char *path)
{
	return ref_version(table, path, 1, 0);
}

/* The inode's path (a copy), or NULL when unknown. */
static char *path_of(struct inode_table *table, guint64 ino)
{
	char *path = NULL;

	inode_table_get(table, ino, &path, NULL);
	return path;
}

static void test_root(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	g_autofree char *path = path_of(table, INODE_ROOT);

	g_assert_cmpstr(path, ==, "");
	g_assert_cmpuint(inode_table_find(table, ""), ==, INODE_ROOT);
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_root_never_forgotten(void)
{
	g_autoptr(inode_table) table = inode_table_new();

	inode_table_forget(table, INODE_ROOT, 1000);
	g_autofree char *path = path_of(table, INODE_ROOT);

	g_assert_cmpstr(path, ==, "");
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_ref_assigns_numbers(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 hosts = ref(table, "hosts");
	guint64 flavors = ref(table, "flavors");

	g_assert_cmpuint(hosts, !=, INODE_ROOT);
	g_assert_cmpuint(hosts, !=, 0);
	g_assert_cmpuint(flavors, !=, hosts);
	/* The same path keeps its number. */
	g_assert_cmpuint(ref(table, "hosts"), ==, hosts);
	g_assert_cmpuint(inode_table_find(table, "hosts"), ==, hosts);

	g_autofree char *path = path_of(table, flavors);

	g_assert_cmpstr(path, ==, "flavors");
	g_assert_cmpuint(inode_table_size(table), ==, 3);
}

static void test_find_unknown(void)
{
	g_autoptr(inode_table) table = inode_table_new();

	g_assert_cmpuint(inode_table_find(table, "hosts/nope"), ==, 0);
	g_assert_null(path_of(table, 12345));
	/* Looking does not create. */
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_forget_frees_at_zero(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = ref(table, "hosts/a/state");

	g_assert_cmpuint(ref(table, "hosts/a/state"), ==, ino);
	inode_table_forget(table, ino, 1);

	g_autofree char *still = path_of(table, ino);

	g_assert_cmpstr(still, ==, "hosts/a/state");
	inode_table_forget(table, ino, 1);
	g_assert_null(path_of(table, ino));
	g_assert_cmpuint(inode_table_find(table, "hosts/a/state"), ==, 0);
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_forget_counts_in_bulk(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = 0;

	for (int i = 0; i < 5; i++)
		ino = ref(table, "x");
	inode_table_forget(table, ino, 4);
	g_assert_cmpuint(inode_table_find(table, "x"), ==, ino);
	inode_table_forget(table, ino, 1);
	g_assert_cmpuint(inode_table_find(table, "x"), ==, 0);
}

static void test_find_takes_no_reference(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = ref(table, "a");

	g_assert_cmpuint(inode_table_find(table, "a"), ==, ino);
	g_assert_cmpuint(inode_table_find(table, "a"), ==, ino);
	inode_table_forget(table, ino, 1);
	g_assert_cmpuint(inode_table_find(table, "a"), ==, 0);
}

static void test_forget_more_than_held(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = ref(table, "a");

	inode_table_forget(table, ino, 100);
	g_assert_null(path_of(table, ino));
	/* Unknown inodes are ignored. */
	inode_table_forget(table, ino, 1);
	inode_table_forget(table, 999, 1);
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_numbers_never_reused(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 first = ref(table, "a");

	inode_table_forget(table, first, 1);
	guint64 second = ref(table, "a");
	guint64 other = ref(table, "b");

	g_assert_cmpuint(second, !=, first);
	g_assert_cmpuint(other, !=, first);
	g_assert_cmpuint(other, !=, second);
	g_assert_null(path_of(table, first));
}

static void test_version_same_keeps_inode(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 ino = ref_version(table, "hosts/a/state", 42, 3);

	/* Refetched with the same content: the same inode, pages stay good. */
	g_assert_cmpuint(ref_version(table, "hosts/a/state", 42, 3), ==, ino);
	g_assert_cmpuint(inode_table_size(table), ==, 2);
}

static void test_version_change_makes_new_inode(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 old = ref_version(table, "hosts/a/state", 42, 3);
	guint64 new = ref_version(table, "hosts/a/state", 43, 5);
	struct tree_attr attr;

	g_assert_cmpuint(new, !=, old);
	g_assert_cmpuint(inode_table_find(table, "hosts/a/state"), ==, new);
	/* The old version keeps its own attributes for files still open. */
	g_assert_true(inode_table_get(table, old, NULL, &attr));
	g_assert_cmpuint(attr.size, ==, 3);
	g_assert_cmpuint(attr.version, ==, 42);
	g_assert_true(inode_table_get(table, new, NULL, &attr));
	g_assert_cmpuint(attr.size, ==, 5);
}

static void test_version_forget_old_keeps_current(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 old = ref_version(table, "a", 1, 1);
	guint64 new = ref_version(table, "a", 2, 2);

	inode_table_forget(table, old, 1);
	g_assert_null(path_of(table, old));
	g_assert_cmpuint(inode_table_find(table, "a"), ==, new);
	g_autofree char *path = path_of(table, new);

	g_assert_cmpstr(path, ==, "a");
	inode_table_forget(table, new, 1);
	g_assert_cmpuint(inode_table_find(table, "a"), ==, 0);
	g_assert_cmpuint(inode_table_size(table), ==, 1);
}

static void test_version_forget_current_keeps_old(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	guint64 old = ref_version(table, "a", 1, 1);
	guint64 new = ref_version(table, "a", 2, 2);

	/* The current version goes first; the old one still answers. */
	inode_table_forget(table, new, 1);
	g_assert_cmpuint(inode_table_find(table, "a"), ==, 0);
	g_autofree char *path = path_of(table, old);

	g_assert_cmpstr(path, ==, "a");
	/* A later lookup at the old version is a new inode: old ones are not revived. */
	g_assert_cmpuint(ref_version(table, "a", 1, 1), !=, old);
}

/* ---- content ----------------------------------------------------------- */

#define assert_bytes_text(bytes, text)                                                  \
	g_assert_cmpmem(g_bytes_get_data((bytes), NULL), g_bytes_get_size(bytes), (text), \
			strlen(text))

/* A file at `version` whose bytes are `content`. */
static guint64 ref_content(struct inode_table *table, const char *path, guint64 version,
			   GBytes *content)
{
	struct tree_attr attr = { .kind = TREE_FILE, .mode = 0444,
				  .size = g_bytes_get_size(content), .version = version };

	return inode_table_ref(table, path, &attr, content);
}

static void test_content_kept_at_ref(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	g_autoptr(GBytes) state = g_bytes_new_static("up\n", 3);
	guint64 ino = ref_content(table, "hosts/a/state", 1, state);
	g_autoptr(GBytes) kept = inode_table_content(table, ino);

	/* Reads are served from the inode: it has its version's bytes. */
	g_assert_nonnull(kept);
	if (kept == NULL)
		return;
	assert_bytes_text(kept, "up\n");
}

static void test_content_first_copy_wins(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	g_autoptr(GBytes) first = g_bytes_new_static("first", 5);
	g_autoptr(GBytes) second = g_bytes_new_static("other", 5);
	guint64 ino = ref_content(table, "a", 7, first);

	/* The same version again (a refetch): a file open on the inode must
	 * keep reading the bytes it started with. */
	g_assert_cmpuint(ref_content(table, "a", 7, second), ==, ino);
	g_autoptr(GBytes) kept = inode_table_content(table, ino);

	g_assert_nonnull(kept);
	if (kept == NULL)
		return;
	assert_bytes_text(kept, "first");
}

static void test_content_per_version(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	g_autoptr(GBytes) old_bytes = g_bytes_new_static("old", 3);
	g_autoptr(GBytes) new_bytes = g_bytes_new_static("newer", 5);
	guint64 old = ref_content(table, "a", 1, old_bytes);
	guint64 new = ref_content(table, "a", 2, new_bytes);
	g_autoptr(GBytes) old_kept = inode_table_content(table, old);
	g_autoptr(GBytes) new_kept = inode_table_content(table, new);

	g_assert_cmpuint(new, !=, old);
	/* A file opened before the change still reads one consistent snapshot. */
	g_assert_nonnull(old_kept);
	g_assert_nonnull(new_kept);
	if (old_kept == NULL || new_kept == NULL)
		return;
	assert_bytes_text(old_kept, "old");
	assert_bytes_text(new_kept, "newer");
}

static void test_content_directory_none(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	struct tree_attr attr = { .kind = TREE_DIR, .mode = 0555, .version = 1 };
	guint64 ino = inode_table_ref(table, "hosts", &attr, NULL);

	g_assert_null(inode_table_content(table, ino));
	g_assert_null(inode_table_content(table, INODE_ROOT));
	/* Nor for an inode never handed out. */
	g_assert_null(inode_table_content(table, 12345));
}

static void set_flag(gpointer data)
{
	*(gboolean *)data = TRUE;
}

static void test_content_released_on_forget(void)
{
	g_autoptr(inode_table) table = inode_table_new();
	gboolean freed = FALSE;
	GBytes *content = g_bytes_new_with_free_func("big", 3, set_flag, &freed);
	guint64 ino = ref_content(table, "a", 1, content);

	/* The table took its own reference: the caller's can go. */
	g_bytes_unref(content);
	g_assert_false(freed);
	GBytes *kept = inode_table_content(table, ino);

	g_assert_nonnull(kept);
	/* A reader's reference outlives the inode... */
	inode_table_forget(table, ino, 1);
	g_assert_false(freed);
	g_clear_pointer(&kept, g_bytes_unref);
	/* ...and then nothing holds the bytes of a forgotten version. */
	g_assert_true(freed);
}

static void test_content_released_with_table(void)
{
	gboolean freed = FALSE;
	GBytes *content = g_bytes_new_with_free_func("big", 3, set_flag, &freed);
	struct inode_table *table = inode_table_new();

	ref_content(table, "a", 1, content);
	g_bytes_unref(content);
	inode_table_free(table);
	g_assert_true(freed);
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

	ref(table, "hosts");
	ref(table, "hosts/a/state");
	ref(table, "flavors");
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
	g_test_add_func("/inode/version/same-keeps-inode", test_version_same_keeps_inode);
	g_test_add_func("/inode/version/change-makes-new-inode",
			test_version_change_makes_new_inode);
	g_test_add_func("/inode/version/forget-old-keeps-current",
			test_version_forget_old_keeps_current);
	g_test_add_func("/inode/version/forget-current-keeps-old",
			test_version_forget_current_keeps_old);
	g_test_add_func("/inode/content/kept-at-ref", test_content_kept_at_ref);
	g_test_add_func("/inode/content/first-copy-wins", test_content_first_copy_wins);
	g_test_add_func("/inode/content/per-version", test_content_per_version);
	g_test_add_func("/inode/content/directory-none", test_content_directory_none);
	g_test_add_func("/inode/content/released-on-forget", test_content_released_on_forget);
	g_test_add_func("/inode/content/released-with-table", test_content_released_with_table);
	g_test_add_func("/inode/foreach/matching", test_foreach_matching);

	return g_test_run();
}
