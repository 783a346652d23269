/* Unit tests for json_util: bounded parsing and checked accessors. */
#include <string.h>

#include <glib.h>
#include <json-c/json.h>

#include "infrafs/errors.h"
#include "infrafs/json_util.h"

/* Deeper than any inventory object, and deeper than json_util allows. */
#define HOSTILE_DEPTH 200
/* Comfortably within the allowed depth. */
#define NORMAL_DEPTH 10

/* Whether `error` mentions `text`; FALSE without an error, so that a failed
 * non-fatal assertion before it does not turn into a crash. */
static gboolean mentions(const GError *error, const char *text)
{
	return error != NULL && strstr(error->message, text) != NULL;
}

static json_object *parse_ok(const char *text)
{
	g_autoptr(GError) error = NULL;
	json_object *object = json_util_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	g_assert_nonnull(object);
	return object;
}

static void assert_bad_response_len(const char *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(json_object) object = json_util_parse(data, len, &error);
	g_autofree char *shown = g_strescape(len > 0 ? data : "", NULL);

	g_test_message("input: \"%s\" (%zu bytes)", shown, len);
	g_assert_null(object);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
	if (error != NULL)
		g_assert_cmpstr(error->message, !=, "");
}

static void assert_bad_response(const char *text)
{
	assert_bad_response_len(text, strlen(text));
}

static char *nested_arrays(guint depth)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < depth; i++)
		g_string_append_c(out, '[');
	for (guint i = 0; i < depth; i++)
		g_string_append_c(out, ']');
	return g_string_free(out, FALSE);
}

/* ---- json_util_parse --------------------------------------------------- */

static void test_parse_object(void)
{
	g_autoptr(json_object) object = parse_ok("{\"hypervisors\": [{\"id\": 1}], \"n\": 2}");

	g_assert_true(json_object_is_type(object, json_type_object));
	g_assert_cmpint(json_object_object_length(object), ==, 2);
}

static void test_parse_uses_len_not_nul(void)
{
	/* Bodies arrive with a length and no NUL; bytes past `len` are not JSON. */
	const char buffer[] = "{\"a\": 1}GARBAGE";
	g_autoptr(GError) error = NULL;
	g_autoptr(json_object) object = json_util_parse(buffer, strlen("{\"a\": 1}"), &error);

	g_assert_no_error(error);
	g_assert_nonnull(object);
	g_assert_cmpint(json_object_get_int(json_util_get(object, "a", json_type_int)), ==, 1);
}

static void test_parse_trailing_whitespace_ok(void)
{
	g_autoptr(json_object) object = parse_ok("{\"a\": [1, 2]}\r\n  \n");

	g_assert_true(json_object_is_type(object, json_type_object));
}

static void test_parse_truncated(void)
{
	assert_bad_response("{\"hypervisors\": [{\"id\": 1}, {\"id\"");
	assert_bad_response("{\"a\": 1");
	assert_bad_response("[1, 2");
	assert_bad_response("{\"name\": \"unterminated");
}

static void test_parse_invalid(void)
{
	assert_bad_response("<html><body>502 Bad Gateway</body></html>");
	assert_bad_response("{a: 1}");
	assert_bad_response("[1,,2]");
	assert_bad_response("{\"a\": tru}");
	assert_bad_response("}");
}

/* A second document or junk after the value is not one JSON body. */
static void test_parse_trailing_garbage(void)
{
	assert_bad_response("{\"a\": 1}xyz");
	assert_bad_response("[1] [2]");
	assert_bad_response("{\"a\": 1}<html>");
}

/* RFC 8259: a document may be a bare scalar. */
static void test_parse_top_level_scalar(void)
{
	g_autoptr(json_object) number = parse_ok("42");
	g_autoptr(json_object) text = parse_ok("\"up\"");

	g_assert_true(json_object_is_type(number, json_type_int));
	g_assert_cmpint(json_object_get_int64(number), ==, 42);
	g_assert_cmpstr(json_object_get_string(text), ==, "up");
}

static void test_parse_too_deep(void)
{
	g_autofree char *hostile = nested_arrays(HOSTILE_DEPTH);
	g_autofree char *normal = nested_arrays(NORMAL_DEPTH);
	g_autoptr(json_object) object = parse_ok(normal);

	assert_bad_response(hostile);
	g_assert_true(json_object_is_type(object, json_type_array));
}

static void test_parse_empty(void)
{
	assert_bad_response_len("", 0);
	assert_bad_response("   \n\t");
	/* len 0 with a non-empty buffer: still nothing to parse. */
	assert_bad_response_len("{}", 0);
}

static void test_parse_null_document(void)
{
	/* A body of "null" is no inventory: callers expect an object. */
	assert_bad_response("null");
}

/* ---- accessors --------------------------------------------------------- */

static const char *const sample =
	"{\"s\": \"text\", \"i\": 42, \"big\": -9007199254740993, \"d\": 1.5, "
	"\"t\": true, \"f\": false, \"n\": null, \"o\": {\"k\": 1}, \"a\": [1, 2], "
	"\"e\": \"\"}";

