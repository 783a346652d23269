/* log: stderr log writer and secret masking (see infrafs/log.h). */
#include "infrafs/log.h"

#include <stdio.h>
#include <syslog.h>
#include <string.h>

static gboolean debug_enabled;
static gboolean to_syslog;

static const char *level_word(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "error";
	if (level & G_LOG_LEVEL_CRITICAL)
		return "critical";
	if (level & G_LOG_LEVEL_WARNING)
		return "warning";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "notice";
	if (level & G_LOG_LEVEL_INFO)
		return "info";
	return "debug";
}

static GLogWriterOutput write_log_line(GLogLevelFlags level, const GLogField *fields,
				       gsize n_fields, gpointer user_data)
{
	const char *message = NULL;

	if ((level & G_LOG_LEVEL_DEBUG) && !debug_enabled)
		return G_LOG_WRITER_HANDLED;
	for (gsize i = 0; i < n_fields; i++)
		if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;

	if (to_syslog) {
		int priority = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) ? LOG_ERR
			       : (level & G_LOG_LEVEL_WARNING)			       ? LOG_WARNING
			       : (level & G_LOG_LEVEL_MESSAGE)			       ? LOG_NOTICE
			       : (level & G_LOG_LEVEL_INFO)			       ? LOG_INFO
											       : LOG_DEBUG;

		syslog(priority, "%s", message ? message : "");
		return (level & G_LOG_FLAG_FATAL) ? G_LOG_WRITER_UNHANDLED : G_LOG_WRITER_HANDLED;
	}
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *stamp = g_date_time_format(now, "%H:%M:%S.%f");

	/* %f gives microseconds; milliseconds are enough for a log. */
	if (stamp != NULL && strlen(stamp) > 12)
		stamp[12] = '\0';
	fprintf(stderr, "%s infrafs[%s]: %s\n", stamp ? stamp : "?", level_word(level),
		message ? message : "");
	fflush(stderr);
	if (level & G_LOG_FLAG_FATAL)
		return G_LOG_WRITER_UNHANDLED;
	return G_LOG_WRITER_HANDLED;
}

void log_init(gboolean debug)
{
	debug_enabled = debug || g_getenv("G_MESSAGES_DEBUG") != NULL;
	g_log_set_writer_func(write_log_line, NULL, NULL);
}

void secret_string_free(secret_string *secret)
{
	if (secret == NULL)
		return;
	memset(secret, 0, strlen(secret));
	g_free(secret);
}

void log_use_syslog(void)
{
	openlog("infrafs", LOG_PID, LOG_DAEMON);
	to_syslog = TRUE;
}

char *log_mask_secret(const char *secret)
{
	if (secret == NULL || *secret == '\0')
		return g_strdup("<empty>");

	g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, secret, -1);

	return g_strdup_printf("<secret len=%zu sha256:%.8s>", strlen(secret), digest);
}
