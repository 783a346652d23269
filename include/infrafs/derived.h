/* derived: values infrafs works out rather than fetches (design.md,
 * "Derived values"), by rules that [gpu] of infrafs.conf may replace.
 * Pure and thread-safe. */
#pragma once

#include <glib.h>

/* One hostname rule: a host whose name matches `glob` (fnmatch, case
 * insensitive) has GPUs of `gpu_type`. */
struct gpu_name_rule {
	char *glob;
	char *gpu_type;
};

/* The GPU rules in force. A NULL member means the built-in one:
 * name_rules for H200-SXM5, H100-SXM5, H200, H100, A100 and L40 hosts,
 * resource_classes VGPU, PGPU and CUSTOM_GPU*, flavor_format
 * "n3-{gpu}x{count}". */
struct gpu_rules {
	GPtrArray *name_rules;     /* struct gpu_name_rule, first match wins */
	char **resource_classes;   /* Placement classes counted as GPUs (globs) */
	char *flavor_format;       /* "{gpu}" and "{count}" are replaced */
};

void gpu_rules_clear(struct gpu_rules *rules);
void gpu_name_rule_free(gpointer rule);

/* Check a flavor format: text with "{gpu}" and "{count}", each at most
 * once, and no other braces. FALSE with a message in *problem (owned). */
gboolean derived_check_flavor_format(const char *format, char **problem);

/* The GPU type that the hostname rules give `host_name`, or NULL when none
 * matches. These rules cost no backend call. The result is borrowed from
 * the rules (or static). */
const char *derived_gpu_type_from_name(const struct gpu_rules *rules, const char *host_name);

/* Whether Placement resource class `resource_class` counts as GPUs. */
gboolean derived_is_gpu_class(const struct gpu_rules *rules, const char *resource_class);

/* The GPUs a Placement provider tree can hold: the sum of the capacities
 * (resource class -> gint64) of its GPU classes; -1 when it has none. */
gint64 derived_gpu_count(const struct gpu_rules *rules, GHashTable *capacities);

/* The flavor name a host's GPUs call for, by the flavor format: {gpu} is
 * the GPU type up to its first '-' ("H100-SXM5" -> "H100"), {count} the
 * GPU count. NULL when either is unknown (NULL or empty) or the count is
 * not a positive whole number. Free with g_free. */
char *derived_flavor(const struct gpu_rules *rules, const char *gpu_type, const char *gpu_count);
