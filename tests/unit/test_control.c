/* Unit tests for control: the grammar of writes to /.infrafs/invalidate and
 * what a pattern covers (design.md, "Control files"). */
#include <string.h>

#include <glib.h>

#include "infrafs/control.h"
#include "infrafs/errors.h"

/* Whether `error` mentions `text`; FALSE without an error, so that a failed
 * non-fatal assertion before it does not turn into a crash. */
static gboolean mentions(const GError *error, const char *text)
{
	return error != NULL && strstr(error->message, text) != NULL;
}

/* The top of the mount, as tree.c passes it. */
static const char *const top_names[] = {
	"README", "aggregates.json", "hosts.json", "flavors.json", "projects.json",
	"aggregates", "hosts", "flavors", "quotas", ".infrafs", NULL,
};

static GPtrArray *parse_len(const char *data, gsize len, GError **error)
{
	return control_parse_patterns(data, len, top_names, error);
}

static GPtrArray *parse(const char *text, GError **error)
{
	return parse_len(text, strlen(text), error);
}

/* `text` parses into exactly the NULL-terminated `expected` patterns. */
static void assert_patterns(const char *text, const char *const *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) patterns = parse(text, &error);

	g_assert_no_error(error);
	g_assert_nonnull(patterns);
	if (patterns == NULL)
		return;
	g_assert_cmpuint(patterns->len, ==, g_strv_length((char **)expected));
	for (guint i = 0; i < patterns->len; i++)
		g_assert_cmpstr(patterns->pdata[i], ==, expected[i]);
}

static void assert_rejected_len(const char *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) patterns = parse_len(data, len, &error);

	g_assert_null(patterns);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID);
}

static void assert_rejected(const char *text)
{
	assert_rejected_len(text, strlen(text));
}

static char *line_of(gsize len, const char *prefix)
{
	GString *out = g_string_new(prefix);

	while (out->len < len)
		g_string_append_c(out, 'a');
	return g_string_free(out, FALSE);
}

/* ---- accepted writes --------------------------------------------------- */

static void test_parse_directory(void)
{
	assert_patterns("hosts\n", (const char *const[]){ "hosts", NULL });
	assert_patterns("aggregates", (const char *const[]){ "aggregates", NULL });
	assert_patterns("hosts.json\n", (const char *const[]){ "hosts.json", NULL });
}

static void test_parse_glob(void)
{
	assert_patterns("hosts/*h100*\n", (const char *const[]){ "hosts/*h100*", NULL });
	assert_patterns("*h100*\n", (const char *const[]){ "*h100*", NULL });
	assert_patterns("hosts/gpu-[0-9][0-9]\n", (const char *const[]){ "hosts/gpu-[0-9][0-9]", NULL });
	assert_patterns("hosts/a\\*b\n", (const char *const[]){ "hosts/a\\*b", NULL });
}

static void test_parse_star(void)
{
	assert_patterns("*\n", (const char *const[]){ "*", NULL });
}

static void test_parse_slashes_dropped(void)
{
	assert_patterns("/hosts/\n", (const char *const[]){ "hosts", NULL });
	assert_patterns("/hosts/gpu1/state\n", (const char *const[]){ "hosts/gpu1/state", NULL });
	assert_patterns("quotas/\n", (const char *const[]){ "quotas", NULL });
}

static void test_parse_multiple_lines(void)
{
	assert_patterns("hosts\naggregates/*\n*h100*\n",
			(const char *const[]){ "hosts", "aggregates/*", "*h100*", NULL });
}

static void test_parse_blank_lines_skipped(void)
{
	assert_patterns("\nhosts\n\n   \n\t\nflavors",
			(const char *const[]){ "hosts", "flavors", NULL });
}

static void test_parse_surrounding_space_trimmed(void)
{
	/* echo from a CRLF editor, or a stray space, still names hosts. */
	assert_patterns("  hosts  \r\n", (const char *const[]){ "hosts", NULL });
}

static void test_parse_longest_line(void)
{
	g_autofree char *line = line_of(CONTROL_MAX_LINE_BYTES, "hosts/");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) patterns = parse(line, &error);

	g_assert_no_error(error);
	g_assert_nonnull(patterns);
	if (patterns == NULL)
		return;
	g_assert_cmpuint(patterns->len, ==, 1);
	g_assert_cmpuint(strlen(patterns->pdata[0]), ==, CONTROL_MAX_LINE_BYTES);
}

/* ---- rejected writes --------------------------------------------------- */

/* control.h: blank lines are skipped, and a write of nothing but blank lines
 * is valid and selects nothing (a shell may write a blank line on its own). */
static void assert_no_patterns_len(const char *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) patterns = parse_len(data, len, &error);

	g_assert_no_error(error);
	g_assert_nonnull(patterns);
	if (patterns != NULL)
		g_assert_cmpuint(patterns->len, ==, 0);
}

