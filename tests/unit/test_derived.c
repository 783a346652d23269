/* Unit tests for derived: gpu_type from hostname rules (design.md, "Derived values"). */
#include <glib.h>

#include "infrafs/derived.h"

static void assert_gpu_type(const char *host_name, const char *expected)
{
	g_test_message("host name %s", host_name ? host_name : "(null)");
	g_assert_cmpstr(derived_gpu_type_from_name(NULL, host_name), ==, expected);
}

static void test_gpu_type_plain_rules(void)
{
	assert_gpu_type("gpu-h100-01.example.org", "H100");
	assert_gpu_type("gpu-h200-01", "H200");
	assert_gpu_type("node-a100-7", "A100");
	assert_gpu_type("node-l40-2", "L40");
	assert_gpu_type("node-l40s-2", "L40");
}

static void test_gpu_type_sxm_rules(void)
{
	assert_gpu_type("cn-h200sxm-01", "H200-SXM5");
	assert_gpu_type("cn-h200-sxm-01", "H200-SXM5");
	assert_gpu_type("cn-h100sxm-01", "H100-SXM5");
	assert_gpu_type("cn-h100-sxm5-01", "H100-SXM5");
}

static void test_gpu_type_case_insensitive(void)
{
	assert_gpu_type("GPU-H100-01", "H100");
	assert_gpu_type("Cn-H200SXM-01", "H200-SXM5");
	assert_gpu_type("NODE-A100", "A100");
	assert_gpu_type("node-L40", "L40");
}

static void test_gpu_type_first_match_wins(void)
{
	/* Rule order decides, not the position in the name. */
	assert_gpu_type("h100-h200sxm", "H200-SXM5");
	assert_gpu_type("h200sxm-h100", "H200-SXM5");
	assert_gpu_type("l40-a100", "A100");
	assert_gpu_type("a100-h100", "H100");
	assert_gpu_type("h100-sxm-h200", "H100-SXM5");
	/* h200 beats h100 when both appear, sxm or not. */
	assert_gpu_type("h100-h200", "H200");
}

static void test_gpu_type_no_match(void)
{
	assert_gpu_type("cpu-node-01", NULL);
	assert_gpu_type("h10", NULL);
	assert_gpu_type("", NULL);
	assert_gpu_type(NULL, NULL);
}

static void test_flavor_from_type_and_count(void)
{
	g_autofree char *h100 = derived_flavor(NULL, "H100-SXM5", "8");
	g_autofree char *l40 = derived_flavor(NULL, "L40", "4");
	g_autofree char *rtx = derived_flavor(NULL, "RTX6000", "8");

	g_assert_cmpstr(h100, ==, "n3-H100x8");
	g_assert_cmpstr(l40, ==, "n3-L40x4");
	g_assert_cmpstr(rtx, ==, "n3-RTX6000x8");
}

static void test_flavor_unknown_is_null(void)
{
	g_assert_null(derived_flavor(NULL, NULL, "8"));
	g_assert_null(derived_flavor(NULL, "H100", NULL));
	g_assert_null(derived_flavor(NULL, "", "8"));
	g_assert_null(derived_flavor(NULL, "H100", ""));
	g_assert_null(derived_flavor(NULL, "H100", "0"));
	g_assert_null(derived_flavor(NULL, "H100", "-1"));
	g_assert_null(derived_flavor(NULL, "H100", "8 GPUs"));
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/derived/gpu_type/plain-rules", test_gpu_type_plain_rules);
	g_test_add_func("/derived/gpu_type/sxm-rules", test_gpu_type_sxm_rules);
	g_test_add_func("/derived/gpu_type/case-insensitive", test_gpu_type_case_insensitive);
	g_test_add_func("/derived/gpu_type/first-match-wins", test_gpu_type_first_match_wins);
	g_test_add_func("/derived/gpu_type/no-match", test_gpu_type_no_match);

	g_test_add_func("/derived/flavor/from-type-and-count", test_flavor_from_type_and_count);
	g_test_add_func("/derived/flavor/unknown-is-null", test_flavor_unknown_is_null);
	return g_test_run();
}
