/* l2_format: how infrafs lays its data out in Redis. Pure; thread-safe.
 *
 * Keys, all under one scope:
 *   infrafs:1:<scope>:data:<class>[:<key>]   entries
 *   infrafs:1:<scope>:lock:<class>[:<key>]   fetch locks (SET NX PX)
 *   infrafs:1:<scope>:epoch:<class>          bumped by every invalidation
 *   infrafs:1:<scope>:invalidate             the pub/sub channel
 * <scope> is 16 hex digits of a SHA-256 over what decides which data a
 * mount sees (auth URL, region, interface, user, project and their
 * domains), never over a secret. NetBox entries name their NetBox too
 * ("netbox@<8 hex digits of its URL>").
 *
 * An entry is a header of text lines, a blank line, then the payload (the
 * backend's JSON answer):
 *   infrafs-l2 1
 *   key <the Redis key it was written under>
 *   epoch <the class's epoch when its fetch began>
 *   fetched <wall-clock microseconds>
 *   length <payload bytes>
 *   checksum <FNV-1a 64 of the lines above and of the payload, hex>
 * A reader checks all of it: an entry of another format version, written
 * under another key (foreign), cut short or changed is refused. */
#pragma once

#include <glib.h>

#include "infrafs/classes.h"
#include "infrafs/config.h"

#define L2_FORMAT_VERSION 1
#define L2_FORMAT_SCOPE_CHARS 16
/* Header lines are short: anything longer is not an entry of ours. */
#define L2_FORMAT_MAX_HEADER_BYTES 8192u

/* The scope of `os`'s data. Free with g_free. */
char *l2_format_scope(const struct os_credentials *os);

/* What names `data_class` in keys: its name, or for NetBox its name and
 * a digest of `netbox_url` (may be NULL). Free with g_free. */
char *l2_format_class_tag(enum data_class data_class, const char *netbox_url);

/* "infrafs:1:<scope>:<kind>:<class_tag>[:<key>]" (key may be NULL). */
char *l2_format_key(const char *scope, const char *kind, const char *class_tag, const char *key);

/* "infrafs:1:<scope>:invalidate". */
char *l2_format_channel(const char *scope);

GBytes *l2_format_encode(const char *redis_key, guint64 epoch, gint64 fetched_wall_us,
			 const char *payload, gsize payload_len);

/* A decoded entry; payload points into the decoded data. */
struct l2_entry {
	guint64 epoch;
	gint64 fetched_wall_us;
	const char *payload;
	gsize payload_len;
};

/* Check and decode `data`, read under `redis_key`. Fails with
 * INFRAFS_ERROR_BAD_RESPONSE saying why the entry is refused. */
gboolean l2_format_decode(const char *redis_key, const char *data, gsize len,
			  struct l2_entry *entry, GError **error);

/* An invalidation message: "infrafs-invalidate 1 <origin>\n<patterns>". */
char *l2_format_message(const char *origin, const char *patterns, gsize len);

/* Split a message; FALSE when it is not one of ours. *patterns points
 * into `data`. */
gboolean l2_format_parse_message(const char *data, gsize len, char **origin,
				 const char **patterns, gsize *patterns_len);
