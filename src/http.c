/* http: libcurl easy handles in a pool, DNS shared (see infrafs/http.h). */
#include "infrafs/http.h"

#include <curl/curl.h>
#include <string.h>

#include "build_config.h"
#include "infrafs/clock.h"
#include "infrafs/errors.h"

/* Idle handles kept for reuse; more concurrent requests get fresh ones. */
#define HTTP_MAX_IDLE_HANDLES 16
/* A transfer slower than this many bytes per second ... */
#define HTTP_LOW_SPEED_BYTES 1
/* ... for this long is a stall. */
#define HTTP_LOW_SPEED_TIME_S 30

struct http_client {
	struct http_options options;
	char *cacert;                /* owned copy of options.cacert */
	CURLSH *share;               /* DNS cache shared by all handles */
	GMutex share_locks[CURL_LOCK_DATA_LAST];
	GMutex pool_lock;            /* guards idle */
	GPtrArray *idle;             /* CURL* ready for reuse */
};

struct transfer {
	GByteArray *body;
	GHashTable *headers;
	gsize max_body_bytes;
	gboolean too_large;
};

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *user)
{
	struct http_client *client = user;

	g_mutex_lock(&client->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *user)
{
	struct http_client *client = user;

	g_mutex_unlock(&client->share_locks[data]);
}

struct http_client *http_client_new(const struct http_options *options)
{
	struct http_client *client = g_new0(struct http_client, 1);

	client->options = *options;
	client->cacert = g_strdup(options->cacert);
	client->options.cacert = client->cacert;
	if (client->options.max_body_bytes == 0)
		client->options.max_body_bytes = 64 * 1024 * 1024;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		g_mutex_init(&client->share_locks[i]);
	g_mutex_init(&client->pool_lock);
	client->idle = g_ptr_array_new();
	client->share = curl_share_init();
	curl_share_setopt(client->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(client->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(client->share, CURLSHOPT_USERDATA, client);
	curl_share_setopt(client->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	return client;
}

void http_client_free(struct http_client *client)
{
	if (client == NULL)
		return;
	for (guint i = 0; i < client->idle->len; i++)
		curl_easy_cleanup(client->idle->pdata[i]);
	g_ptr_array_free(client->idle, TRUE);
	curl_share_cleanup(client->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		g_mutex_clear(&client->share_locks[i]);
	g_mutex_clear(&client->pool_lock);
	g_free(client->cacert);
	g_free(client);
}

static CURL *borrow_handle(struct http_client *client)
{
	CURL *handle = NULL;

	g_mutex_lock(&client->pool_lock);
	if (client->idle->len > 0)
		handle = g_ptr_array_steal_index_fast(client->idle, client->idle->len - 1);
	g_mutex_unlock(&client->pool_lock);
	if (handle == NULL)
		handle = curl_easy_init();
	else
		curl_easy_reset(handle); /* keeps the connection cache, drops options */
	return handle;
}

static void return_handle(struct http_client *client, CURL *handle)
{
	g_mutex_lock(&client->pool_lock);
	if (client->idle->len < HTTP_MAX_IDLE_HANDLES) {
		g_ptr_array_add(client->idle, handle);
		handle = NULL;
	}
	g_mutex_unlock(&client->pool_lock);
	if (handle != NULL)
		curl_easy_cleanup(handle);
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
	struct transfer *transfer = user;
	size_t len = size * count;

	if (transfer->body->len + len > transfer->max_body_bytes) {
		transfer->too_large = TRUE;
		return 0; /* makes curl fail the transfer */
	}
	g_byte_array_append(transfer->body, (const guint8 *)data, (guint)len);
	return len;
}

static size_t on_header(char *data, size_t size, size_t count, void *user)
{
	struct transfer *transfer = user;
	size_t len = size * count;
	const char *colon = memchr(data, ':', len);

	if (colon == NULL)
		return len; /* status line or the blank line */

	char *name = g_ascii_strdown(data, colon - data);
	char *value = g_strstrip(g_strndup(colon + 1, len - (colon + 1 - data)));

	g_hash_table_replace(transfer->headers, name, value);
	return len;
}

static void set_error_from_curl(CURLcode code, const char *detail, const char *method,
				const char *url, GError **error)
{
	int kind = code == CURLE_OPERATION_TIMEDOUT ? INFRAFS_ERROR_TIMEOUT
						    : INFRAFS_ERROR_UNAVAILABLE;

	g_set_error(error, INFRAFS_ERROR, kind, "%s %s: %s", method, url,
		    detail[0] ? detail : curl_easy_strerror(code));
}

struct http_response *http_request(struct http_client *client, const char *method,
				   const char *url, const char *const *headers,
				   const char *body, GError **error)
{
	return http_request_within(client, method, url, headers, body, client->options.timeout_ms,
				   error);
}

struct http_response *http_request_within(struct http_client *client, const char *method,
					  const char *url, const char *const *headers,
					  const char *body, guint timeout_ms, GError **error)
{
	CURL *handle = borrow_handle(client);
	struct curl_slist *header_list = NULL;
	char detail[CURL_ERROR_SIZE] = "";
	struct transfer transfer = {
		.body = g_byte_array_new(),
		.headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
		.max_body_bytes = client->options.max_body_bytes,
	};

	for (const char *const *h = headers; h != NULL && *h != NULL; h++)
		header_list = curl_slist_append(header_list, *h);
	/* libcurl would otherwise send "Expect: 100-continue" on POST. */
	header_list = curl_slist_append(header_list, "Expect:");

	curl_easy_setopt(handle, CURLOPT_URL, url);
	curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(handle, CURLOPT_SHARE, client->share);
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list);
	curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, (long)client->options.connect_timeout_ms);
	curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
			 (long)MIN(timeout_ms, client->options.timeout_ms));
	curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, (long)HTTP_LOW_SPEED_BYTES);
	curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, (long)HTTP_LOW_SPEED_TIME_S);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
	curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
	curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(handle, CURLOPT_USERAGENT, "infrafs/" INFRAFS_VERSION);
	if (client->options.cacert != NULL)
		curl_easy_setopt(handle, CURLOPT_CAINFO, client->options.cacert);
	if (client->options.insecure) {
		curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (body != NULL) {
		curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}

	gint64 start_us = clock_mono_us();
	CURLcode code = curl_easy_perform(handle);
	struct http_response *response = NULL;

	if (transfer.too_large) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "%s %s: response body larger than %zu bytes", method, url,
			    client->options.max_body_bytes);
	} else if (code != CURLE_OK) {
		set_error_from_curl(code, detail, method, url, error);
	} else {
		response = g_new0(struct http_response, 1);
		curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response->status);
		response->body = g_byte_array_free_to_bytes(g_steal_pointer(&transfer.body));
		response->headers = g_steal_pointer(&transfer.headers);
		response->elapsed_us = clock_mono_us() - start_us;
	}
	/* The handle must not keep pointers into this call's stack. */
	curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(header_list);
	if (transfer.body != NULL)
		g_byte_array_unref(transfer.body);
	if (transfer.headers != NULL)
		g_hash_table_unref(transfer.headers);
	return_handle(client, handle);
	return response;
}

const char *http_response_header(const struct http_response *response, const char *name)
{
	g_autofree char *lower = g_ascii_strdown(name, -1);

	return g_hash_table_lookup(response->headers, lower);
}

void http_response_free(struct http_response *response)
{
	if (response == NULL)
		return;
	g_bytes_unref(response->body);
	g_hash_table_unref(response->headers);
	g_free(response);
}
