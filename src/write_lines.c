/* write_lines: reassembly of control-file lines (see infrafs/write_lines.h). */
#include "infrafs/write_lines.h"

#include <string.h>

struct pending_line {
	GString *text;         /* the bytes after the writer's last newline */
	guint64 next_offset;   /* where its continuation must start */
	guint64 last_used;     /* write_lines.clock when last fed */
};

struct write_lines {
	GMutex lock;           /* guards everything below */
	GHashTable *pending;   /* "writer:path" -> struct pending_line (owned) */
	guint64 clock;         /* counts feeds, to find the oldest line */
	write_lines_classify_fn classify;
	gpointer classify_data;
};

static void pending_line_free(gpointer data)
{
	struct pending_line *line = data;

	g_string_free(line->text, TRUE);
	g_free(line);
}

static char *key_of(const char *path, guint64 writer)
{
	return g_strdup_printf("%" G_GUINT64_FORMAT ":%s", writer, path);
}

struct write_lines *write_lines_new(write_lines_classify_fn classify, gpointer user_data)
{
	struct write_lines *lines = g_new0(struct write_lines, 1);

	g_mutex_init(&lines->lock);
	lines->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, pending_line_free);
	lines->classify = classify;
	lines->classify_data = user_data;
	return lines;
}

void write_lines_free(struct write_lines *lines)
{
	if (lines == NULL)
		return;
	g_hash_table_unref(lines->pending);
	g_mutex_clear(&lines->lock);
	g_free(lines);
}

/* Called with the lock held: make room for one more line. */
static void drop_oldest(struct write_lines *lines)
{
	GHashTableIter iter;
	gpointer key, value;
	gpointer oldest_key = NULL;
	guint64 oldest = G_MAXUINT64;

	g_hash_table_iter_init(&iter, lines->pending);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		const struct pending_line *line = value;

		if (line->last_used < oldest) {
			oldest = line->last_used;
			oldest_key = key;
		}
	}
	if (oldest_key != NULL)
		g_hash_table_remove(lines->pending, oldest_key);
}

GString *write_lines_feed(struct write_lines *lines, const char *path, guint64 writer,
			  guint64 offset, const char *data, gsize len)
{
	g_autofree char *key = key_of(path, writer);
	GString *text = g_string_new(NULL);

	g_mutex_lock(&lines->lock);
	struct pending_line *earlier = g_hash_table_lookup(lines->pending, key);

	if (earlier != NULL && earlier->next_offset == offset)
		g_string_append_len(text, earlier->text->str, (gssize)earlier->text->len);
	g_hash_table_remove(lines->pending, key);
	g_string_append_len(text, data, (gssize)len);

	const char *last_newline = memrchr(text->str, '\n', text->len);
	gsize complete = last_newline ? (gsize)(last_newline - text->str) + 1 : 0;
	gsize tail = text->len - complete;
	enum control_fragment status = CONTROL_FRAGMENT_COMPLETE;

	if (tail > CONTROL_MAX_LINE_BYTES)
		status = CONTROL_FRAGMENT_INVALID;
	else if (tail > 0)
		status = lines->classify(path, text->str + complete, tail, lines->classify_data);
	if (tail > 0 && status != CONTROL_FRAGMENT_INVALID) {
		struct pending_line *line = g_new0(struct pending_line, 1);

		line->text = g_string_new_len(text->str + complete, (gssize)tail);
		line->next_offset = offset + len;
		line->last_used = ++lines->clock;
		if (g_hash_table_size(lines->pending) >= WRITE_LINES_MAX_PENDING)
			drop_oldest(lines);
		g_hash_table_insert(lines->pending, g_steal_pointer(&key), line);
	}
	g_mutex_unlock(&lines->lock);
	/* A line that may still become a command waits; a whole or a hopeless
	 * one goes with the rest, so that validation names what is wrong. */
	if (status == CONTROL_FRAGMENT_PARTIAL)
		g_string_truncate(text, complete);
	return text;
}

void write_lines_forget(struct write_lines *lines, const char *path, guint64 writer)
{
	g_autofree char *key = key_of(path, writer);

	g_mutex_lock(&lines->lock);
	g_hash_table_remove(lines->pending, key);
	g_mutex_unlock(&lines->lock);
}

guint write_lines_pending(struct write_lines *lines)
{
	g_mutex_lock(&lines->lock);
	guint n = g_hash_table_size(lines->pending);

	g_mutex_unlock(&lines->lock);
	return n;
}