static void test_get_right_type(void)
{
	g_autoptr(json_object) object = parse_ok(sample);

	g_assert_nonnull(json_util_get(object, "s", json_type_string));
	g_assert_nonnull(json_util_get(object, "i", json_type_int));
	g_assert_nonnull(json_util_get(object, "o", json_type_object));
	g_assert_nonnull(json_util_get(object, "a", json_type_array));
	g_assert_cmpint(json_object_array_length(json_util_get(object, "a", json_type_array)), ==,
			2);
}

static void test_get_wrong_type_is_null(void)
{
	g_autoptr(json_object) object = parse_ok(sample);
	g_autoptr(json_object) array = parse_ok("[{\"s\": \"x\"}]");

	g_assert_null(json_util_get(object, "s", json_type_int));
	g_assert_null(json_util_get(object, "i", json_type_string));
	g_assert_null(json_util_get(object, "o", json_type_array));
	g_assert_null(json_util_get(object, "a", json_type_object));
	/* null counts as missing, whatever type is asked for. */
	g_assert_null(json_util_get(object, "n", json_type_null));
	g_assert_null(json_util_get(object, "n", json_type_object));
	g_assert_null(json_util_get(object, "missing", json_type_string));
	/* Not an object at all. */
	g_assert_null(json_util_get(array, "s", json_type_string));
	g_assert_null(json_util_get(NULL, "s", json_type_string));
}

static void test_get_string(void)
{
	g_autoptr(json_object) object = parse_ok(sample);

	g_assert_cmpstr(json_util_get_string(object, "s"), ==, "text");
	g_assert_cmpstr(json_util_get_string(object, "e"), ==, "");
	g_assert_null(json_util_get_string(object, "i"));
	g_assert_null(json_util_get_string(object, "n"));
	g_assert_null(json_util_get_string(object, "o"));
	g_assert_null(json_util_get_string(object, "missing"));
	g_assert_null(json_util_get_string(NULL, "s"));
}

static void assert_scalar_text(json_object *object, const char *key, const char *expected)
{
	g_autofree char *text = json_util_scalar_text(object, key);

	g_assert_cmpstr(text, ==, expected);
}

static void test_scalar_text(void)
{
	g_autoptr(json_object) object = parse_ok(sample);

	assert_scalar_text(object, "s", "text");
	assert_scalar_text(object, "e", "");
	assert_scalar_text(object, "i", "42");
	assert_scalar_text(object, "big", "-9007199254740993");
	assert_scalar_text(object, "d", "1.5");
	assert_scalar_text(object, "t", "true");
	assert_scalar_text(object, "f", "false");
	assert_scalar_text(object, "n", NULL);
	assert_scalar_text(object, "o", NULL);
	assert_scalar_text(object, "a", NULL);
	assert_scalar_text(object, "missing", NULL);
	assert_scalar_text(NULL, "s", NULL);
}

static void test_scalar_text_built_double(void)
{
	g_autoptr(json_object) object = json_object_new_object();

	json_object_object_add(object, "d", json_object_new_double(0.25));
	assert_scalar_text(object, "d", "0.25");
}

static void test_require_array(void)
{
	g_autoptr(json_object) object = parse_ok(sample);
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(json_util_require_array(object, "a", &error));
	g_assert_no_error(error);

	g_assert_null(json_util_require_array(object, "o", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
	g_assert_true(mentions(error, "\"o\""));
	g_clear_error(&error);

	g_assert_null(json_util_require_array(object, "missing", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
	g_clear_error(&error);

	g_assert_null(json_util_require_array(object, "n", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
}

static void test_require_object(void)
{
	g_autoptr(json_object) object = parse_ok(sample);
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(json_util_require_object(object, "o", &error));
	g_assert_no_error(error);

	g_assert_null(json_util_require_object(object, "a", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
	g_assert_true(mentions(error, "\"a\""));
	g_clear_error(&error);

	g_assert_null(json_util_require_object(object, "s", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/json_util/parse/object", test_parse_object);
	g_test_add_func("/json_util/parse/uses-len-not-nul", test_parse_uses_len_not_nul);
	g_test_add_func("/json_util/parse/trailing-whitespace-ok", test_parse_trailing_whitespace_ok);
	g_test_add_func("/json_util/parse/truncated", test_parse_truncated);
	g_test_add_func("/json_util/parse/invalid", test_parse_invalid);
	g_test_add_func("/json_util/parse/trailing-garbage", test_parse_trailing_garbage);
	g_test_add_func("/json_util/parse/top-level-scalar", test_parse_top_level_scalar);
	g_test_add_func("/json_util/parse/too-deep", test_parse_too_deep);
	g_test_add_func("/json_util/parse/empty", test_parse_empty);
	g_test_add_func("/json_util/parse/null-document", test_parse_null_document);
	g_test_add_func("/json_util/get/right-type", test_get_right_type);
	g_test_add_func("/json_util/get/wrong-type-is-null", test_get_wrong_type_is_null);
	g_test_add_func("/json_util/get-string", test_get_string);
	g_test_add_func("/json_util/scalar-text/types", test_scalar_text);
	g_test_add_func("/json_util/scalar-text/built-double", test_scalar_text_built_double);
	g_test_add_func("/json_util/require/array", test_require_array);
	g_test_add_func("/json_util/require/object", test_require_object);

	return g_test_run();
}