static void test_parse_empty_write_selects_nothing(void)
{
	assert_no_patterns_len("", 0);
}

static void test_parse_only_blank_lines_select_nothing(void)
{
	assert_no_patterns_len("\n", 1);
	assert_no_patterns_len("\n   \n\t\n\r\n", strlen("\n   \n\t\n\r\n"));
}

static void test_reject_unbalanced_bracket(void)
{
	assert_rejected("bad[");
	assert_rejected("hosts/[a");
	assert_rejected("hosts/[!");
	assert_rejected("hosts/[]");
}

static void test_reject_trailing_backslash(void)
{
	assert_rejected("hosts\\");
	assert_rejected("hosts/x\\\n");
}

static void test_reject_dot_components(void)
{
	assert_rejected("..");
	assert_rejected(".");
	assert_rejected("hosts/../x");
	assert_rejected("./hosts");
	assert_rejected("hosts/.");
	assert_rejected("hosts/..");
	assert_rejected("hosts//x");
}

static void test_reject_control_chars(void)
{
	assert_rejected("hos\x01ts");
	assert_rejected("hosts/a\tb");
	assert_rejected("hosts/\x7f");
	assert_rejected("hosts/\x1b[31m");
	assert_rejected("hosts/a\rb");
}

static void test_reject_nul(void)
{
	const char data[] = "hosts\0flavors\n";

	assert_rejected_len(data, sizeof(data) - 1);
}

static void test_reject_long_line(void)
{
	g_autofree char *line = line_of(5000, "hosts/");
	g_autofree char *just_over = line_of(CONTROL_MAX_LINE_BYTES + 1, "hosts/");

	assert_rejected(line);
	assert_rejected(just_over);
}

static void test_reject_unknown_top(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) patterns = parse("host/*\n", &error);

	g_assert_null(patterns);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID);
	g_assert_true(mentions(error, "host/*"));
	assert_rejected("servers");
	assert_rejected("/etc/passwd");
}

static void test_reject_invalid_utf8(void)
{
	assert_rejected("hosts/\xff");
	assert_rejected("hosts/\xc3");
	assert_rejected("\xc0\xafhosts");
}

static void test_reject_empty_after_slashes(void)
{
	assert_rejected("/");
	assert_rejected("//\n");
}

static void test_one_bad_line_rejects_all(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) patterns = parse("hosts\nbad[\naggregates\n", &error);

	g_assert_null(patterns);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID);
	/* The error quotes the bad line, so the user knows which. */
	g_assert_true(mentions(error, "bad["));

	assert_rejected("hosts\nflavors\n..\n");
	assert_rejected("*\nhosts/\x01\n");
}

/* ---- control_pattern_covers -------------------------------------------- */

static void test_covers_directory_covers_below(void)
{
	g_assert_true(control_pattern_covers("hosts", "hosts/x/state"));
	g_assert_true(control_pattern_covers("hosts", "hosts"));
	g_assert_true(control_pattern_covers("quotas", "quotas/p1/compute.json"));
}

static void test_covers_glob_covers_below(void)
{
	g_assert_true(control_pattern_covers("hosts/*", "hosts/x/servers.json"));
	g_assert_true(control_pattern_covers("hosts/*h100*", "hosts/gpu-h100-01/state"));
	g_assert_false(control_pattern_covers("hosts/*h100*", "hosts/gpu-a100-01/state"));
}

static void test_covers_anchor_above_pattern(void)
{
	/* Invalidating one host's state affects the data the hosts anchor holds. */
	g_assert_true(control_pattern_covers("hosts/x/state", "hosts"));
	g_assert_true(control_pattern_covers("hosts/*/servers.json", "hosts"));
	g_assert_true(control_pattern_covers("quotas/p1/compute", "quotas"));
}

static void test_covers_other_top_not_covered(void)
{
	g_assert_false(control_pattern_covers("aggregates", "hosts"));
	g_assert_false(control_pattern_covers("hosts", "aggregates/gpu/hosts"));
	/* A name prefix is not a path prefix. */
	g_assert_false(control_pattern_covers("hosts", "hosts.json"));
	g_assert_false(control_pattern_covers("hosts/x", "hosts/xy/state"));
	g_assert_false(control_pattern_covers("hosts/x/state", "flavors"));
}

static void test_covers_star_covers_everything(void)
{
	const char *paths[] = { "hosts", "hosts/x/state", "aggregates.json",
				"quotas/p1/compute", "flavors/f/extra_specs/k" };

	for (guint i = 0; i < G_N_ELEMENTS(paths); i++)
		g_assert_true(control_pattern_covers("*", paths[i]));
}

/* ---- control_glob_contains --------------------------------------------- */

