/* json_util: bounded parsing and checked accessors (see infrafs/json_util.h). */
#include "infrafs/json_util.h"

#include "infrafs/errors.h"

/* Inventory objects are shallow; anything deeper is hostile. */
#define JSON_MAX_DEPTH 64

json_object *json_util_parse(const char *data, gsize len, GError **error)
{
	if (len > G_MAXINT) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "response of %zu bytes is too large to parse", len);
		return NULL;
	}

	json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	json_object *root = json_tokener_parse_ex(tok, data, (int)len);
	enum json_tokener_error status = json_tokener_get_error(tok);

	/* A bare number only ends at a terminator: give it one. Objects and
	 * arrays that stop early stay "unexpected end of data". */
	gsize first = 0;
	gboolean terminated = FALSE;

	while (first < len && g_ascii_isspace(data[first]))
		first++;
	if (status == json_tokener_continue && first < len && data[first] != '{' &&
	    data[first] != '[') {
		root = json_tokener_parse_ex(tok, "", 1);
		status = json_tokener_get_error(tok);
		terminated = TRUE;
	}
	/* parse_end counts within the last chunk fed, hence `terminated`. */
	if (status == json_tokener_success && !terminated && json_tokener_get_parse_end(tok) < len) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "invalid JSON: trailing data at byte %zu", json_tokener_get_parse_end(tok));
		json_object_put(root);
		json_tokener_free(tok);
		return NULL;
	}

	if (status == json_tokener_continue) {
		/* The input ended inside a value: a truncated body. */
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "invalid JSON: unexpected end of data after %zu bytes", len);
		json_object_put(root);
		root = NULL;
	} else if (status != json_tokener_success) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "invalid JSON at byte %zu: %s", json_tokener_get_parse_end(tok),
			    json_tokener_error_desc(status));
		json_object_put(root);
		root = NULL;
	} else if (root == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "empty or null JSON document");
	}
	json_tokener_free(tok);
	return root;
}

json_object *json_util_get(json_object *object, const char *key, json_type type)
{
	json_object *member = NULL;

	if (object == NULL || !json_object_is_type(object, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(object, key, &member) || member == NULL)
		return NULL;
	return json_object_is_type(member, type) ? member : NULL;
}

const char *json_util_get_string(json_object *object, const char *key)
{
	json_object *member = json_util_get(object, key, json_type_string);

	return member ? json_object_get_string(member) : NULL;
}

char *json_util_scalar_text(json_object *object, const char *key)
{
	json_object *member = NULL;

	if (object == NULL || !json_object_is_type(object, json_type_object) ||
	    !json_object_object_get_ex(object, key, &member) || member == NULL)
		return NULL;
	switch (json_object_get_type(member)) {
	case json_type_string:
		return g_strndup(json_object_get_string(member),
				 (gsize)json_object_get_string_len(member));
	case json_type_int:
		return g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int64(member));
	case json_type_double:
		return g_strdup(json_object_to_json_string_ext(member, JSON_C_TO_STRING_PLAIN));
	case json_type_boolean:
		return g_strdup(json_object_get_boolean(member) ? "true" : "false");
	default:
		return NULL;
	}
}

static json_object *require_member(json_object *object, const char *key, json_type type,
				   const char *type_word, GError **error)
{
	json_object *member = json_util_get(object, key, type);

	if (member == NULL)
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "expected \"%s\" to be an %s", key, type_word);
	return member;
}

json_object *json_util_require_array(json_object *object, const char *key, GError **error)
{
	return require_member(object, key, json_type_array, "array", error);
}

json_object *json_util_require_object(json_object *object, const char *key, GError **error)
{
	return require_member(object, key, json_type_object, "object", error);
}
