/* cache: entries keyed by (data class, key), each holding one immutable
 * value with the time it was fetched and the time it goes stale.
 *
 * cache_get() returns a fresh value from memory or fetches it through the
 * loader, coalescing concurrent readers of one entry onto a single fetch
 * (N readers, 1 request; the others wait on a condition variable with a
 * deadline). Expiring an entry (cache_expire) bumps its generation, so a
 * fetch that started before the expiry never stores its older answer.
 *
 * Past its TTL, a value is still served at once for a grace window per
 * class (stale-while-revalidate) while one background refresh runs on the
 * cache's own threads. A failed fetch never replaces good data: a value
 * younger than max_stale is served instead (stale-if-error). An explicit
 * expiry skips the grace window but not stale-if-error.
 *
 * Memory is bounded: when the values held exceed max_bytes, the least
 * recently used ones are dropped (their entries stay, empty, and fetch
 * again when read). A value larger than the bound is handed to its readers
 * and not kept.
 *
 * Thread-safe. One mutex guards the table; it is never held while the
 * loader runs, so the loader may take any lock of the layers below. */
#pragma once

#include <glib.h>

#include "infrafs/classes.h"

/* One load: what is asked, and what the loader tells back. */
struct cache_load {
	enum data_class data_class;
	const char *key;          /* NULL for whole collections */
	guint ttl_s;              /* the class's TTL and grace window now */
	guint grace_s;
	gboolean fresh_only;      /* data fetched from the source now, not a copy
				   * kept elsewhere (for live/ and refresh) */
	gsize size_bytes;         /* out: the value's size */
	gint64 fetched_wall_us;   /* out: when the data was fetched, when that was
				   * before the load (a shared cache's copy); 0: now */
};

/* Loads the value of `load`; runs on the reader's thread without any cache
 * lock. Returns the value (owned by the cache afterwards, freed with the
 * cache's free function), or NULL and an error. */
typedef gpointer (*cache_load_fn)(struct cache_load *load, GError **error, gpointer user_data);

/* A published value, shared by reference count. Immutable. */
struct cache_value;

struct cache_value *cache_value_ref(struct cache_value *value);
void cache_value_unref(struct cache_value *value);
gconstpointer cache_value_data(const struct cache_value *value);
gint64 cache_value_fetched_wall_us(const struct cache_value *value);
/* When this value stops being fresh, on the monotonic clock: its fetch time
 * plus the class's TTL now (a TTL changed at run time applies at once; an
 * explicit expiry is not reflected). Values must not outlive the cache. */
gint64 cache_value_expires_mono_us(const struct cache_value *value);
/* The same moment on the wall clock, for what users see. */
gint64 cache_value_expires_wall_us(const struct cache_value *value);
/* From when a read of this value starts a refresh ahead of its expiry (the
 * last tenth of its TTL, in classes with a grace window). */
gint64 cache_value_refresh_ahead_mono_us(const struct cache_value *value);
typedef struct cache_value cache_value;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cache_value, cache_value_unref)

/* Fetch durations are counted in buckets whose upper bounds double from
 * 1 ms: bucket i holds fetches of at most 2^i ms; the last holds the rest. */
#define CACHE_FETCH_BUCKETS 18

/* Counters of one data class, for /.infrafs/stats. */
struct cache_class_stats {
	guint64 entries;
	guint64 bytes;
	guint64 hits;           /* answered from memory */
	guint64 misses;         /* had to fetch */
	guint64 coalesced;      /* waited on another reader's fetch */
	guint64 fetches;        /* loader calls */
	guint64 errors;         /* failed loader calls */
	guint64 fetch_us_total; /* time spent in the loader */
	guint64 stale_served;   /* past TTL: in grace, or after a failed fetch */
	guint64 refreshes;      /* background refreshes started */
	guint64 evictions;      /* values dropped to keep within max_bytes */
	guint64 fetch_buckets[CACHE_FETCH_BUCKETS]; /* fetch durations, see above */
	guint ttl_s;
	guint grace_s;
};

