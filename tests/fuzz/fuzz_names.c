/* fuzz_names: the name encoder (infrafs/names.h) on arbitrary bytes.
 *
 * The input is a list of backend names separated by NUL bytes (a backend
 * name never holds a NUL). Each one is encoded alone, and the list is
 * given to names_encode_unique() twice: as it is, and doubled with ids
 * that repeat, so that every clash-resolving branch is reachable.
 *
 * Properties: every file name is one valid path component (see
 * fuzz_component_problem()); names_encode() is deterministic; a name that
 * was not cut decodes back to the backend name byte for byte; a cut one
 * ends in "~" and the first 16 hex digits of the SHA-256 of the whole name,
 * after an escaped head that is a prefix of the name; distinct names give
 * distinct file names; names_encode_unique() gives one valid, distinct file
 * name per object. */
#include <string.h>

#include "fuzz_common.h"
#include "infrafs/names.h"

/* Names per input: names_encode_unique() is quadratic in clashes. */
#define MAX_NAMES 16
#define DIGEST_CHARS 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup_logging();
	return 0;
}

/* "%XX" escapes back to bytes; everything else as it is. */
static GString *decode(const char *text, gsize len)
{
	GString *out = g_string_sized_new(len);

	for (gsize i = 0; i < len; i++) {
		if (text[i] == '%' && i + 2 < len && g_ascii_isxdigit(text[i + 1]) &&
		    g_ascii_isxdigit(text[i + 2])) {
			g_string_append_c(out, (char)(g_ascii_xdigit_value(text[i + 1]) * 16 +
						      g_ascii_xdigit_value(text[i + 2])));
			i += 2;
		} else {
			g_string_append_c(out, text[i]);
		}
	}
	return out;
}

static void check_component(const char *what, const char *name, const char *file_name)
{
	const char *problem = fuzz_component_problem(file_name, NAMES_MAX_BYTES);

	FUZZ_CHECK(problem == NULL, "%s(\"%s\") = \"%s\": %s", what, fuzz_shown(name),
		   fuzz_shown(file_name), problem);
}

/* names_encode(name) with everything the header promises of it. */
static char *encode_checked(const char *name)
{
	char *file_name = names_encode(name);
	g_autofree char *again = names_encode(name);

	FUZZ_CHECK(file_name != NULL, "names_encode(\"%s\") is NULL", fuzz_shown(name));
	check_component("names_encode", name, file_name);
	FUZZ_CHECK(strcmp(file_name, again) == 0, "names_encode(\"%s\") differs between calls",
		   fuzz_shown(name));
	if (*name == '\0') {
		FUZZ_CHECK(strcmp(file_name, "%00EMPTY") == 0, "the empty name gives \"%s\"",
			   fuzz_shown(file_name));
		return file_name;
	}

	gsize len = strlen(file_name);
	g_autoptr(GString) decoded = decode(file_name, len);

	if (decoded->len == strlen(name) && memcmp(decoded->str, name, decoded->len) == 0)
		return file_name;

	/* Not a round trip: it must be a name cut to fit, with its digest. */
	FUZZ_CHECK(len > DIGEST_CHARS + 1 && file_name[len - DIGEST_CHARS - 1] == '~',
		   "\"%s\" does not decode to \"%s\" and has no digest", fuzz_shown(file_name),
		   fuzz_shown(name));
	g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, name, -1);

	FUZZ_CHECK(strncmp(file_name + len - DIGEST_CHARS, digest, DIGEST_CHARS) == 0,
		   "\"%s\": digest is not that of \"%s\"", fuzz_shown(file_name), fuzz_shown(name));
	/* The head is cut before a whole character or escape, so never more
	 * than 3 bytes (of a character) short of NAME_MAX. */
	FUZZ_CHECK(len >= NAMES_MAX_BYTES - 3, "\"%s\" (%zu bytes) was cut too short",
		   fuzz_shown(file_name), len);
	g_autoptr(GString) head = decode(file_name, len - DIGEST_CHARS - 1);

	FUZZ_CHECK(head->len < strlen(name) && memcmp(head->str, name, head->len) == 0,
		   "the head of \"%s\" is not a prefix of \"%s\"", fuzz_shown(file_name),
		   fuzz_shown(name));
	return file_name;
}

static void check_unique(const char *const *names, const char *const *ids, guint n)
{
	g_autoptr(GPtrArray) file_names = names_encode_unique(names, ids, n);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	FUZZ_CHECK(file_names != NULL && file_names->len == n, "names_encode_unique gave %u of %u",
		   file_names ? file_names->len : 0, n);
	for (guint i = 0; i < n; i++) {
		const char *file_name = file_names->pdata[i];

		check_component("names_encode_unique", names[i], file_name);
		FUZZ_CHECK(g_hash_table_add(seen, (gpointer)file_name),
			   "names_encode_unique gave \"%s\" twice", fuzz_shown(file_name));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) encoded = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) by_file_name = g_hash_table_new(g_str_hash, g_str_equal);
	const char *text = (const char *)data;
	const char *end = text + size;

	/* NUL-separated names; an empty input is one empty name. */
	for (const char *p = text; names->len < MAX_NAMES;) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		const char *stop = nul ? nul : end;

		g_ptr_array_add(names, g_strndup(p, (gsize)(stop - p)));
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	guint n = names->len;

	for (guint i = 0; i < n; i++) {
		const char *name = names->pdata[i];
		char *file_name = encode_checked(name);
		const char *other = g_hash_table_lookup(by_file_name, file_name);

		g_ptr_array_add(encoded, file_name);
		if (other != NULL)
			FUZZ_CHECK(strcmp(other, name) == 0, "\"%s\" and \"%s\" both give \"%s\"",
				   fuzz_shown(name), fuzz_shown(other), fuzz_shown(file_name));
		g_hash_table_insert(by_file_name, file_name, (gpointer)name);
	}

	/* As they are, each with the next one's name as its id. */
	g_autofree const char **ids = g_new0(const char *, n);

	for (guint i = 0; i < n; i++)
		ids[i] = names->pdata[(i + 1) % n];
	check_unique((const char *const *)names->pdata, ids, n);

	/* Doubled: every name clashes at least once, and ids repeat (NULL,
	 * "1", NULL, "1", ...), as with objects that lack an id. */
	g_autofree const char **twice = g_new0(const char *, 2 * n);
	g_autofree const char **twice_ids = g_new0(const char *, 2 * n);

	for (guint i = 0; i < 2 * n; i++) {
		twice[i] = names->pdata[i % n];
		twice_ids[i] = i % 2 ? "1" : NULL;
	}
	check_unique(twice, twice_ids, 2 * n);
	return 0;
}
