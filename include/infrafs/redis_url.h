/* redis_url: the grammar of -o redis=URL. Pure; thread-safe.
 *
 *   redis://[[user][:password]@]host[:port][/db]
 *
 * host is a name, an IPv4 address or a bracketed IPv6 address; port
 * defaults to 6379 and db to 0. User and password may be percent-encoded.
 * rediss:// (TLS) is recognised and refused: Debian 12's hiredis (0.14)
 * has no TLS support. The password is a secret: show only
 * redis_url_masked(). */
#pragma once

#include <glib.h>

#define REDIS_URL_DEFAULT_PORT 6379

struct redis_url {
	char *host;
	guint port;
	guint db;
	char *username; /* NULL: the default user */
	char *password; /* NULL: none given; a secret */
};

/* Parse `text` into `url` (cleared first on success only). Fails with
 * INFRAFS_ERROR_CONFIG saying what is wrong, never quoting the password. */
gboolean redis_url_parse(const char *text, struct redis_url *url, GError **error);

/* Free the fields (the password is wiped first). */
void redis_url_clear(struct redis_url *url);

/* "redis://user:***@host:port/db": for logs and stats. Free with g_free. */
char *redis_url_masked(const struct redis_url *url);
