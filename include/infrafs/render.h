/* render: turn values into the bytes a file shows. Pure; thread-safe as long
 * as each json_object is touched by one thread at a time.
 *
 * Rules of design.md: one value per small file ends with a newline, lists
 * are one item per line, JSON files are the backend's objects pretty-printed
 * and end with a newline. */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* Pretty JSON of `object` plus a newline. `object` is only read, but json-c
 * writes into it while serialising: hold it exclusively. */
GBytes *render_json(json_object *object);

/* `value` plus a newline; an empty file for NULL. */
GBytes *render_value(const char *value);

/* Each item on its own line; an empty file for no items. */
GBytes *render_lines(const char *const *items, guint n_items);
