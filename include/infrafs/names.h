/* names: backend names <-> safe file names. Pure and thread-safe.
 *
 * Names come from the backend and are shown verbatim except (design.md):
 * '/' -> %2F, '%' -> %25, control characters and bytes that are not UTF-8
 * -> %XX, and a name of "." or "..", or a leading '.', -> %2E... An empty
 * name becomes "%00EMPTY". Names too long for a directory entry are cut and
 * end in "~" and a digest of the whole name, so every encoded name is one
 * valid path component. */
#pragma once

#include <glib.h>

/* Longest encoded name, in bytes (Linux NAME_MAX). */
#define NAMES_MAX_BYTES 255

/* The file name for backend name `name` (NULL is treated as empty). Never
 * contains '/' or NUL, never is "." or "..", never starts with '.', never
 * is empty, and is at most NAMES_MAX_BYTES bytes. Free with g_free. */
char *names_encode(const char *name);

/* Give each of `n` objects a file name unique among them: names_encode() of
 * names[i]; where several objects share one encoded name, each of them gets
 * "~<id>" appended (ids[i], itself encoded). Returns a new array of n
 * strings owned by the array. */
GPtrArray *names_encode_unique(const char *const *names, const char *const *ids, guint n);
