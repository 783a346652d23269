/* derived: values infrafs works out rather than fetches (design.md,
 * "Derived values"). Pure and thread-safe. */
#pragma once

#include <glib.h>

/* The GPU type that the hostname rules give `host_name` (a case-insensitive
 * glob match; the first matching rule wins), or NULL when none matches.
 * These rules cost no backend call. The result is static. */
const char *derived_gpu_type_from_name(const char *host_name);
