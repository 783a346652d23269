/* Unit tests for names: backend names -> safe file names (design.md, "The tree"). */
#include <string.h>

#include <glib.h>

#include "infrafs/names.h"

/* Seed of the property loops: fixed, so that a failure reproduces. */
#define PROPERTY_SEED 20240601
#define PROPERTY_ROUNDS 4000

static void assert_encodes(const char *name, const char *expected)
{
	g_autofree char *file_name = names_encode(name);

	g_assert_cmpstr(file_name, ==, expected);
}

static gboolean is_upper_hex(char c)
{
	return g_ascii_isdigit(c) || (c >= 'A' && c <= 'F');
}

/* Every promise of names_encode() about its result; NULL when all hold,
 * otherwise which one broke. */
static const char *file_name_problem(const char *file_name)
{
	gsize len = strlen(file_name);

	if (len == 0)
		return "empty";
	if (len > NAMES_MAX_BYTES)
		return "longer than NAMES_MAX_BYTES";
	if (strchr(file_name, '/') != NULL)
		return "contains '/'";
	if (strcmp(file_name, ".") == 0 || strcmp(file_name, "..") == 0)
		return "is . or ..";
	if (file_name[0] == '.')
		return "starts with '.'";
	if (!g_utf8_validate(file_name, -1, NULL))
		return "not valid UTF-8";
	for (const char *p = file_name; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
			return "contains a control character";
		if (c == '%' && !(is_upper_hex(p[1]) && is_upper_hex(p[2])))
			return "contains a '%' that does not start a %XX escape";
	}
	return NULL;
}

/* Checks one result inside a property loop, naming the input on failure. */
static gboolean check_file_name(const char *name, const char *file_name)
{
	const char *problem = file_name_problem(file_name);

	if (problem == NULL)
		return TRUE;

	g_autofree char *shown_name = g_strescape(name ? name : "(null)", NULL);
	g_autofree char *shown_file_name = g_strescape(file_name, NULL);

	/* Enough of both to reproduce by hand, not kilobytes of escapes. */
	g_test_fail_printf("names_encode(\"%.120s\"...) = \"%.120s\"...: %s", shown_name,
			   shown_file_name, problem);
	return FALSE;
}

static char *repeat(const char *unit, guint times)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < times; i++)
		g_string_append(out, unit);
	return g_string_free(out, FALSE);
}

/* ---- names_encode ------------------------------------------------------ */

static void test_encode_plain_unchanged(void)
{
	assert_encodes("gpu-h100-01.example.org", "gpu-h100-01.example.org");
	assert_encodes("my aggregate (rack 4)", "my aggregate (rack 4)");
	assert_encodes("Zürich-α~1", "Zürich-α~1");
	assert_encodes("hw:cpu_policy", "hw:cpu_policy");
}

static void test_encode_slash(void)
{
	assert_encodes("a/b", "a%2Fb");
	assert_encodes("/", "%2F");
	assert_encodes("//x//", "%2F%2Fx%2F%2F");
	assert_encodes("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd");
}

static void test_encode_percent(void)
{
	assert_encodes("100%", "100%25");
	assert_encodes("%", "%25");
	/* An already escaped-looking name stays distinct from the escape. */
	assert_encodes("a%2Fb", "a%252Fb");
	assert_encodes("%00EMPTY", "%2500EMPTY");
}

static void test_encode_control_chars(void)
{
	assert_encodes("a\tb", "a%09b");
	assert_encodes("line\nbreak", "line%0Abreak");
	assert_encodes("\x01", "%01");
	assert_encodes("\x1f", "%1F");
	assert_encodes("del\x7f", "del%7F");
	assert_encodes("\r\n", "%0D%0A");
	/* U+0085 (NEL), a C1 control, escaped byte by byte. */
	assert_encodes("a\xc2\x85z", "a%C2%85z");
}

static void test_encode_invalid_utf8(void)
{
	assert_encodes("\xff", "%FF");
	assert_encodes("ab\xfe", "ab%FE");
	/* A sequence cut short at the end of the name. */
	assert_encodes("a\xc3", "a%C3");
	/* Overlong encoding of '/': must not come out as a slash. */
	assert_encodes("\xc0\xaf", "%C0%AF");
	/* A UTF-16 surrogate encoded in UTF-8. */
	assert_encodes("\xed\xa0\x80x", "%ED%A0%80x");
	/* Valid characters around an invalid byte survive. */
	assert_encodes("é\x80é", "é%80é");
}