static void test_glob_contains_path_and_below(void)
{
	g_assert_true(control_glob_contains("hosts", "hosts"));
	g_assert_true(control_glob_contains("hosts", "hosts/a"));
	g_assert_true(control_glob_contains("hosts/*", "hosts/a/b"));
	/* '?' matches one character, but "hosts/a" is an ancestor of the path. */
	g_assert_true(control_glob_contains("hosts/?", "hosts/a/b"));
	g_assert_false(control_glob_contains("hosts/?", "hosts/ab"));
}

static void test_glob_contains_star_crosses_slash(void)
{
	g_assert_true(control_glob_contains("*h100*", "hosts/gpu-h100-1/state"));
	g_assert_true(control_glob_contains("*/state", "hosts/gpu1/state"));
	g_assert_false(control_glob_contains("*h100*", "hosts/gpu-a100-1/state"));
}

static void test_glob_contains_not_above(void)
{
	/* Contains is downward only: a path below the glob's match, not above. */
	g_assert_false(control_glob_contains("hosts/a", "hosts"));
	g_assert_false(control_glob_contains("hosts/*/state", "hosts/a"));
	g_assert_false(control_glob_contains("aggregates", "hosts/a"));
}

/* ---- control_pattern_fragment ----------------------------------------- */

/* How `text`, arrived without its newline, stands. */
static enum control_fragment fragment_len(const char *data, gsize len)
{
	return control_pattern_fragment(data, len, top_names);
}

static enum control_fragment fragment(const char *text)
{
	return fragment_len(text, strlen(text));
}

static void test_fragment_whole_line_complete(void)
{
	/* `printf hosts`: no newline, but nothing more is needed. */
	g_assert_cmpint(fragment("hosts"), ==, CONTROL_FRAGMENT_COMPLETE);
	g_assert_cmpint(fragment("hosts/cmp"), ==, CONTROL_FRAGMENT_COMPLETE);
	g_assert_cmpint(fragment("*h100"), ==, CONTROL_FRAGMENT_COMPLETE);
	g_assert_cmpint(fragment("hosts/caf\xc3\xa9"), ==, CONTROL_FRAGMENT_COMPLETE);
}

static void test_fragment_prefix_of_top_name_partial(void)
{
	g_assert_cmpint(fragment("hos"), ==, CONTROL_FRAGMENT_PARTIAL);
	/* "." alone is rejected as a component, but ".infrafs" starts so. */
	g_assert_cmpint(fragment("."), ==, CONTROL_FRAGMENT_PARTIAL);
}

static void test_fragment_blank_is_complete(void)
{
	/* A blank line is already valid: control_parse_patterns skips it and
	 * selects nothing. Applying it now does nothing, and write_lines keeps
	 * a complete tail anyway, so "   hosts" still arrives whole. (Only
	 * non-empty tails reach the classifier; "" is checked for the API.) */
	g_assert_cmpint(fragment(""), ==, CONTROL_FRAGMENT_COMPLETE);
	g_assert_cmpint(fragment("   "), ==, CONTROL_FRAGMENT_COMPLETE);
}

static void test_fragment_only_slashes_partial(void)
{
	/* "/" is an empty pattern, but "/hosts" is not. */
	g_assert_cmpint(fragment("/"), ==, CONTROL_FRAGMENT_PARTIAL);
}

static void test_fragment_unknown_top_invalid(void)
{
	/* No top name starts "garbage", and a finished first component
	 * ("nope/") cannot change any more. */
	g_assert_cmpint(fragment("garbage"), ==, CONTROL_FRAGMENT_INVALID);
	g_assert_cmpint(fragment("nope/x"), ==, CONTROL_FRAGMENT_INVALID);
}

static void test_fragment_dot_component_invalid(void)
{
	/* ".." is followed by '/': it can no longer grow into a name. */
	g_assert_cmpint(fragment("hosts/../x"), ==, CONTROL_FRAGMENT_INVALID);
}

static void test_fragment_control_char_invalid(void)
{
	g_assert_cmpint(fragment("hosts/a\x01"), ==, CONTROL_FRAGMENT_INVALID);
}

static void test_fragment_nul_invalid(void)
{
	const char data[] = "hos\0ts";

	g_assert_cmpint(fragment_len(data, sizeof(data) - 1), ==, CONTROL_FRAGMENT_INVALID);
}

static void test_fragment_cut_utf8_partial(void)
{
	/* A write may end in the middle of a character: its next bytes may
	 * complete it ("caf\xc3" + "\xa9" is "café"). */
	g_assert_cmpint(fragment("hosts/caf\xc3"), ==, CONTROL_FRAGMENT_PARTIAL);
	g_assert_cmpint(fragment("hosts/\xe2\x82"), ==, CONTROL_FRAGMENT_PARTIAL);
	g_assert_cmpint(fragment("hosts/\xf0\x9f\x98"), ==, CONTROL_FRAGMENT_PARTIAL);
}

