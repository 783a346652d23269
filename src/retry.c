/* retry: the retry policy (see infrafs/retry.h). */
#include "infrafs/retry.h"

#include <string.h>
#include <time.h>

#include "infrafs/errors.h"

gboolean retry_status_is_transient(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

gboolean retry_error_is_transient(const GError *error)
{
	return error != NULL && error->domain == INFRAFS_ERROR &&
	       (error->code == INFRAFS_ERROR_UNAVAILABLE || error->code == INFRAFS_ERROR_TIMEOUT);
}

guint retry_backoff_ms(guint retry, double random_unit)
{
	guint64 ceiling = RETRY_BASE_MS;

	for (guint i = 1; i < retry && ceiling < RETRY_CAP_MS; i++)
		ceiling *= 2;
	ceiling = MIN(ceiling, RETRY_CAP_MS);
	random_unit = CLAMP(random_unit, 0.0, 1.0);
	return (guint)MIN((double)ceiling * random_unit, (double)ceiling);
}

gboolean retry_after_ms(const char *value, gint64 now_wall_us, guint64 *wait_ms)
{
	if (value == NULL)
		return FALSE;
	while (*value == ' ' || *value == '\t')
		value++;
	if (g_ascii_isdigit(*value)) {
		char *end = NULL;
		guint64 seconds = g_ascii_strtoull(value, &end, 10);

		while (end && (*end == ' ' || *end == '\t'))
			end++;
		if (end == NULL || *end != '\0' || seconds > G_MAXUINT32)
			return FALSE;
		*wait_ms = seconds * 1000;
		return TRUE;
	}
	/* RFC 9110 IMF-fixdate, the form servers send. */
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);

	if (end == NULL || *end != '\0')
		return FALSE;
	gint64 at_us = (gint64)timegm(&tm) * G_USEC_PER_SEC;

	*wait_ms = at_us > now_wall_us ? (guint64)(at_us - now_wall_us + 999) / 1000 : 0;
	return TRUE;
}