static void test_encode_dots(void)
{
	assert_encodes(".", "%2E");
	assert_encodes("..", "%2E.");
	assert_encodes("...", "%2E..");
	assert_encodes(".hidden", "%2Ehidden");
	assert_encodes("a.b", "a.b");
	assert_encodes("trailing.", "trailing.");
}

static void test_encode_empty(void)
{
	assert_encodes("", "%00EMPTY");
	assert_encodes(NULL, "%00EMPTY");
}

static void test_encode_long_name_fits(void)
{
	g_autofree char *name = repeat("a", 4096);
	g_autofree char *file_name = names_encode(name);
	gsize len = strlen(file_name);

	g_assert_cmpuint(len, <=, NAMES_MAX_BYTES);
	g_assert_null(file_name_problem(file_name));
	/* The cut keeps the start of the name and ends in "~" and a digest. */
	g_assert_true(g_str_has_prefix(file_name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	const char *tilde = strrchr(file_name, '~');

	g_assert_nonnull(tilde);
	g_assert_cmpuint(strlen(tilde + 1), >=, 8);
	for (const char *p = tilde + 1; *p; p++)
		g_assert_true(g_ascii_isxdigit(*p));
}

static void test_encode_long_names_stay_unique(void)
{
	g_autofree char *first = repeat("x", 4096);
	g_autofree char *second = repeat("x", 4096);

	second[4095] = 'y';
	g_autofree char *first_file_name = names_encode(first);
	g_autofree char *second_file_name = names_encode(second);
	g_autofree char *first_again = names_encode(first);

	g_assert_cmpuint(strlen(first_file_name), <=, NAMES_MAX_BYTES);
	g_assert_cmpuint(strlen(second_file_name), <=, NAMES_MAX_BYTES);
	g_assert_cmpstr(first_file_name, !=, second_file_name);
	/* Stable: the same name always gives the same file name. */
	g_assert_cmpstr(first_file_name, ==, first_again);
}

static void test_encode_just_fits_not_cut(void)
{
	g_autofree char *name = repeat("b", NAMES_MAX_BYTES);
	g_autofree char *file_name = names_encode(name);

	g_assert_cmpstr(file_name, ==, name);

	g_autofree char *longer = repeat("b", NAMES_MAX_BYTES + 1);
	g_autofree char *longer_file_name = names_encode(longer);

	g_assert_cmpuint(strlen(longer_file_name), <=, NAMES_MAX_BYTES);
	g_assert_cmpstr(longer_file_name, !=, file_name);
}

/* The cut never splits a %XX escape or a multi-byte character, wherever it
 * lands. */
static void test_encode_long_cut_keeps_sequences_whole(void)
{
	const char *units[] = { "/", "%", "é", "€", "\x01", "\xff", "😀" };

	for (guint u = 0; u < G_N_ELEMENTS(units); u++) {
		for (guint pad = 0; pad < 4; pad++) {
			g_autofree char *body = repeat(units[u], 1500);
			g_autofree char *padding = repeat("p", pad);
			g_autofree char *name = g_strconcat(padding, body, NULL);
			g_autofree char *file_name = names_encode(name);

			if (!check_file_name(name, file_name))
				return;
		}
	}
}

static void test_encode_property_hostile(void)
{
	/* Bytes that exercise every rule, plus multi-byte lead and tail bytes. */
	static const guchar hostile[] = {
		'/', '.', '.', '%', '~', 'a', 'Z', '0', ' ', '\t', '\n', 0x01, 0x1f, 0x7f,
		0x80, 0x85, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xc3, 0xa9, 0xe2, 0x82, 0xac,
		0xed, 0xef, 0xbf, 0xf0, 0x9f, 0x98, 0xf4, 0xf5, 0xfe, 0xff,
	};
	g_autoptr(GRand) rand = g_rand_new_with_seed(PROPERTY_SEED);
	/* file name -> the name it came from: a second name must not map there. */
	g_autoptr(GHashTable) origin = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	for (guint round = 0; round < PROPERTY_ROUNDS; round++) {
		guint len = g_rand_int_range(rand, 0, 8) == 0 ? g_rand_int_range(rand, 200, 1500)
							       : g_rand_int_range(rand, 0, 12);
		GString *built = g_string_sized_new(len + 1);

		for (guint i = 0; i < len; i++) {
			guchar byte = g_rand_int_range(rand, 0, 4) == 0
					      ? (guchar)g_rand_int_range(rand, 1, 256)
					      : hostile[g_rand_int_range(rand, 0, G_N_ELEMENTS(hostile))];

			g_string_append_c(built, (char)byte);
		}
		g_autofree char *name = g_string_free(built, FALSE);
		g_autofree char *file_name = names_encode(name);

		if (!check_file_name(name, file_name))
			return;

		const char *earlier = g_hash_table_lookup(origin, file_name);

		if (earlier != NULL && strcmp(earlier, name) != 0) {
			g_autofree char *a = g_strescape(earlier, NULL);
			g_autofree char *b = g_strescape(name, NULL);

			g_test_fail_printf("\"%.120s\" and \"%.120s\" both encode to the same "
					   "file name", a, b);
			return;
		}
		if (earlier == NULL)
			g_hash_table_insert(origin, g_strdup(file_name), g_strdup(name));
	}
	/* The loop really produced many different names. */
	g_assert_cmpuint(g_hash_table_size(origin), >, PROPERTY_ROUNDS / 2);
}

/* ---- names_encode_unique ----------------------------------------------- */

static void test_unique_no_clash_untouched(void)
{
	const char *names[] = { "gpu-a", "gpu-b", "a/b" };
	const char *ids[] = { "1", "2", "3" };
	g_autoptr(GPtrArray) file_names = names_encode_unique(names, ids, 3);

	g_assert_cmpuint(file_names->len, ==, 3);
	g_assert_cmpstr(file_names->pdata[0], ==, "gpu-a");
	g_assert_cmpstr(file_names->pdata[1], ==, "gpu-b");
	g_assert_cmpstr(file_names->pdata[2], ==, "a%2Fb");
}

static void test_unique_clash_all_suffixed(void)
{
	const char *names[] = { "gpu", "cpu", "gpu", "gpu" };
	const char *ids[] = { "11", "12", "13", "14" };
	g_autoptr(GPtrArray) file_names = names_encode_unique(names, ids, 4);

	g_assert_cmpuint(file_names->len, ==, 4);
	/* Every member of the group is suffixed, the first one too. */
	g_assert_cmpstr(file_names->pdata[0], ==, "gpu~11");
	g_assert_cmpstr(file_names->pdata[1], ==, "cpu");
	g_assert_cmpstr(file_names->pdata[2], ==, "gpu~13");
	g_assert_cmpstr(file_names->pdata[3], ==, "gpu~14");
}

static void test_unique_clash_of_encoded_names(void)
{
	/* NULL and "" both encode to "%00EMPTY": they clash. */
	const char *names[] = { NULL, "", "x" };
	const char *ids[] = { "1", "2", "3" };
	g_autoptr(GPtrArray) file_names = names_encode_unique(names, ids, 3);

	g_assert_cmpstr(file_names->pdata[0], ==, "%00EMPTY~1");
	g_assert_cmpstr(file_names->pdata[1], ==, "%00EMPTY~2");
	g_assert_cmpstr(file_names->pdata[2], ==, "x");
}

static void test_unique_hostile_ids_encoded(void)
{
	const char *names[] = { "dup", "dup", "dup", "dup" };
	const char *ids[] = { "../1", "a/b", NULL, ".x" };
	g_autoptr(GPtrArray) file_names = names_encode_unique(names, ids, 4);

	g_assert_cmpstr(file_names->pdata[0], ==, "dup~%2E.%2F1");
	g_assert_cmpstr(file_names->pdata[1], ==, "dup~a%2Fb");
	g_assert_cmpstr(file_names->pdata[2], ==, "dup~%00EMPTY");
	g_assert_cmpstr(file_names->pdata[3], ==, "dup~%2Ex");
}

/* A suffixed name must not land on another object's untouched name. */
static void test_unique_suffix_does_not_collide(void)
{
	const char *names[] = { "a", "a", "a~1" };
	const char *ids[] = { "1", "2", "3" };
	g_autoptr(GPtrArray) file_names = names_encode_unique(names, ids, 3);

	g_assert_cmpuint(file_names->len, ==, 3);
	g_assert_cmpstr(file_names->pdata[0], !=, file_names->pdata[1]);
	g_assert_cmpstr(file_names->pdata[0], !=, file_names->pdata[2]);
	g_assert_cmpstr(file_names->pdata[1], !=, file_names->pdata[2]);
}

static void test_unique_long_clash_fits(void)
{
	g_autofree char *name = repeat("n", 300);
	const char *names[] = { name, name };
	const char *ids[] = { "id-1", "id-2" };
	g_autoptr(GPtrArray) file_names = names_encode_unique(names, ids, 2);

	g_assert_null(file_name_problem(file_names->pdata[0]));
	g_assert_null(file_name_problem(file_names->pdata[1]));
	g_assert_cmpstr(file_names->pdata[0], !=, file_names->pdata[1]);
}

static void test_unique_empty_set(void)
{
	g_autoptr(GPtrArray) file_names = names_encode_unique(NULL, NULL, 0);

	g_assert_nonnull(file_names);
	g_assert_cmpuint(file_names->len, ==, 0);
}

/* One round of the clash property; FALSE (and the test failed) on a bad result. */
static gboolean unique_round_ok(GRand *rand, const char *const *pool, guint pool_size, guint round)
{
	guint n = g_rand_int_range(rand, 1, 13);
	const char *names[12];
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) plain = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < n; i++) {
		names[i] = pool[g_rand_int_range(rand, 0, pool_size)];
		g_ptr_array_add(ids, g_rand_boolean(rand) ? g_strdup_printf("%u", i)
							  : g_strdup_printf("../%u/x", i));
		g_ptr_array_add(plain, names_encode(names[i]));
	}
	g_autoptr(GPtrArray) file_names =
		names_encode_unique(names, (const char *const *)ids->pdata, n);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	g_assert_cmpuint(file_names->len, ==, n);
	for (guint i = 0; i < n; i++) {
		const char *file_name = file_names->pdata[i];
		guint sharing = 0;

		if (!check_file_name(names[i], file_name))
			return FALSE;
		if (!g_hash_table_add(seen, (gpointer)file_name)) {
			g_test_fail_printf("round %u: file name \"%.120s\" given twice", round,
					   file_name);
			return FALSE;
		}
		for (guint j = 0; j < n; j++)
			sharing += strcmp(plain->pdata[i], plain->pdata[j]) == 0;
		/* Alone: the plain encoding; in a clash group: something else. */
		if (sharing == 1)
			g_assert_cmpstr(file_name, ==, plain->pdata[i]);
		else
			g_assert_cmpstr(file_name, !=, plain->pdata[i]);
	}
	return TRUE;
}

