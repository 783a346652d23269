/* Unit tests for render: values -> the bytes a file shows (design.md, "The tree"). */
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "infrafs/json_util.h"
#include "infrafs/render.h"

#define assert_bytes_text(bytes, text)                                                  \
	g_assert_cmpmem(g_bytes_get_data((bytes), NULL), g_bytes_get_size(bytes), (text), \
			strlen(text))

static json_object *parse(const char *text)
{
	g_autoptr(GError) error = NULL;
	json_object *object = json_util_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	g_assert_nonnull(object);
	return object;
}

/* The bytes of `bytes` as a NUL-terminated string. */
static char *bytes_text(GBytes *bytes)
{
	gsize size = 0;
	const char *data = g_bytes_get_data(bytes, &size);

	return g_strndup(data, size);
}

static void test_json_pretty_ends_with_newline(void)
{
	g_autoptr(json_object) object =
		parse("{\"name\": \"gpu-h100\", \"id\": 7, \"hosts\": [\"cn1\", \"cn2\"], "
		      "\"metadata\": {\"gpu_type\": \"H100\"}, \"availability_zone\": null}");
	g_autoptr(GBytes) bytes = render_json(object);
	g_autofree char *text = bytes_text(bytes);
	gsize len = strlen(text);

	g_assert_cmpuint(len, ==, g_bytes_get_size(bytes));
	g_assert_cmpuint(len, >, 2);
	g_assert_cmpint(text[len - 1], ==, '\n');
	g_assert_cmpint(text[len - 2], ==, '}');
	/* Pretty: one member per line, so grep finds single members. */
	g_assert_nonnull(strstr(text, "\n  \"name\":"));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	g_assert_cmpuint(g_strv_length(lines), >, 6);
}

static void test_json_reparses_equal(void)
{
	const char *source = "{\"name\": \"a/b \\u00e9\", \"n\": -12, \"x\": 1.5, \"ok\": true, "
			     "\"list\": [1, [2, {}], null], \"nested\": {\"deep\": {\"k\": \"v\"}}}";
	g_autoptr(json_object) object = parse(source);
	g_autoptr(GBytes) bytes = render_json(object);
	g_autoptr(GError) error = NULL;
	g_autoptr(json_object) again = json_util_parse(g_bytes_get_data(bytes, NULL),
						       g_bytes_get_size(bytes), &error);

	g_assert_no_error(error);
	g_assert_nonnull(again);
	g_assert_true(json_object_equal(object, again));
}

static void test_json_slash_not_escaped(void)
{
	g_autoptr(json_object) object = parse("{\"path\": \"/v2.1/os-hypervisors\"}");
	g_autoptr(GBytes) bytes = render_json(object);
	g_autofree char *text = bytes_text(bytes);

	/* grep for a URL path must work on the file. */
	g_assert_nonnull(strstr(text, "\"/v2.1/os-hypervisors\""));
	g_assert_null(strstr(text, "\\/"));
}

static void test_json_array(void)
{
	g_autoptr(json_object) array = parse("[{\"id\": 1}, {\"id\": 2}]");
	g_autoptr(GBytes) bytes = render_json(array);
	g_autofree char *text = bytes_text(bytes);

	g_assert_true(g_str_has_prefix(text, "["));
	g_assert_true(g_str_has_suffix(text, "]\n"));
}

static void test_json_empty_array(void)
{
	g_autoptr(json_object) array = json_object_new_array();
	g_autoptr(GBytes) bytes = render_json(array);
	g_autofree char *text = bytes_text(bytes);

	g_assert_true(g_str_has_suffix(text, "]\n"));
	g_assert_cmpint(text[0], ==, '[');
}

static void test_value_null_is_empty(void)
{
	g_autoptr(GBytes) bytes = render_value(NULL);

	g_assert_nonnull(bytes);
	g_assert_cmpuint(g_bytes_get_size(bytes), ==, 0);
}

static void test_value_newline(void)
{
	g_autoptr(GBytes) x = render_value("x");
	g_autoptr(GBytes) up = render_value("up");
	g_autoptr(GBytes) empty = render_value("");

	assert_bytes_text(x, "x\n");
	assert_bytes_text(up, "up\n");
	assert_bytes_text(empty, "\n");
}

static void test_lines_one_per_line(void)
{
	const char *items[] = { "cn1", "cn2.example.org", "a b" };
	g_autoptr(GBytes) bytes = render_lines(items, G_N_ELEMENTS(items));

	assert_bytes_text(bytes, "cn1\ncn2.example.org\na b\n");
}

static void test_lines_single(void)
{
	const char *items[] = { "only" };
	g_autoptr(GBytes) bytes = render_lines(items, 1);

	assert_bytes_text(bytes, "only\n");
}

static void test_lines_none_is_empty(void)
{
	g_autoptr(GBytes) bytes = render_lines(NULL, 0);

	g_assert_nonnull(bytes);
	g_assert_cmpuint(g_bytes_get_size(bytes), ==, 0);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/render/json/pretty-ends-with-newline", test_json_pretty_ends_with_newline);
	g_test_add_func("/render/json/reparses-equal", test_json_reparses_equal);
	g_test_add_func("/render/json/slash-not-escaped", test_json_slash_not_escaped);
	g_test_add_func("/render/json/array", test_json_array);
	g_test_add_func("/render/json/empty-array", test_json_empty_array);
	g_test_add_func("/render/value/null-is-empty", test_value_null_is_empty);
	g_test_add_func("/render/value/newline", test_value_newline);
	g_test_add_func("/render/lines/one-per-line", test_lines_one_per_line);
	g_test_add_func("/render/lines/single", test_lines_single);
	g_test_add_func("/render/lines/none-is-empty", test_lines_none_is_empty);

	return g_test_run();
}
