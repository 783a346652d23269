/* derived: values infrafs works out rather than fetches (design.md,
 * "Derived values"). Pure and thread-safe. */
#pragma once

#include <glib.h>

/* The GPU type that the hostname rules give `host_name` (a case-insensitive
 * glob match; the first matching rule wins), or NULL when none matches.
 * These rules cost no backend call. The result is static. */
const char *derived_gpu_type_from_name(const char *host_name);

/* The flavor name a host's GPUs call for, "n3-{gpu}x{count}": {gpu} is the
 * GPU type up to its first '-' ("H100-SXM5" -> "H100"), {count} the GPU
 * count. NULL when either is unknown (NULL or empty) or the count is not a
 * positive whole number. Free with g_free. */
char *derived_flavor(const char *gpu_type, const char *gpu_count);