static void test_unique_property(void)
{
	g_autofree char *long_name = repeat("L", 300);
	/* No '~' in these names: clashes come only from equal encodings. */
	const char *pool[] = { "gpu", "gpu/x", "", NULL, ".", "..", "%", "a.b", long_name };
	g_autoptr(GRand) rand = g_rand_new_with_seed(PROPERTY_SEED);

	for (guint round = 0; round < PROPERTY_ROUNDS / 4; round++)
		if (!unique_round_ok(rand, pool, G_N_ELEMENTS(pool), round))
			return;
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/names/encode/plain-unchanged", test_encode_plain_unchanged);
	g_test_add_func("/names/encode/slash", test_encode_slash);
	g_test_add_func("/names/encode/percent", test_encode_percent);
	g_test_add_func("/names/encode/control-chars", test_encode_control_chars);
	g_test_add_func("/names/encode/invalid-utf8", test_encode_invalid_utf8);
	g_test_add_func("/names/encode/dots", test_encode_dots);
	g_test_add_func("/names/encode/empty", test_encode_empty);
	g_test_add_func("/names/encode/long-name-fits", test_encode_long_name_fits);
	g_test_add_func("/names/encode/long-names-stay-unique", test_encode_long_names_stay_unique);
	g_test_add_func("/names/encode/just-fits-not-cut", test_encode_just_fits_not_cut);
	g_test_add_func("/names/encode/long-cut-keeps-sequences-whole",
			test_encode_long_cut_keeps_sequences_whole);
	g_test_add_func("/names/encode/property-hostile", test_encode_property_hostile);
	g_test_add_func("/names/unique/no-clash-untouched", test_unique_no_clash_untouched);
	g_test_add_func("/names/unique/clash-all-suffixed", test_unique_clash_all_suffixed);
	g_test_add_func("/names/unique/clash-of-encoded-names", test_unique_clash_of_encoded_names);
	g_test_add_func("/names/unique/hostile-ids-encoded", test_unique_hostile_ids_encoded);
	g_test_add_func("/names/unique/suffix-does-not-collide", test_unique_suffix_does_not_collide);
	g_test_add_func("/names/unique/long-clash-fits", test_unique_long_clash_fits);
	g_test_add_func("/names/unique/empty-set", test_unique_empty_set);
	g_test_add_func("/names/unique/property", test_unique_property);

	return g_test_run();
}
