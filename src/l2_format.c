/* l2_format: keys, entries and messages of the Redis cache (see
 * infrafs/l2_format.h). */
#include "infrafs/l2_format.h"

#include <string.h>

#include "infrafs/errors.h"

#define L2_MAGIC "infrafs-l2"
#define L2_MESSAGE_MAGIC "infrafs-invalidate"

static guint64 fnv1a(const char *data, gsize len, guint64 hash)
{
	if (hash == 0)
		hash = 14695981039346656037ULL;
	for (gsize i = 0; i < len; i++) {
		hash ^= (guchar)data[i];
		hash *= 1099511628211ULL;
	}
	return hash;
}

char *l2_format_scope(const struct os_credentials *os)
{
	const char *const parts[] = {
		os->auth_url, os->region_name, os->interface ? os->interface : "public",
		os->user_id, os->username, os->user_domain_id, os->user_domain_name,
		os->project_id, os->project_name, os->project_domain_id, os->project_domain_name,
		os->application_credential_id,
	};
	g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);

	/* Each part with a terminator, so that ("ab", "c") and ("a", "bc")
	 * differ, and an absent part differs from an empty one. */
	for (gsize i = 0; i < G_N_ELEMENTS(parts); i++) {
		if (parts[i] == NULL) {
			g_checksum_update(sha, (const guchar *)"\x01", 1);
			continue;
		}
		g_checksum_update(sha, (const guchar *)parts[i], (gssize)strlen(parts[i]));
		g_checksum_update(sha, (const guchar *)"\0", 1);
	}
	return g_strndup(g_checksum_get_string(sha), L2_FORMAT_SCOPE_CHARS);
}

char *l2_format_class_tag(enum data_class data_class, const char *netbox_url)
{
	if (data_class != CLASS_NETBOX)
		return g_strdup(classes_name(data_class));
	g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
								 netbox_url ? netbox_url : "", -1);

	return g_strdup_printf("%s@%.8s", classes_name(data_class), digest);
}

char *l2_format_key(const char *scope, const char *kind, const char *class_tag, const char *key)
{
	return g_strdup_printf("infrafs:%d:%s:%s:%s%s%s", L2_FORMAT_VERSION, scope, kind,
			       class_tag, key ? ":" : "", key ? key : "");
}

char *l2_format_channel(const char *scope)
{
	return g_strdup_printf("infrafs:%d:%s:invalidate", L2_FORMAT_VERSION, scope);
}

GBytes *l2_format_encode(const char *redis_key, guint64 epoch, gint64 fetched_wall_us,
			 const char *payload, gsize payload_len)
{
	GString *out = g_string_sized_new(payload_len + 256);

	g_string_printf(out,
			L2_MAGIC " %d\nkey %s\nepoch %" G_GUINT64_FORMAT "\nfetched %" G_GINT64_FORMAT
				 "\nlength %" G_GSIZE_FORMAT "\n",
			L2_FORMAT_VERSION, redis_key, epoch, fetched_wall_us, payload_len);
	guint64 checksum = fnv1a(payload, payload_len, fnv1a(out->str, out->len, 0));

	g_string_append_printf(out, "checksum %016" G_GINT64_MODIFIER "x\n\n", checksum);
	g_string_append_len(out, payload, (gssize)payload_len);
	return g_string_free_to_bytes(out);
}

static gboolean refuse(GError **error, const char *why)
{
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE, "L2 entry refused: %s", why);
	return FALSE;
}

/* The line at *cursor (without its newline), advancing past it; NULL when
 * there is no complete line. */
static char *next_line(const char **cursor, const char *end)
{
	const char *newline = memchr(*cursor, '\n', (gsize)(end - *cursor));

	if (newline == NULL)
		return NULL;
	char *line = g_strndup(*cursor, (gsize)(newline - *cursor));

	*cursor = newline + 1;
	return line;
}

