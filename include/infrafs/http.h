/* http: blocking HTTP requests over reused connections. The only module that
 * uses libcurl.
 *
 * Any thread may call http_request(); each call borrows an idle easy handle
 * (so connections are reused) and returns it afterwards. DNS results are
 * shared between handles; the connection cache is not (unsafe in curl 7.88,
 * see shared/library-notes.md). Transport failures become GErrors; any HTTP
 * status, 4xx and 5xx included, is a response for the caller to judge.
 * Requests and errors never carry secrets in their text: headers are not
 * logged, URLs hold no credentials. */
#pragma once

#include <glib.h>

struct http_options {
	guint connect_timeout_ms;
	guint timeout_ms;       /* whole request, connect to last byte */
	const char *cacert;     /* CA bundle, or NULL for the system's */
	gboolean insecure;      /* skip TLS verification (OS_INSECURE) */
	gsize max_body_bytes;   /* a larger response body is an error */
};

struct http_response {
	long status;
	GBytes *body;
	GHashTable *headers;    /* lower-case name -> value of the last such header */
	gint64 elapsed_us;
};

struct http_client;

/* Call curl_global_init() before this, from main, before threads start. */
struct http_client *http_client_new(const struct http_options *options);
void http_client_free(struct http_client *client);

/* Perform one request. `headers` is a NULL-terminated list of "Name: value"
 * lines (may be NULL); `body` may be NULL. Returns NULL and sets
 * INFRAFS_ERROR_TIMEOUT or INFRAFS_ERROR_UNAVAILABLE on transport failure. */
struct http_response *http_request(struct http_client *client, const char *method,
				   const char *url, const char *const *headers,
				   const char *body, GError **error);

/* http_request() with the transfer cut short after `timeout_ms` when that
 * is less than the client's timeout (what a deadline leaves). */
struct http_response *http_request_within(struct http_client *client, const char *method,
					  const char *url, const char *const *headers,
					  const char *body, guint timeout_ms, GError **error);

/* A response header (name in any case), or NULL. */
const char *http_response_header(const struct http_response *response, const char *name);

void http_response_free(struct http_response *response);

/* For g_autoptr(http_response). */
typedef struct http_response http_response;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(http_response, http_response_free)