static void test_fragment_broken_utf8_invalid(void)
{
	/* Bytes no continuation can turn into a character. */
	g_assert_cmpint(fragment("hosts/\xff"), ==, CONTROL_FRAGMENT_INVALID);
	g_assert_cmpint(fragment("hosts/\xc3\x28"), ==, CONTROL_FRAGMENT_INVALID);
	g_assert_cmpint(fragment("hosts/\xff/x"), ==, CONTROL_FRAGMENT_INVALID);
}

static void test_fragment_unclosed_bracket_partial(void)
{
	/* A glob whose bracket the next write may close. */
	g_assert_cmpint(fragment("[abc"), ==, CONTROL_FRAGMENT_PARTIAL);
	g_assert_cmpint(fragment("hosts/[a"), ==, CONTROL_FRAGMENT_PARTIAL);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/control/parse/directory", test_parse_directory);
	g_test_add_func("/control/parse/glob", test_parse_glob);
	g_test_add_func("/control/parse/star", test_parse_star);
	g_test_add_func("/control/parse/slashes-dropped", test_parse_slashes_dropped);
	g_test_add_func("/control/parse/multiple-lines", test_parse_multiple_lines);
	g_test_add_func("/control/parse/blank-lines-skipped", test_parse_blank_lines_skipped);
	g_test_add_func("/control/parse/surrounding-space-trimmed",
			test_parse_surrounding_space_trimmed);
	g_test_add_func("/control/parse/longest-line", test_parse_longest_line);
	g_test_add_func("/control/parse/empty-write-selects-nothing",
			test_parse_empty_write_selects_nothing);
	g_test_add_func("/control/parse/only-blank-lines-select-nothing",
			test_parse_only_blank_lines_select_nothing);
	g_test_add_func("/control/reject/unbalanced-bracket", test_reject_unbalanced_bracket);
	g_test_add_func("/control/reject/trailing-backslash", test_reject_trailing_backslash);
	g_test_add_func("/control/reject/dot-components", test_reject_dot_components);
	g_test_add_func("/control/reject/control-chars", test_reject_control_chars);
	g_test_add_func("/control/reject/nul", test_reject_nul);
	g_test_add_func("/control/reject/long-line", test_reject_long_line);
	g_test_add_func("/control/reject/unknown-top", test_reject_unknown_top);
	g_test_add_func("/control/reject/invalid-utf8", test_reject_invalid_utf8);
	g_test_add_func("/control/reject/empty-after-slashes", test_reject_empty_after_slashes);
	g_test_add_func("/control/reject/one-bad-line-rejects-all", test_one_bad_line_rejects_all);
	g_test_add_func("/control/covers/directory-covers-below",
			test_covers_directory_covers_below);
	g_test_add_func("/control/covers/glob-covers-below", test_covers_glob_covers_below);
	g_test_add_func("/control/covers/anchor-above-pattern", test_covers_anchor_above_pattern);
	g_test_add_func("/control/covers/other-top-not-covered", test_covers_other_top_not_covered);
	g_test_add_func("/control/covers/star-covers-everything", test_covers_star_covers_everything);
	g_test_add_func("/control/glob-contains/path-and-below", test_glob_contains_path_and_below);
	g_test_add_func("/control/glob-contains/star-crosses-slash",
			test_glob_contains_star_crosses_slash);
	g_test_add_func("/control/glob-contains/not-above", test_glob_contains_not_above);
	g_test_add_func("/control/fragment/whole-line-complete", test_fragment_whole_line_complete);
	g_test_add_func("/control/fragment/prefix-of-top-name-partial",
			test_fragment_prefix_of_top_name_partial);
	g_test_add_func("/control/fragment/blank-is-complete", test_fragment_blank_is_complete);
	g_test_add_func("/control/fragment/only-slashes-partial", test_fragment_only_slashes_partial);
	g_test_add_func("/control/fragment/unknown-top-invalid", test_fragment_unknown_top_invalid);
	g_test_add_func("/control/fragment/dot-component-invalid",
			test_fragment_dot_component_invalid);
	g_test_add_func("/control/fragment/control-char-invalid",
			test_fragment_control_char_invalid);
	g_test_add_func("/control/fragment/nul-invalid", test_fragment_nul_invalid);
	g_test_add_func("/control/fragment/broken-utf8-invalid", test_fragment_broken_utf8_invalid);
	g_test_add_func("/control/fragment/cut-utf8-partial", test_fragment_cut_utf8_partial);
	g_test_add_func("/control/fragment/unclosed-bracket-partial",
			test_fragment_unclosed_bracket_partial);

	return g_test_run();
}
