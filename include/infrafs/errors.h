/* errors: the one error domain of infrafs, its mapping to errno, and the
 * ring of recent backend errors shown in /.infrafs/errors.
 *
 * Runtime failures travel up as GError in INFRAFS_ERROR with a code below;
 * only the FUSE edge turns them into an errno, through errors_to_errno(). */
#pragma once

#include <glib.h>

#define INFRAFS_ERROR (infrafs_error_quark())
GQuark infrafs_error_quark(void);

enum infrafs_error_code {
	INFRAFS_ERROR_NOT_FOUND,    /* no such name, or the backend said 404 */
	INFRAFS_ERROR_BACKEND,      /* the backend answered with an error status */
	INFRAFS_ERROR_UNAVAILABLE,  /* connection failed, 5xx after retries */
	INFRAFS_ERROR_TIMEOUT,      /* a deadline passed */
	INFRAFS_ERROR_BAD_RESPONSE, /* the backend answered something unparsable */
	INFRAFS_ERROR_AUTH,         /* credentials refused */
	INFRAFS_ERROR_FORBIDDEN,    /* policy denies (403) */
	INFRAFS_ERROR_INVALID,      /* bad input from a user (control files, options) */
	INFRAFS_ERROR_CONFIG,       /* bad or missing configuration */
	INFRAFS_ERROR_IS_DIR,       /* a directory where a file was expected */
	INFRAFS_ERROR_NOT_DIR,      /* a file where a directory was expected */
	INFRAFS_ERROR_READ_ONLY,    /* a write to something that is not writable */
};

/* The errno a FUSE reply should carry for this error (EIO when unknown). */
int errors_to_errno(const GError *error);

/* A short stable word for the code ("not_found", "timeout", ...). */
const char *errors_code_name(int code);

/* The ring of recent backend errors. Thread-safe. Messages must already be
 * free of secrets: callers pass what the HTTP layer produced, which never
 * contains tokens or passwords. */
struct error_log;

struct error_log *error_log_new(guint capacity);
void error_log_free(struct error_log *log);

/* Record one error. `what` names the data ("hosts", "quotas/<id>"). */
void error_log_add(struct error_log *log, const char *what, const GError *error);

/* Lines "<ISO time> <what> <code> <message>\n", oldest first. */
GBytes *error_log_render(struct error_log *log);

/* How many errors were ever recorded. */
guint64 error_log_count(struct error_log *log);
