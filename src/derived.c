/* derived: hostname rules for gpu_type (see infrafs/derived.h). */
#include "infrafs/derived.h"

#include <fnmatch.h>
#include <string.h>

/* Order matters: the first match wins, so specific patterns come first. */
static const struct {
	const char *glob;
	const char *gpu_type;
} default_gpu_rules[] = {
	{ "*h200sxm*", "H200-SXM5" },
	{ "*h200-sxm*", "H200-SXM5" },
	{ "*h100sxm*", "H100-SXM5" },
	{ "*h100-sxm*", "H100-SXM5" },
	{ "*h200*", "H200" },
	{ "*h100*", "H100" },
	{ "*a100*", "A100" },
	{ "*l40*", "L40" },
};

char *derived_flavor(const char *gpu_type, const char *gpu_count)
{
	if (gpu_type == NULL || *gpu_type == '\0' || gpu_count == NULL || *gpu_count == '\0')
		return NULL;
	for (const char *p = gpu_count; *p; p++)
		if (!g_ascii_isdigit(*p))
			return NULL;
	if (g_ascii_strtoull(gpu_count, NULL, 10) == 0)
		return NULL;

	gsize model_len = strcspn(gpu_type, "-");

	return g_strdup_printf("n3-%.*sx%s", (int)model_len, gpu_type, gpu_count);
}

const char *derived_gpu_type_from_name(const char *host_name)
{
	if (host_name == NULL)
		return NULL;
	for (gsize i = 0; i < G_N_ELEMENTS(default_gpu_rules); i++)
		if (fnmatch(default_gpu_rules[i].glob, host_name, FNM_CASEFOLD) == 0)
			return default_gpu_rules[i].gpu_type;
	return NULL;
}