struct cache;

/* `ttl_s` holds one TTL per class (copied). `wait_ms` bounds a coalesced
 * reader's wait. `free_value` frees what the loader returned. */
struct cache *cache_new(const guint ttl_s[CLASS_COUNT], guint wait_ms, cache_load_fn load,
			GDestroyNotify free_value, gpointer user_data);
void cache_free(struct cache *cache);

/* A fresh value for (class, key) (key may be NULL), fetching if needed.
 * Returns a new reference, or NULL and the loader's error (also to readers
 * that waited on that failed fetch), or INFRAFS_ERROR_TIMEOUT when the wait
 * for another reader's fetch passed its deadline. */
struct cache_value *cache_get(struct cache *cache, enum data_class data_class, const char *key,
			      GError **error);

/* cache_get() that also says whether the value is served past its
 * freshness (in grace, or because a fetch failed): *stale, if not NULL. */
struct cache_value *cache_get_full(struct cache *cache, enum data_class data_class,
				   const char *key, gboolean *stale, GError **error);

/* A value fetched after this call began: always a backend request (or a
 * share of one that completes after the call began, so live readers still
 * coalesce), stored in the cache for other readers too. No grace and no
 * stale copy: a failure is an error. For /live/. */
struct cache_value *cache_get_live(struct cache *cache, enum data_class data_class,
				   const char *key, GError **error);

/* Make sure (class, key) holds data fetched now or later: fetch unless it
 * is fresh (joining a fetch under way), with no grace and no stale copy to
 * fall back on, so a failure is reported. For /.infrafs/refresh. */
gboolean cache_fetch_now(struct cache *cache, enum data_class data_class, const char *key,
			 GError **error);

/* The value held for (class, key), fresh or not, without fetching; NULL
 * when there is none. */
struct cache_value *cache_peek(struct cache *cache, enum data_class data_class, const char *key);

/* Decides whether an entry is to expire; called with the cache lock held,
 * so it must not call into the cache. `value` may be NULL. */
typedef gboolean (*cache_match_fn)(enum data_class data_class, const char *key,
				   const struct cache_value *value, gpointer user_data);

/* Expire now every entry `match` accepts: the next cache_get() fetches.
 * Returns how many entries expired. */
guint cache_expire(struct cache *cache, cache_match_fn match, gpointer user_data);

void cache_set_ttl(struct cache *cache, enum data_class data_class, guint ttl_s);

/* How long past its TTL a value is served while it is refreshed in the
 * background (0, the default: never). */
void cache_set_grace(struct cache *cache, enum data_class data_class, guint grace_s);

/* How old a value may be and still be served when a fetch fails (0, the
 * default: never). */
void cache_set_max_stale(struct cache *cache, guint max_stale_s);

/* Told that (class, key) now holds different data than before; called with
 * no cache lock held, from the thread whose fetch stored it. */
typedef void (*cache_changed_fn)(enum data_class data_class, const char *key,
				 gpointer user_data);

/* Whether two loaded values differ (a digest comparison, say). */
typedef gboolean (*cache_differ_fn)(gconstpointer old_data, gconstpointer new_data);

/* Report stored values that differ from the ones they replace: so that a
 * refresh that finds a name gone, or new content, reaches the kernel at
 * once. Set before use; both may be NULL. */
void cache_set_changed_hook(struct cache *cache, cache_differ_fn differ, cache_changed_fn changed,
			    gpointer user_data);

/* Most bytes of values held (0, the default: no bound). Evicts at once. */
void cache_set_max_bytes(struct cache *cache, guint64 max_bytes);

/* Bytes of values held now, all classes together. */
guint64 cache_total_bytes(struct cache *cache);
guint cache_get_ttl(struct cache *cache, enum data_class data_class);

void cache_class_stats(struct cache *cache, enum data_class data_class,
		       struct cache_class_stats *stats);
