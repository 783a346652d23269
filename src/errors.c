/* errors: error domain, GError -> errno table, ring of recent errors. */
#include "infrafs/errors.h"

#include <errno.h>

#include "infrafs/clock.h"

G_DEFINE_QUARK(infrafs-error-quark, infrafs_error)

static const struct {
	int code;
	int errno_value;
	const char *name;
} error_table[] = {
	{ INFRAFS_ERROR_NOT_FOUND, ENOENT, "not_found" },
	{ INFRAFS_ERROR_BACKEND, EIO, "backend" },
	{ INFRAFS_ERROR_UNAVAILABLE, EIO, "unavailable" },
	{ INFRAFS_ERROR_TIMEOUT, EIO, "timeout" },
	{ INFRAFS_ERROR_BAD_RESPONSE, EIO, "bad_response" },
	{ INFRAFS_ERROR_AUTH, EACCES, "auth" },
	{ INFRAFS_ERROR_FORBIDDEN, EACCES, "forbidden" },
	{ INFRAFS_ERROR_INVALID, EINVAL, "invalid" },
	{ INFRAFS_ERROR_CONFIG, EINVAL, "config" },
	{ INFRAFS_ERROR_IS_DIR, EISDIR, "is_dir" },
	{ INFRAFS_ERROR_NOT_DIR, ENOTDIR, "not_dir" },
	{ INFRAFS_ERROR_READ_ONLY, EACCES, "read_only" },
};

int errors_to_errno(const GError *error)
{
	if (error == NULL || error->domain != INFRAFS_ERROR)
		return EIO;
	for (gsize i = 0; i < G_N_ELEMENTS(error_table); i++)
		if (error_table[i].code == error->code)
			return error_table[i].errno_value;
	return EIO;
}

const char *errors_code_name(int code)
{
	for (gsize i = 0; i < G_N_ELEMENTS(error_table); i++)
		if (error_table[i].code == code)
			return error_table[i].name;
	return "unknown";
}

struct error_record {
	gint64 wall_us;
	char *what;
	int code;
	char *message;
};

struct error_log {
	GMutex lock;             /* guards everything below */
	struct error_record *ring;
	guint capacity;
	guint next;              /* slot the next record goes into */
	guint64 total;
};

struct error_log *error_log_new(guint capacity)
{
	struct error_log *log = g_new0(struct error_log, 1);

	g_mutex_init(&log->lock);
	log->capacity = MAX(capacity, 1);
	log->ring = g_new0(struct error_record, log->capacity);
	return log;
}

static void error_record_clear(struct error_record *record)
{
	g_clear_pointer(&record->what, g_free);
	g_clear_pointer(&record->message, g_free);
}

void error_log_free(struct error_log *log)
{
	if (log == NULL)
		return;
	for (guint i = 0; i < log->capacity; i++)
		error_record_clear(&log->ring[i]);
	g_free(log->ring);
	g_mutex_clear(&log->lock);
	g_free(log);
}

void error_log_add(struct error_log *log, const char *what, const GError *error)
{
	g_mutex_lock(&log->lock);
	struct error_record *record = &log->ring[log->next];

	error_record_clear(record);
	record->wall_us = clock_wall_us();
	record->what = g_strdelimit(g_strdup(what), "\r\n\t ", '_');
	record->code = error->domain == INFRAFS_ERROR ? error->code : INFRAFS_ERROR_BACKEND;
	/* One record, one line: the message may quote a backend's body. */
	record->message = g_strdelimit(g_strdup(error->message), "\r\n\t", ' ');
	log->next = (log->next + 1) % log->capacity;
	log->total++;
	g_mutex_unlock(&log->lock);
}

GBytes *error_log_render(struct error_log *log)
{
	GString *out = g_string_new(NULL);

	g_mutex_lock(&log->lock);
	for (guint i = 0; i < log->capacity; i++) {
		const struct error_record *record = &log->ring[(log->next + i) % log->capacity];

		if (record->what == NULL)
			continue;
		g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(record->wall_us / G_USEC_PER_SEC);
		g_autofree char *stamp = g_date_time_format_iso8601(when);

		g_string_append_printf(out, "%s %s %s %s\n", stamp, record->what,
				       errors_code_name(record->code), record->message);
	}
	g_mutex_unlock(&log->lock);
	return g_string_free_to_bytes(out);
}

guint64 error_log_count(struct error_log *log)
{
	g_mutex_lock(&log->lock);
	guint64 total = log->total;
	g_mutex_unlock(&log->lock);
	return total;
}
