/* names: the file-name encoder (see infrafs/names.h). */
#include "infrafs/names.h"

#include <string.h>

/* An empty backend name still needs a visible, stable file name. */
#define EMPTY_NAME "%00EMPTY"
/* Room kept at the end of a cut name for "~" and a digest. */
#define DIGEST_CHARS 16

static void append_escape(GString *out, guchar byte)
{
	g_string_append_printf(out, "%%%02X", byte);
}

static gboolean needs_escape(gunichar c)
{
	return c == '/' || c == '%' || c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0);
}

/* Escape one name without the length rule. */
static GString *escape_name(const char *name)
{
	GString *out = g_string_sized_new(strlen(name) + 8);
	const char *p = name;
	const char *end = name + strlen(name);

	while (p < end) {
		gunichar c = g_utf8_get_char_validated(p, end - p);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			/* Not UTF-8: escape the byte and resynchronise. */
			append_escape(out, (guchar)*p);
			p++;
			continue;
		}
		const char *next = g_utf8_next_char(p);

		if (needs_escape(c)) {
			for (const char *b = p; b < next; b++)
				append_escape(out, (guchar)*b);
		} else {
			g_string_append_len(out, p, next - p);
		}
		p = next;
	}
	/* "." and ".." and hidden names: the leading dot is escaped. */
	if (out->len > 0 && out->str[0] == '.') {
		g_string_erase(out, 0, 1);
		g_string_prepend(out, "%2E");
	}
	return out;
}

/* Cut `out` to fit NAME_MAX with a digest of the whole backend name, without
 * splitting a UTF-8 sequence or a %XX escape. */
static void shorten(GString *out, const char *name)
{
	g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, name, -1);
	gsize keep = NAMES_MAX_BYTES - DIGEST_CHARS - 1;

	while (keep > 0 && (out->str[keep] & 0xc0) == 0x80)
		keep--;
	if (keep >= 1 && out->str[keep - 1] == '%')
		keep -= 1;
	else if (keep >= 2 && out->str[keep - 2] == '%')
		keep -= 2;
	g_string_truncate(out, keep);
	g_string_append_printf(out, "~%.*s", DIGEST_CHARS, digest);
}

char *names_encode(const char *name)
{
	if (name == NULL || *name == '\0')
		return g_strdup(EMPTY_NAME);

	GString *out = escape_name(name);

	if (out->len > NAMES_MAX_BYTES)
		shorten(out, name);
	return g_string_free(out, FALSE);
}

/* `base` with "~<n>" on the end, cut to fit a file name. */
static char *numbered(const char *base, guint n)
{
	g_autofree char *suffix = g_strdup_printf("~%u", n);
	gsize keep = MIN(strlen(base), NAMES_MAX_BYTES - strlen(suffix));

	/* Do not split a UTF-8 sequence or a %XX escape. */
	while (keep > 0 && (base[keep] & 0xc0) == 0x80)
		keep--;
	if (keep >= 1 && base[keep - 1] == '%')
		keep -= 1;
	else if (keep >= 2 && base[keep - 2] == '%')
		keep -= 2;
	g_autofree char *head = g_strndup(base, keep);

	return g_strconcat(head, suffix, NULL);
}

GPtrArray *names_encode_unique(const char *const *names, const char *const *ids, guint n)
{
	GPtrArray *encoded = g_ptr_array_new_full(n, g_free);
	g_autoptr(GHashTable) uses = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < n; i++) {
		char *file_name = names_encode(names[i]);
		guint count = GPOINTER_TO_UINT(g_hash_table_lookup(uses, file_name));

		g_ptr_array_add(encoded, file_name);
		g_hash_table_insert(uses, g_strdup(file_name), GUINT_TO_POINTER(count + 1));
	}
	/* Every member of a clash gets "~<id>", so none of them looks primary. */
	for (guint i = 0; i < n; i++) {
		const char *file_name = encoded->pdata[i];

		if (GPOINTER_TO_UINT(g_hash_table_lookup(uses, file_name)) < 2)
			continue;
		g_autofree char *id = names_encode(ids[i]);
		g_autofree char *suffixed = g_strconcat(file_name, "~", id, NULL);
		g_autofree char *joined = g_strconcat(names[i] ? names[i] : "", "~", id, NULL);

		g_free(encoded->pdata[i]);
		encoded->pdata[i] = strlen(suffixed) > NAMES_MAX_BYTES ? names_encode(joined)
								: g_steal_pointer(&suffixed);
	}
	/* A suffix can recreate a name already taken ({"a", "a", "a~1"} with ids
	 * 1, 2, 3), and ids may repeat: number the later repeats. */
	g_autoptr(GHashTable) final_names = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	/* Replaced strings may still be keys of the sets above: free them last. */
	g_autoptr(GPtrArray) replaced = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < n; i++)
		g_hash_table_add(final_names, encoded->pdata[i]);
	for (guint i = 0; i < n; i++) {
		if (!g_hash_table_contains(seen, encoded->pdata[i])) {
			g_hash_table_add(seen, encoded->pdata[i]);
			continue;
		}
		char *candidate = NULL;

		for (guint k = 2; candidate == NULL || g_hash_table_contains(final_names, candidate);
		     k++) {
			g_free(candidate);
			candidate = numbered(encoded->pdata[i], k);
		}
		g_ptr_array_add(replaced, encoded->pdata[i]);
		encoded->pdata[i] = candidate;
		g_hash_table_add(final_names, candidate);
		g_hash_table_add(seen, candidate);
	}
	return encoded;
}
