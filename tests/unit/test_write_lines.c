/* Unit tests for write_lines: lines written to control files, put back
 * together per (path, writer, offset) before they are applied. */
#include <string.h>

#include <glib.h>

#include "infrafs/write_lines.h"

typedef struct write_lines write_lines;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(write_lines, write_lines_free)

#define PATH ".infrafs/invalidate"
#define OTHER_PATH ".infrafs/refresh"

/* A grammar of one command, "hosts": its proper prefixes may still become
 * it, anything else never can. Enough to drive every branch of the module
 * without the real grammar (control_pattern_fragment has its own tests). */
static enum control_fragment classify_hosts(const char *path, const char *data, gsize len,
					    gpointer user_data)
{
	static const char command[] = "hosts";

	if (len == strlen(command) && memcmp(data, command, len) == 0)
		return CONTROL_FRAGMENT_COMPLETE;
	if (len < strlen(command) && memcmp(data, command, len) == 0)
		return CONTROL_FRAGMENT_PARTIAL;
	return CONTROL_FRAGMENT_INVALID;
}

/* A grammar that would wait for ever: only the module's own length limit
 * can stop a line from growing. */
static enum control_fragment classify_always_partial(const char *path, const char *data,
						     gsize len, gpointer user_data)
{
	return CONTROL_FRAGMENT_PARTIAL;
}

static struct write_lines *new_lines(void)
{
	return write_lines_new(classify_hosts, NULL);
}

/* Feed `data` as written by `writer` at `offset` to `path`, and check that
 * exactly `expected` is to be applied now. */
static void assert_feed(struct write_lines *lines, const char *path, guint64 writer,
			guint64 offset, const char *data, const char *expected)
{
	g_autoptr(GString) apply =
		write_lines_feed(lines, path, writer, offset, data, strlen(data));

	g_assert_nonnull(apply);
	if (apply == NULL)
		return;
	g_assert_cmpmem(apply->str, apply->len, expected, strlen(expected));
}

/* ---- complete lines ---------------------------------------------------- */

