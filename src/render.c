/* render: values -> file contents (see infrafs/render.h). */
#include "infrafs/render.h"

#include <string.h>

GBytes *render_json(json_object *object)
{
	const char *text = json_object_to_json_string_ext(
		object, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				JSON_C_TO_STRING_NOSLASHESCAPE);
	gsize len = strlen(text);
	char *copy = g_malloc(len + 1);

	memcpy(copy, text, len);
	copy[len] = '\n';
	return g_bytes_new_take(copy, len + 1);
}

GBytes *render_value(const char *value)
{
	if (value == NULL)
		return g_bytes_new_static("", 0);

	char *line = g_strconcat(value, "\n", NULL);

	return g_bytes_new_take(line, strlen(line));
}

GBytes *render_lines(const char *const *items, guint n_items)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < n_items; i++) {
		g_string_append(out, items[i]);
		g_string_append_c(out, '\n');
	}
	return g_string_free_to_bytes(out);
}
