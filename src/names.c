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

GPtrArray *names_encode_unique(const char *const *names, const char *const *ids, guint n)
{
	GPtrArray *encoded = g_ptr_array_new_full(n, g_free);
	g_autoptr(GHashTable) uses = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; i < n; i++) {
		char *file_name = names_encode(names[i]);

		g_ptr_array_add(encoded, file_name);
		guint count = GPOINTER_TO_UINT(g_hash_table_lookup(uses, file_name));
		g_hash_table_insert(uses, file_name, GUINT_TO_POINTER(count + 1));
	}
	for (guint i = 0; i < n; i++) {
		const char *file_name = encoded->pdata[i];

		if (GPOINTER_TO_UINT(g_hash_table_lookup(uses, file_name)) < 2)
			continue;
		g_autofree char *id = names_encode(ids[i]);
		g_autofree char *joined = g_strconcat(names[i] ? names[i] : "", "~", id, NULL);
		g_autofree char *suffixed = g_strconcat(file_name, "~", id, NULL);
		char *unique = strlen(suffixed) > NAMES_MAX_BYTES ? names_encode(joined)
								  : g_steal_pointer(&suffixed);

		/* `uses` points into the old string: keep it alive until done. */
		encoded->pdata[i] = unique;
		g_ptr_array_add(encoded, (gpointer)file_name);
	}
	g_ptr_array_set_size(encoded, n);
	return encoded;
}
