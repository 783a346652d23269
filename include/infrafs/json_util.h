/* json_util: bounded parsing into a GError, and checked accessors.
 *
 * json-c objects are not thread-safe (plain refcounts, an output buffer
 * inside each object): a tree built here belongs to one thread until it is
 * rendered into GBytes and dropped. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

/* Parse `len` bytes (no NUL needed) with bounded nesting. On failure returns
 * NULL and sets INFRAFS_ERROR_BAD_RESPONSE. The result is the caller's. */
json_object *json_util_parse(const char *data, gsize len, GError **error);

/* Borrowed member of the given type, or NULL when missing or of another
 * type (null counts as missing). */
json_object *json_util_get(json_object *object, const char *key, json_type type);

/* Borrowed string member, or NULL when missing, null or not a string. */
const char *json_util_get_string(json_object *object, const char *key);

/* A member as text: strings as they are, numbers and booleans printed,
 * NULL for null, missing, objects and arrays. Free with g_free. */
char *json_util_scalar_text(json_object *object, const char *key);

/* Member `key` that must be an array; otherwise NULL and BAD_RESPONSE. */
json_object *json_util_require_array(json_object *object, const char *key, GError **error);

/* Member `key` that must be an object; otherwise NULL and BAD_RESPONSE. */
json_object *json_util_require_object(json_object *object, const char *key, GError **error);
