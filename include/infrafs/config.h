/* config: every setting infrafs runs with, validated once and then only
 * read. Sources, weakest first: built-in defaults < OS_* environment < -o
 * options. Parsing never touches libfuse, so it is unit-testable. */
#pragma once

#include <glib.h>

#include "infrafs/classes.h"
#include "infrafs/derived.h"
#include "infrafs/redis_url.h"

/* Longest TTL or timeout accepted, in seconds (a day is plenty). */
#define CONFIG_MAX_SECONDS 86400

#define CONFIG_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define CONFIG_DEFAULT_REQUEST_TIMEOUT_MS 30000
/* Longest a reader waits for someone else's fetch of the same data. */
#define CONFIG_DEFAULT_FETCH_WAIT_MS 60000
/* Grace windows default to the class's TTL, but to no more than this. */
#define CONFIG_MAX_DEFAULT_GRACE_S 3600
/* How old data may be and still be served while the backend fails. */
#define CONFIG_DEFAULT_MAX_STALE_S 86400
/* Memory the cache's data may take. */
#define CONFIG_DEFAULT_CACHE_MAX_BYTES (256 * 1024 * 1024)
#define CONFIG_DEFAULT_WARM_RATE_PER_S 2.0
/* Retries of a transient API failure, at most (and the most accepted). */
#define CONFIG_DEFAULT_RETRIES 3
#define CONFIG_MAX_RETRIES 10
/* Requests a second to one service, at most (0: unlimited). */
#define CONFIG_DEFAULT_RATE_LIMIT_PER_S 50.0
#define CONFIG_MAX_RATE_LIMIT_PER_S 100000.0

/* Keystone credentials and endpoint choice, as OpenStack tools read them.
 * The password and secret are secrets: never log them (see log.h). */
struct os_credentials {
	char *auth_url;
	char *auth_type;          /* "password" (default) or "v3applicationcredential" */
	char *username;
	char *user_id;
	char *password;
	char *user_domain_name;
	char *user_domain_id;
	char *project_name;
	char *project_id;
	char *project_domain_name;
	char *project_domain_id;
	char *application_credential_id;
	char *application_credential_secret;
	char *region_name;
	char *interface;          /* "public" (default), "internal", "admin" */
	char *cacert;
	gboolean insecure;
};

struct config {
	guint ttl_s[CLASS_COUNT];         /* time to live per data class */
	guint grace_s[CLASS_COUNT];       /* served stale while refreshing, past the TTL */
	gboolean grace_set[CLASS_COUNT];  /* grace given explicitly (else it follows ttl) */
	guint max_stale_s;                /* stale-if-error limit */
	guint64 cache_max_bytes;          /* LRU bound on cached data */
	gboolean warm[CLASS_COUNT];       /* classes the warmer fetches at mount */
	double warm_rate_per_s;           /* the warmer's fetches per second */
	gboolean warm_listing;            /* parsing: bare class names extend warm= */
	guint connect_timeout_ms;
	guint request_timeout_ms;         /* one API request, retries included */
	guint max_retries;                /* of a transient API failure */
	double rate_limit_per_s;          /* requests a second per service; 0: unlimited */
	guint fetch_wait_ms;              /* a coalesced reader's longest wait */
	gboolean debug;
	struct gpu_rules gpu;             /* [gpu] of infrafs.conf */
	char *netbox_url;                 /* NetBox base URL; NULL: no NetBox */
	char *netbox_token;               /* from INFRAFS_NETBOX_TOKEN (a secret) */
	struct redis_url redis;           /* the shared cache; host NULL: none */
	char *redis_password;             /* from INFRAFS_REDIS_PASSWORD (a secret),
					   * used when the URL has none */
	char *config_file;                /* the infrafs.conf read, or NULL */
	struct os_credentials os;
};

/* Defaults of design.md; no credentials. */
void config_init(struct config *config);
void config_clear(struct config *config);

/* Fill the credentials from OS_* variables looked up through `getenv_fn`
 * (g_getenv in the daemon, a table in tests). */
void config_load_env(struct config *config, const char *(*getenv_fn)(const char *name));

/* Apply one "-o key=value" option of infrafs's own: ttl.<class>=SECONDS,
 * grace.<class>=SECONDS, max_stale=SECONDS, cache_max_bytes=N[K|M|G],
 * warm=CLASS[:CLASS...] or all, warm_rate=PER_SECOND, timeout=SECONDS,
 * connect_timeout=SECONDS, retries=N, rate_limit=PER_SECOND, netbox_url=URL,
 * redis=redis://[user:password@]host[:port][/db]. libfuse splits -o values at commas, so class
 * names right after warm= (warm=aggregates,hosts) continue its list. Returns FALSE with
 * INFRAFS_ERROR_CONFIG naming the key when the key is unknown to infrafs
 * (*is_ours = FALSE, so the caller can hand it to libfuse) or the value is
 * bad (*is_ours = TRUE). */
gboolean config_set_option(struct config *config, const char *key, const char *value,
			   gboolean *is_ours, GError **error);

/* ~/.config/infrafs/infrafs.conf (under $XDG_CONFIG_HOME if set). Owned. */
char *config_default_file(void);

/* Read infrafs's own settings from a GKeyFile at `path`, over what is set:
 *   [ttl] / [grace]  CLASS = SECONDS          (as -o ttl.CLASS, grace.CLASS)
 *   [cache]          max_bytes, max_stale     (as -o cache_max_bytes, max_stale)
 *   [api]            timeout, connect_timeout, retries, rate_limit
 *   [warm]           classes (CLASS, ... or all), rate
 *   [gpu]            name_rules = GLOB=TYPE;...   resource_classes = GLOB;...
 *                    flavor_format = TEXT with {gpu} and {count}
 *   [netbox]         url                      (as -o netbox_url)
 *   [redis]          url                      (as -o redis)
 * Values are checked as -o checks them. A missing file is fine unless
 * `must_exist`. Unknown sections or keys, bad values and unreadable files
 * fail with INFRAFS_ERROR_CONFIG naming the file, section, key and problem;
 * what was read before the bad key stays set (the mount fails anyway). */
gboolean config_load_file(struct config *config, const char *path, gboolean must_exist,
			  GError **error);

/* Check that the settings are complete enough to mount: an auth URL and
 * either a password with a user, or an application credential. The error
 * names the missing variable. */
gboolean config_validate(const struct config *config, GError **error);

/* Whole seconds from 0 to CONFIG_MAX_SECONDS, digits only; FALSE otherwise. */
gboolean config_parse_seconds(const char *text, guint *seconds);

/* The grace window of a class: as set, or its TTL capped at an hour. */
guint config_grace_s(const struct config *config, enum data_class data_class);
