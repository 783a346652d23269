/* derived: GPU rules (see infrafs/derived.h). */
#include "infrafs/derived.h"

#include <fnmatch.h>
#include <string.h>

/* Order matters: the first match wins, so specific patterns come first. */
static const struct {
	const char *glob;
	const char *gpu_type;
} default_name_rules[] = {
	{ "*h200sxm*", "H200-SXM5" },
	{ "*h200-sxm*", "H200-SXM5" },
	{ "*h100sxm*", "H100-SXM5" },
	{ "*h100-sxm*", "H100-SXM5" },
	{ "*h200*", "H200" },
	{ "*h100*", "H100" },
	{ "*a100*", "A100" },
	{ "*l40*", "L40" },
};

static const char *const default_resource_classes[] = { "VGPU", "PGPU", "CUSTOM_GPU*", NULL };

#define DEFAULT_FLAVOR_FORMAT "n3-{gpu}x{count}"

void gpu_name_rule_free(gpointer data)
{
	struct gpu_name_rule *rule = data;

	g_free(rule->glob);
	g_free(rule->gpu_type);
	g_free(rule);
}

void gpu_rules_clear(struct gpu_rules *rules)
{
	g_clear_pointer(&rules->name_rules, g_ptr_array_unref);
	g_clear_pointer(&rules->resource_classes, g_strfreev);
	g_clear_pointer(&rules->flavor_format, g_free);
}

gboolean derived_check_flavor_format(const char *format, char **problem)
{
	guint gpu = 0, count = 0;

	for (const char *p = format; *p; p++) {
		if (g_str_has_prefix(p, "{gpu}")) {
			gpu++;
			p += strlen("{gpu}") - 1;
		} else if (g_str_has_prefix(p, "{count}")) {
			count++;
			p += strlen("{count}") - 1;
		} else if (*p == '{' || *p == '}' || *p == '/' || (guchar)*p < 0x20) {
			*problem = g_strdup_printf("\"%s\": only {gpu} and {count} may stand in "
						   "braces, and no '/' or control character",
						   format);
			return FALSE;
		}
	}
	if (gpu > 1 || count > 1 || *format == '\0') {
		*problem = g_strdup_printf("\"%s\": expected text with {gpu} and {count}, each "
					   "at most once",
					   format);
		return FALSE;
	}
	return TRUE;
}

const char *derived_gpu_type_from_name(const struct gpu_rules *rules, const char *host_name)
{
	if (host_name == NULL)
		return NULL;
	if (rules != NULL && rules->name_rules != NULL) {
		for (guint i = 0; i < rules->name_rules->len; i++) {
			const struct gpu_name_rule *rule = rules->name_rules->pdata[i];

			if (fnmatch(rule->glob, host_name, FNM_CASEFOLD) == 0)
				return rule->gpu_type;
		}
		return NULL;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(default_name_rules); i++)
		if (fnmatch(default_name_rules[i].glob, host_name, FNM_CASEFOLD) == 0)
			return default_name_rules[i].gpu_type;
	return NULL;
}

gboolean derived_is_gpu_class(const struct gpu_rules *rules, const char *resource_class)
{
	const char *const *classes = rules != NULL && rules->resource_classes != NULL
					     ? (const char *const *)rules->resource_classes
					     : default_resource_classes;

	for (const char *const *glob = classes; resource_class && *glob != NULL; glob++)
		if (fnmatch(*glob, resource_class, 0) == 0)
			return TRUE;
	return FALSE;
}

gint64 derived_gpu_count(const struct gpu_rules *rules, GHashTable *capacities)
{
	GHashTableIter iter;
	gpointer key, value;
	gint64 count = -1;

	if (capacities == NULL)
		return -1;
	g_hash_table_iter_init(&iter, capacities);
	while (g_hash_table_iter_next(&iter, &key, &value))
		if (derived_is_gpu_class(rules, key)) {
			gint64 add = MAX(*(const gint64 *)value, 0);

			/* Saturate: a count past G_MAXINT64 is nonsense, not a crash. */
			if (__builtin_add_overflow(MAX(count, 0), add, &count))
				count = G_MAXINT64;
		}
	return count;
}

char *derived_flavor(const struct gpu_rules *rules, const char *gpu_type, const char *gpu_count)
{
	if (gpu_type == NULL || *gpu_type == '\0' || gpu_count == NULL || *gpu_count == '\0')
		return NULL;
	for (const char *p = gpu_count; *p; p++)
		if (!g_ascii_isdigit(*p))
			return NULL;
	if (g_ascii_strtoull(gpu_count, NULL, 10) == 0)
		return NULL;

	const char *format = rules != NULL && rules->flavor_format != NULL ? rules->flavor_format
									   : DEFAULT_FLAVOR_FORMAT;
	g_autofree char *model = g_strndup(gpu_type, strcspn(gpu_type, "-"));
	GString *flavor = g_string_new(NULL);

	for (const char *p = format; *p; p++) {
		if (g_str_has_prefix(p, "{gpu}")) {
			g_string_append(flavor, model);
			p += strlen("{gpu}") - 1;
		} else if (g_str_has_prefix(p, "{count}")) {
			g_string_append(flavor, gpu_count);
			p += strlen("{count}") - 1;
		} else {
			g_string_append_c(flavor, *p);
		}
	}
	return g_string_free(flavor, FALSE);
}