static void test_complete_lines_returned_whole(void)
{
	g_autoptr(write_lines) lines = new_lines();

	assert_feed(lines, PATH, 1, 0, "hosts\n", "hosts\n");
	/* Several lines at once go together, invalid ones included: judging
	 * them is the caller's validation, which rejects the write whole. */
	assert_feed(lines, PATH, 1, 6, "hosts\ngarbage\nhosts\n", "hosts\ngarbage\nhosts\n");
	/* Nothing is left waiting after a newline. */
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

static void test_empty_write_returns_nothing(void)
{
	g_autoptr(write_lines) lines = new_lines();

	assert_feed(lines, PATH, 1, 0, "", "");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

/* ---- unfinished lines -------------------------------------------------- */

static void test_partial_tail_withheld_and_kept(void)
{
	g_autoptr(write_lines) lines = new_lines();

	/* "hos" may still become "hosts": applying it now would reject a
	 * command whose writer has simply not finished it. */
	assert_feed(lines, PATH, 1, 0, "hosts\nhos", "hosts\n");
	g_assert_cmpuint(write_lines_pending(lines), ==, 1);
}

static void test_partial_tail_joined_by_continuation(void)
{
	g_autoptr(write_lines) lines = new_lines();

	assert_feed(lines, PATH, 1, 0, "ho", "");
	/* Still unfinished after a second piece: kept, now longer. */
	assert_feed(lines, PATH, 1, 2, "s", "");
	g_assert_cmpuint(write_lines_pending(lines), ==, 1);
	/* The write that ends it returns the line whole, with what follows. */
	assert_feed(lines, PATH, 1, 3, "ts\nhosts\n", "hosts\nhosts\n");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

static void test_continuation_wrong_offset_does_not_join(void)
{
	g_autoptr(write_lines) lines = new_lines();

	assert_feed(lines, PATH, 1, 0, "hos", "");
	/* Not where "hos" ended (3): a new write, e.g. after a seek or by a
	 * new open of the file; it stands alone and the old line is gone. */
	assert_feed(lines, PATH, 1, 5, "ts\n", "ts\n");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
	/* The old end offset no longer joins anything either. */
	assert_feed(lines, PATH, 1, 3, "ts\n", "ts\n");
}

static void test_continuation_other_writer_does_not_join(void)
{
	g_autoptr(write_lines) lines = new_lines();

	assert_feed(lines, PATH, 1, 0, "hos", "");
	/* Another thread writing at the same offset is not the rest of the
	 * first one's line. */
	assert_feed(lines, PATH, 2, 3, "ts\n", "ts\n");
	/* ...and leaves the first writer's line alone. */
	g_assert_cmpuint(write_lines_pending(lines), ==, 1);
	assert_feed(lines, PATH, 1, 3, "ts\n", "hosts\n");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

static void test_complete_tail_returned_and_kept(void)
{
	g_autoptr(write_lines) lines = new_lines();

	/* `printf hosts` writes no newline and may never write again: a
	 * whole command is applied at once... */
	assert_feed(lines, PATH, 1, 0, "hosts", "hosts");
	/* ...but may still go on, so it is kept too. */
	g_assert_cmpuint(write_lines_pending(lines), ==, 1);
	/* Its rest brings the whole line back, applied again (commands are
	 * idempotent), so that the longer command is not lost. */
	assert_feed(lines, PATH, 1, 5, "/a\n", "hosts/a\n");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

static void test_invalid_tail_returned_whole(void)
{
	g_autoptr(write_lines) lines = new_lines();

	/* No continuation can save "garbage": the write goes whole to the
	 * caller, whose validation rejects it and names the bad line. */
	assert_feed(lines, PATH, 1, 0, "hosts\ngarbage", "hosts\ngarbage");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

static void test_invalid_after_continuation_returned_whole(void)
{
	g_autoptr(write_lines) lines = new_lines();

	/* A kept line whose rest spoils it comes back whole and is dropped. */
	assert_feed(lines, PATH, 1, 0, "hos", "");
	assert_feed(lines, PATH, 1, 3, "x", "hosx");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

static void test_tail_too_long_is_invalid(void)
{
	g_autoptr(write_lines) lines = write_lines_new(classify_always_partial, NULL);
	g_autofree char *longest = g_strnfill(CONTROL_MAX_LINE_BYTES, 'a');
	g_autofree char *over = g_strnfill(CONTROL_MAX_LINE_BYTES + 1, 'a');

	/* The longest line the grammar accepts may still wait for its rest. */
	assert_feed(lines, PATH, 1, 0, longest, "");
	g_assert_cmpuint(write_lines_pending(lines), ==, 1);
	/* One byte more, joined from two writes, can never be accepted: it is
	 * returned whole for rejection rather than held without bound. */
	assert_feed(lines, PATH, 1, CONTROL_MAX_LINE_BYTES, "a", over);
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
	/* The same in one write. */
	assert_feed(lines, PATH, 2, 0, over, over);
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

/* ---- forget ------------------------------------------------------------ */

static void test_forget_drops_kept_line(void)
{
	g_autoptr(write_lines) lines = new_lines();

	assert_feed(lines, PATH, 1, 0, "hos", "");
	assert_feed(lines, PATH, 2, 0, "ho", "");
	/* After a rejected write nothing of it may linger to join the next. */
	write_lines_forget(lines, PATH, 1);
	g_assert_cmpuint(write_lines_pending(lines), ==, 1);
	assert_feed(lines, PATH, 1, 3, "ts\n", "ts\n");
	/* Only that writer's line went. */
	assert_feed(lines, PATH, 2, 2, "sts\n", "hosts\n");
	/* Forgetting what is not there is harmless. */
	write_lines_forget(lines, PATH, 1);
	write_lines_forget(lines, OTHER_PATH, 3);
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

/* ---- limits and keys --------------------------------------------------- */

static void test_pending_bounded_oldest_dropped(void)
{
	g_autoptr(write_lines) lines = new_lines();

	/* Writers that never finish must not grow the table without bound. */
	for (guint64 writer = 0; writer <= WRITE_LINES_MAX_PENDING; writer++)
		assert_feed(lines, PATH, writer, 0, "hos", "");
	g_assert_cmpuint(write_lines_pending(lines), ==, WRITE_LINES_MAX_PENDING);
	/* The first writer's line made room: its rest stands alone. */
	assert_feed(lines, PATH, 0, 3, "ts\n", "ts\n");
	/* The others, the next oldest and the newest, are still there. */
	assert_feed(lines, PATH, 1, 3, "ts\n", "hosts\n");
	assert_feed(lines, PATH, WRITE_LINES_MAX_PENDING, 3, "ts\n", "hosts\n");
	g_assert_cmpuint(write_lines_pending(lines), ==, WRITE_LINES_MAX_PENDING - 2);
}

static void test_pending_oldest_by_last_write(void)
{
	g_autoptr(write_lines) lines = new_lines();

	for (guint64 writer = 0; writer < WRITE_LINES_MAX_PENDING; writer++)
		assert_feed(lines, PATH, writer, 0, "h", "");
	/* Writer 0 started first but is still writing: not the one to go. */
	assert_feed(lines, PATH, 0, 1, "o", "");
	assert_feed(lines, PATH, WRITE_LINES_MAX_PENDING, 0, "h", "");
	g_assert_cmpuint(write_lines_pending(lines), ==, WRITE_LINES_MAX_PENDING);
	assert_feed(lines, PATH, 1, 1, "osts\n", "osts\n");
	assert_feed(lines, PATH, 0, 2, "sts\n", "hosts\n");
}

static void test_paths_separate(void)
{
	g_autoptr(write_lines) lines = new_lines();

	assert_feed(lines, PATH, 1, 0, "hos", "");
	/* The same writer at the same offset in another control file is a
	 * write of its own. */
	assert_feed(lines, OTHER_PATH, 1, 3, "ts\n", "ts\n");
	assert_feed(lines, OTHER_PATH, 1, 0, "ho", "");
	g_assert_cmpuint(write_lines_pending(lines), ==, 2);
	assert_feed(lines, PATH, 1, 3, "ts\n", "hosts\n");
	assert_feed(lines, OTHER_PATH, 1, 2, "sts\n", "hosts\n");
	g_assert_cmpuint(write_lines_pending(lines), ==, 0);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/write-lines/complete/returned-whole", test_complete_lines_returned_whole);
	g_test_add_func("/write-lines/complete/empty-write", test_empty_write_returns_nothing);
	g_test_add_func("/write-lines/partial/withheld-and-kept",
			test_partial_tail_withheld_and_kept);
	g_test_add_func("/write-lines/partial/joined-by-continuation",
			test_partial_tail_joined_by_continuation);
	g_test_add_func("/write-lines/partial/wrong-offset-does-not-join",
			test_continuation_wrong_offset_does_not_join);
	g_test_add_func("/write-lines/partial/other-writer-does-not-join",
			test_continuation_other_writer_does_not_join);
	g_test_add_func("/write-lines/complete-tail/returned-and-kept",
			test_complete_tail_returned_and_kept);
	g_test_add_func("/write-lines/invalid/returned-whole", test_invalid_tail_returned_whole);
	g_test_add_func("/write-lines/invalid/after-continuation",
			test_invalid_after_continuation_returned_whole);
	g_test_add_func("/write-lines/invalid/too-long", test_tail_too_long_is_invalid);
	g_test_add_func("/write-lines/forget/drops-kept-line", test_forget_drops_kept_line);
	g_test_add_func("/write-lines/pending/bounded-oldest-dropped",
			test_pending_bounded_oldest_dropped);
	g_test_add_func("/write-lines/pending/oldest-by-last-write",
			test_pending_oldest_by_last_write);
	g_test_add_func("/write-lines/paths/separate", test_paths_separate);

	return g_test_run();
}