/* "<name> <unsigned decimal>" into *value. */
static gboolean field_number(const char *line, const char *name, guint64 *value)
{
	gsize name_len = strlen(name);

	if (line == NULL || strncmp(line, name, name_len) != 0 || line[name_len] != ' ')
		return FALSE;
	const char *digits = line + name_len + 1;

	return *digits != '\0' && strspn(digits, "0123456789") == strlen(digits) &&
	       strlen(digits) <= 19 && g_ascii_string_to_unsigned(digits, 10, 0, G_MAXUINT64,
								   value, NULL);
}

gboolean l2_format_decode(const char *redis_key, const char *data, gsize len,
			  struct l2_entry *entry, GError **error)
{
	const char *end = data + MIN(len, L2_FORMAT_MAX_HEADER_BYTES);
	const char *cursor = data;
	g_autofree char *magic = next_line(&cursor, end);
	g_autofree char *key = next_line(&cursor, end);
	g_autofree char *epoch = next_line(&cursor, end);
	g_autofree char *fetched = next_line(&cursor, end);
	g_autofree char *length = next_line(&cursor, end);
	gsize covered = (gsize)(cursor - data);
	g_autofree char *checksum = next_line(&cursor, end);
	g_autofree char *blank = next_line(&cursor, end);
	g_autofree char *expected_magic = g_strdup_printf(L2_MAGIC " %d", L2_FORMAT_VERSION);
	guint64 payload_len = 0, fetched_us = 0;

	/* A NUL would end a line's text early, letting two spellings pass. */
	if (memchr(data, '\0', (gsize)(cursor - data)) != NULL)
		return refuse(error, "malformed header");
	if (magic == NULL || !g_str_has_prefix(magic, L2_MAGIC " "))
		return refuse(error, "not an infrafs entry");
	if (strcmp(magic, expected_magic) != 0)
		return refuse(error, "another format version");
	if (blank == NULL)
		return refuse(error, "header cut short");
	if (!g_str_has_prefix(key, "key ") || strcmp(key + 4, redis_key) != 0)
		return refuse(error, "written under another key");
	if (!field_number(epoch, "epoch", &entry->epoch) ||
	    !field_number(fetched, "fetched", &fetched_us) || fetched_us > G_MAXINT64 ||
	    !field_number(length, "length", &payload_len) || !g_str_has_prefix(checksum, "checksum ") ||
	    *blank != '\0')
		return refuse(error, "malformed header");
	gsize header_len = (gsize)(cursor - data);

	if (len - header_len != payload_len)
		return refuse(error, len - header_len < payload_len ? "payload cut short"
								    : "payload too long");
	guint64 sum = fnv1a(cursor, payload_len, fnv1a(data, covered, 0));
	g_autofree char *sum_text = g_strdup_printf("%016" G_GINT64_MODIFIER "x", sum);

	if (strcmp(checksum + 9, sum_text) != 0)
		return refuse(error, "checksum mismatch");
	entry->fetched_wall_us = (gint64)fetched_us;
	entry->payload = cursor;
	entry->payload_len = payload_len;
	return TRUE;
}

char *l2_format_message(const char *origin, const char *patterns, gsize len)
{
	g_autofree char *text = g_strndup(patterns, len);

	return g_strdup_printf(L2_MESSAGE_MAGIC " %d %s\n%s", L2_FORMAT_VERSION, origin, text);
}

gboolean l2_format_parse_message(const char *data, gsize len, char **origin,
				 const char **patterns, gsize *patterns_len)
{
	const char *newline = memchr(data, '\n', MIN(len, 256));

	if (newline == NULL)
		return FALSE;
	g_autofree char *first = g_strndup(data, (gsize)(newline - data));
	g_auto(GStrv) words = g_strsplit(first, " ", -1);
	g_autofree char *version = g_strdup_printf("%d", L2_FORMAT_VERSION);

	if (g_strv_length(words) != 3 || strcmp(words[0], L2_MESSAGE_MAGIC) != 0 ||
	    strcmp(words[1], version) != 0 || *words[2] == '\0')
		return FALSE;
	*origin = g_strdup(words[2]);
	*patterns = newline + 1;
	*patterns_len = len - (gsize)(newline + 1 - data);
	return TRUE;
}
