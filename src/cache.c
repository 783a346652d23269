/* cache: TTL entries with coalesced loading (see infrafs/cache.h). */
#include "infrafs/cache.h"

#include <string.h>

#include "infrafs/clock.h"
#include "infrafs/errors.h"

struct cache_value {
	gpointer data;
	GDestroyNotify free_data;
	gsize size_bytes;
	gint64 fetched_wall_us;
	gint64 fetched_mono_us;
	const guint *ttl_s;         /* the class's TTL in the cache, read atomically:
				     * a TTL changed at run time applies at once */
};

struct cache_entry {
	enum data_class data_class;
	char *key;                  /* NULL for whole collections */
	struct cache_value *value;  /* last good value, or NULL */
	guint64 generation;         /* bumped by every expiry */
	gboolean loading;           /* a reader is running the loader */
	guint64 loads_done;         /* completed loads, to tell waiters apart */
	GError *load_error;         /* error of the last load, if it failed */
	gboolean hard_expired;      /* expired on request: no grace window */
	gint64 failed_mono_us;      /* when the last load failed */
	GList lru_link;             /* in cache->lru while the entry holds a value */
	GCond loaded;               /* broadcast when a load completes */
};

/* Background refreshes run on a few threads of the cache's own. */
#define CACHE_REFRESH_THREADS 4
/* After a failed fetch, an entry that still has data to serve waits this
 * long before asking the backend again, so an outage is not hammered by
 * every lookup and read. */
#define CACHE_FAILURE_BACKOFF_US (2 * G_USEC_PER_SEC)

struct cache {
	GMutex lock;                /* guards everything below and every entry */
	GHashTable *entries;        /* "class/key" -> struct cache_entry; owned */
	guint ttl_s[CLASS_COUNT];
	guint grace_s[CLASS_COUNT];
	guint max_stale_s;
	guint64 max_bytes;          /* 0: unbounded */
	guint64 total_bytes;        /* of every value held */
	GQueue lru;                 /* entries holding a value, least recently used first */
	struct cache_class_stats stats[CLASS_COUNT];
	GThreadPool *refreshers;    /* runs refresh_entry(); entries outlive it */
	cache_differ_fn differ;     /* set once before use */
	cache_changed_fn changed;
	gpointer changed_data;
	GPtrArray *changes;         /* entries whose data changed, to report after unlocking */
	guint wait_ms;
	cache_load_fn load;
	GDestroyNotify free_value;
	gpointer user_data;
};

struct cache_value *cache_value_ref(struct cache_value *value)
{
	return g_atomic_rc_box_acquire(value);
}

static void cache_value_clear(gpointer data)
{
	struct cache_value *value = data;

	value->free_data(value->data);
}

void cache_value_unref(struct cache_value *value)
{
	if (value != NULL)
		g_atomic_rc_box_release_full(value, cache_value_clear);
}

gconstpointer cache_value_data(const struct cache_value *value)
{
	return value->data;
}

gint64 cache_value_fetched_wall_us(const struct cache_value *value)
{
	return value->fetched_wall_us;
}

gint64 cache_value_expires_mono_us(const struct cache_value *value)
{
	return value->fetched_mono_us +
	       (gint64)g_atomic_int_get((const gint *)value->ttl_s) * G_USEC_PER_SEC;
}

gint64 cache_value_refresh_ahead_mono_us(const struct cache_value *value)
{
	gint64 ttl_us = (gint64)g_atomic_int_get((const gint *)value->ttl_s) * G_USEC_PER_SEC;

	return value->fetched_mono_us + ttl_us - ttl_us / 10;
}

gint64 cache_value_expires_wall_us(const struct cache_value *value)
{
	return value->fetched_wall_us + (cache_value_expires_mono_us(value) - value->fetched_mono_us);
}

static void entry_free(gpointer data)
{
	struct cache_entry *entry = data;

	g_free(entry->key);
	cache_value_unref(entry->value);
	g_clear_error(&entry->load_error);
	g_cond_clear(&entry->loaded);
	g_free(entry);
}

static void refresh_entry(gpointer entry, gpointer cache);

struct cache *cache_new(const guint ttl_s[CLASS_COUNT], guint wait_ms, cache_load_fn load,
			GDestroyNotify free_value, gpointer user_data)
{
	struct cache *cache = g_new0(struct cache, 1);

	g_mutex_init(&cache->lock);
	cache->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, entry_free);
	memcpy(cache->ttl_s, ttl_s, sizeof(cache->ttl_s));
	cache->wait_ms = wait_ms;
	cache->load = load;
	cache->free_value = free_value;
	cache->user_data = user_data;
	cache->refreshers = g_thread_pool_new(refresh_entry, cache, CACHE_REFRESH_THREADS, FALSE,
					      NULL);
	cache->changes = g_ptr_array_new();
	return cache;
}

void cache_free(struct cache *cache)
{
	if (cache == NULL)
		return;
	/* Drop queued refreshes, wait for running ones: they use the entries. */
	g_thread_pool_free(cache->refreshers, TRUE, TRUE);
	g_ptr_array_unref(cache->changes);
	g_hash_table_unref(cache->entries);
	g_mutex_clear(&cache->lock);
	g_free(cache);
}

static char *entry_id(enum data_class data_class, const char *key)
{
	return g_strdup_printf("%d/%s", data_class, key ? key : "");
}

/* Call with the lock held. */
static struct cache_entry *find_entry(struct cache *cache, enum data_class data_class,
				      const char *key, gboolean create)
{
	g_autofree char *id = entry_id(data_class, key);
	struct cache_entry *entry = g_hash_table_lookup(cache->entries, id);

	if (entry == NULL && create) {
		entry = g_new0(struct cache_entry, 1);
		entry->data_class = data_class;
		entry->key = g_strdup(key);
		entry->lru_link.data = entry;
		g_cond_init(&entry->loaded);
		g_hash_table_insert(cache->entries, g_steal_pointer(&id), entry);
		cache->stats[data_class].entries++;
	}
	return entry;
}

static gboolean is_fresh(const struct cache_entry *entry, gint64 now_us)
{
	return entry->value != NULL && !entry->hard_expired &&
	       now_us < cache_value_expires_mono_us(entry->value);
}

/* Mark `entry` as just used. Lock held; the entry holds a value. */
static void lru_touch(struct cache *cache, struct cache_entry *entry)
{
	g_queue_unlink(&cache->lru, &entry->lru_link);
	g_queue_push_tail_link(&cache->lru, &entry->lru_link);
}

/* Drop `entry`'s value. Lock held. */
static void drop_value(struct cache *cache, struct cache_entry *entry)
{
	struct cache_class_stats *stats = &cache->stats[entry->data_class];

	if (entry->value == NULL)
		return;
	g_queue_unlink(&cache->lru, &entry->lru_link);
	stats->bytes -= entry->value->size_bytes;
	cache->total_bytes -= entry->value->size_bytes;
	g_clear_pointer(&entry->value, cache_value_unref);
}

/* Evict least recently used values until within the bound. Lock held. */
static void enforce_bound(struct cache *cache)
{
	while (cache->max_bytes > 0 && cache->total_bytes > cache->max_bytes &&
	       cache->lru.head != NULL) {
		struct cache_entry *victim = cache->lru.head->data;

		cache->stats[victim->data_class].evictions++;
		drop_value(cache, victim);
	}
}

/* Publish a loaded value. Call with the lock held. */
static void store_value(struct cache *cache, struct cache_entry *entry, gpointer data,
			const struct cache_load *load)
{
	struct cache_value *value = g_atomic_rc_box_new0(struct cache_value);
	gint64 now_us = clock_mono_us();
	gint64 now_wall_us = clock_wall_us();
	struct cache_class_stats *stats = &cache->stats[entry->data_class];
	gsize size_bytes = load->size_bytes;
	/* Data fetched earlier elsewhere is as old here as it is there. */
	gint64 age_us = load->fetched_wall_us > 0
				? CLAMP(now_wall_us - load->fetched_wall_us, 0, now_us)
				: 0;

	value->data = data;
	value->free_data = cache->free_value;
	value->size_bytes = size_bytes;
	value->fetched_wall_us = now_wall_us - age_us;
	value->fetched_mono_us = now_us - age_us;
	value->ttl_s = &cache->ttl_s[entry->data_class];
	if (entry->value != NULL && cache->differ != NULL &&
	    cache->differ(entry->value->data, data))
		g_ptr_array_add(cache->changes, entry);
	drop_value(cache, entry);
	stats->bytes += size_bytes;
	cache->total_bytes += size_bytes;
	entry->value = value;
	g_queue_push_tail_link(&cache->lru, &entry->lru_link);
	entry->hard_expired = FALSE;
	g_clear_error(&entry->load_error);
}

/* Run the loader for `entry` as this reader (`fresh_only` is passed on to
 * it). Call with the lock held; it is dropped around the loader. Returns
 * TRUE when a value was stored, with a reference to it in *stored (if not
 * NULL) taken before the memory bound is enforced, which may drop it from
 * the cache again. */
static gboolean run_loader(struct cache *cache, struct cache_entry *entry, gboolean fresh_only,
			   struct cache_value **stored_value, GError **error)
{
	struct cache_class_stats *stats = &cache->stats[entry->data_class];
	guint64 generation = entry->generation;

	/* Keep the old value: a failed fetch never replaces good data. */
	g_autoptr(GError) load_error = NULL;
	struct cache_load load = {
		.data_class = entry->data_class,
		.key = entry->key,
		.ttl_s = cache_get_ttl(cache, entry->data_class),
		.grace_s = cache->grace_s[entry->data_class],
		.fresh_only = fresh_only,
	};

	entry->loading = TRUE;
	g_mutex_unlock(&cache->lock);

	gint64 start_us = clock_mono_us();
	gpointer data = cache->load(&load, &load_error, cache->user_data);
	gint64 elapsed_us = clock_mono_us() - start_us;

	g_mutex_lock(&cache->lock);
	entry->loading = FALSE;
	entry->loads_done++;
	stats->fetches++;
	stats->fetch_us_total += (guint64)elapsed_us;
	guint bucket = 0;

	while (bucket + 1 < CACHE_FETCH_BUCKETS && elapsed_us > ((gint64)1000 << bucket))
		bucket++;
	stats->fetch_buckets[bucket]++;
	gboolean stored = FALSE;

	if (data == NULL) {
		stats->errors++;
		entry->failed_mono_us = clock_mono_us();
		g_clear_error(&entry->load_error);
		entry->load_error = g_error_copy(load_error);
		g_propagate_error(error, g_steal_pointer(&load_error));
	} else if (generation != entry->generation) {
		/* Expired while we fetched: our answer may predate the expiry.
		 * No error either: waiters must not take an older failure. */
		cache->free_value(data);
		g_clear_error(&entry->load_error);
	} else {
		store_value(cache, entry, data, &load);
		stored = TRUE;
		if (stored_value != NULL)
			*stored_value = cache_value_ref(entry->value);
		enforce_bound(cache);
	}
	g_cond_broadcast(&entry->loaded);
	return stored || data == NULL;
}

/* Take the changes noted under the lock, to report once it is released. */
static GPtrArray *take_changes(struct cache *cache)
{
	if (cache->changes->len == 0)
		return NULL;

	GPtrArray *taken = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < cache->changes->len; i++) {
		struct cache_entry *entry = cache->changes->pdata[i];

		/* class first, then the key (or nothing): entries themselves are
		 * only safe to touch under the lock. */
		g_ptr_array_add(taken, g_strdup_printf("%d%s%s", entry->data_class,
						       entry->key ? "/" : "",
						       entry->key ? entry->key : ""));
	}
	g_ptr_array_set_size(cache->changes, 0);
	return taken;
}

/* Report what take_changes() took. No lock held. */
static void report_changes(struct cache *cache, GPtrArray *taken)
{
	if (taken == NULL)
		return;
	for (guint i = 0; cache->changed != NULL && i < taken->len; i++) {
		const char *text = taken->pdata[i];
		char *slash = strchr(text, '/');
		enum data_class data_class = (enum data_class)g_ascii_strtoull(text, NULL, 10);

		cache->changed(data_class, slash ? slash + 1 : NULL, cache->changed_data);
	}
	g_ptr_array_unref(taken);
}

/* A background refresh (GThreadPool job): load once; on failure the old
 * value stays and is served until max_stale. */
static void refresh_entry(gpointer data, gpointer user_data)
{
	struct cache *cache = user_data;
	struct cache_entry *entry = data;
	g_autoptr(GError) error = NULL;

	g_mutex_lock(&cache->lock);
	/* Claimed by refresh_in_background(); run_loader() sets it again. */
	entry->loading = FALSE;
	run_loader(cache, entry, FALSE, NULL, &error);
	GPtrArray *changes = take_changes(cache);

	g_mutex_unlock(&cache->lock);
	report_changes(cache, changes);
}

/* Start one background refresh unless a load is under way. Lock held. */
static void refresh_in_background(struct cache *cache, struct cache_entry *entry)
{
	if (entry->loading)
		return;
	/* A refresh that just failed is not retried at every read. */
	if (entry->load_error != NULL &&
	    clock_mono_us() - entry->failed_mono_us < CACHE_FAILURE_BACKOFF_US)
		return;
	entry->loading = TRUE;
	cache->stats[entry->data_class].refreshes++;
	g_thread_pool_push(cache->refreshers, entry, NULL);
}

/* Inside the grace window after the TTL (not after an explicit expiry). */
static gboolean in_grace(const struct cache *cache, const struct cache_entry *entry,
			 gint64 now_us)
{
	gint64 grace_us = (gint64)cache->grace_s[entry->data_class] * G_USEC_PER_SEC;

	return entry->value != NULL && !entry->hard_expired && grace_us > 0 &&
	       now_us < cache_value_expires_mono_us(entry->value) + grace_us;
}

/* A fetch failed: the last good value, when young enough, answers instead.
 * Lock held. Returns a new reference or NULL. */
static struct cache_value *stale_if_error(struct cache *cache, struct cache_entry *entry)
{
	gint64 max_stale_us = (gint64)cache->max_stale_s * G_USEC_PER_SEC;

	if (entry->value == NULL || max_stale_us == 0 ||
	    clock_mono_us() - entry->value->fetched_mono_us > max_stale_us)
		return NULL;
	cache->stats[entry->data_class].stale_served++;
	return cache_value_ref(entry->value);
}

/* How a lookup may be answered. */
enum get_mode {
	GET_CACHED,   /* fresh, in grace, or stale after a failed fetch */
	GET_NO_STALE, /* fresh or fetched now; a failure is an error */
	GET_LIVE,     /* fetched after the call began (possibly by a fetch it joined) */
};

/* The one lookup behind cache_get_full(), cache_fetch_now() and cache_get_live(). */
static struct cache_value *get_value(struct cache *cache, enum data_class data_class,
				     const char *key, enum get_mode mode, gboolean *stale,
				     GError **error);

struct cache_value *cache_get(struct cache *cache, enum data_class data_class, const char *key,
			      GError **error)
{
	return get_value(cache, data_class, key, GET_CACHED, NULL, error);
}

struct cache_value *cache_get_live(struct cache *cache, enum data_class data_class,
				   const char *key, GError **error)
{
	return get_value(cache, data_class, key, GET_LIVE, NULL, error);
}

struct cache_value *cache_get_full(struct cache *cache, enum data_class data_class,
				   const char *key, gboolean *stale, GError **error)
{
	return get_value(cache, data_class, key, GET_CACHED, stale, error);
}

gboolean cache_fetch_now(struct cache *cache, enum data_class data_class, const char *key,
			 GError **error)
{
	g_autoptr(cache_value) value = get_value(cache, data_class, key, GET_NO_STALE, NULL, error);

	return value != NULL;
}

static struct cache_value *get_value(struct cache *cache, enum data_class data_class,
				     const char *key, enum get_mode mode, gboolean *stale,
				     GError **error)
{
	gboolean allow_stale = mode == GET_CACHED;
	g_return_val_if_fail(data_class < CLASS_COUNT, NULL);
	struct cache_value *result = NULL;
	struct cache_class_stats *stats = &cache->stats[data_class];
	gint64 asked_us = clock_mono_us();
	gint64 deadline_us = asked_us + (gint64)cache->wait_ms * 1000;
	gboolean counted = FALSE;
	gboolean served_stale = FALSE;
	GError *failure = NULL;

	g_mutex_lock(&cache->lock);
	struct cache_entry *entry = find_entry(cache, data_class, key, TRUE);

	for (;;) {
		gint64 now_us = clock_mono_us();

		if (is_fresh(entry, now_us) &&
		    (mode != GET_LIVE || entry->value->fetched_mono_us >= asked_us)) {
			if (!counted)
				stats->hits++;
			/* Read in the last tenth of its TTL: refresh ahead, so a busy
			 * entry never goes stale (only where grace is on). */
			if (mode == GET_CACHED && cache->grace_s[data_class] > 0 &&
			    now_us >= cache_value_refresh_ahead_mono_us(entry->value))
				refresh_in_background(cache, entry);
			lru_touch(cache, entry);
			result = cache_value_ref(entry->value);
			break;
		}
		if (allow_stale && entry->load_error != NULL && !entry->loading &&
		    now_us - entry->failed_mono_us < CACHE_FAILURE_BACKOFF_US &&
		    (result = stale_if_error(cache, entry)) != NULL) {
			/* Failing just now, with data to show: do not ask again yet. */
			served_stale = TRUE;
			break;
		}
		if (allow_stale && in_grace(cache, entry, now_us)) {
			/* Stale-while-revalidate: answer now, refresh behind. */
			stats->hits += !counted;
			stats->stale_served++;
			refresh_in_background(cache, entry);
			lru_touch(cache, entry);
			result = cache_value_ref(entry->value);
			served_stale = TRUE;
			break;
		}
		if (!counted) {
			stats->misses++;
			counted = TRUE;
		}
		if (entry->loading) {
			guint64 loads_seen = entry->loads_done;

			stats->coalesced++;
			while (entry->loading && entry->loads_done == loads_seen) {
				/* Waits use real time: a manual clock would never wake us. */
				gint64 wait_until = g_get_monotonic_time() +
						    (deadline_us - clock_mono_us());

				if (!g_cond_wait_until(&entry->loaded, &cache->lock, wait_until) &&
				    clock_mono_us() >= deadline_us)
					break;
			}
			if (entry->loading && entry->loads_done == loads_seen) {
				g_set_error(&failure, INFRAFS_ERROR, INFRAFS_ERROR_TIMEOUT,
					    "%s: gave up waiting %u ms for a fetch in progress",
					    classes_name(data_class), cache->wait_ms);
				break;
			}
			/* A value fetched after we asked answers us, even with TTL 0. */
			if (entry->value != NULL && entry->load_error == NULL &&
			    entry->value->fetched_mono_us >= asked_us) {
				result = cache_value_ref(entry->value);
				break;
			}
			if (!is_fresh(entry, clock_mono_us()) && entry->load_error != NULL) {
				/* The fetch we waited on failed: share its error. */
				failure = g_error_copy(entry->load_error);
				break;
			}
			continue;
		}
		if (run_loader(cache, entry, mode != GET_CACHED, &result, &failure) &&
		    failure == NULL)
			break;
		/* A live read whose fetch was discarded by an expiry fetches again. */
		if (failure != NULL)
			break;
		/* Our answer was discarded by an expiry: fetch again. */
	}
	if (result == NULL && allow_stale) {
		result = stale_if_error(cache, entry);
		served_stale = result != NULL;
	}
	if (result == NULL)
		g_propagate_error(error, g_steal_pointer(&failure));
	g_clear_error(&failure);
	GPtrArray *changes = take_changes(cache);

	g_mutex_unlock(&cache->lock);
	report_changes(cache, changes);
	if (stale != NULL)
		*stale = served_stale;
	return result;
}

struct cache_value *cache_peek(struct cache *cache, enum data_class data_class, const char *key)
{
	struct cache_value *value = NULL;

	g_mutex_lock(&cache->lock);
	struct cache_entry *entry = find_entry(cache, data_class, key, FALSE);

	if (entry != NULL && entry->value != NULL)
		value = cache_value_ref(entry->value);
	g_mutex_unlock(&cache->lock);
	return value;
}

guint cache_expire(struct cache *cache, cache_match_fn match, gpointer user_data)
{
	GHashTableIter iter;
	gpointer entry_pointer;
	guint expired = 0;

	g_mutex_lock(&cache->lock);
	g_hash_table_iter_init(&iter, cache->entries);
	while (g_hash_table_iter_next(&iter, NULL, &entry_pointer)) {
		struct cache_entry *entry = entry_pointer;

		if (!match(entry->data_class, entry->key, entry->value, user_data))
			continue;
		entry->hard_expired = TRUE;
		entry->generation++;
		expired++;
	}
	g_mutex_unlock(&cache->lock);
	return expired;
}

void cache_set_ttl(struct cache *cache, enum data_class data_class, guint ttl_s)
{
	/* Values read it without the lock (cache_value_expires_mono_us). */
	g_atomic_int_set((gint *)&cache->ttl_s[data_class], (gint)ttl_s);
}

void cache_set_grace(struct cache *cache, enum data_class data_class, guint grace_s)
{
	g_mutex_lock(&cache->lock);
	cache->grace_s[data_class] = grace_s;
	g_mutex_unlock(&cache->lock);
}

void cache_set_max_stale(struct cache *cache, guint max_stale_s)
{
	g_mutex_lock(&cache->lock);
	cache->max_stale_s = max_stale_s;
	g_mutex_unlock(&cache->lock);
}

void cache_set_changed_hook(struct cache *cache, cache_differ_fn differ, cache_changed_fn changed,
			    gpointer user_data)
{
	g_mutex_lock(&cache->lock);
	cache->differ = differ;
	cache->changed = changed;
	cache->changed_data = user_data;
	g_mutex_unlock(&cache->lock);
}

void cache_set_max_bytes(struct cache *cache, guint64 max_bytes)
{
	g_mutex_lock(&cache->lock);
	cache->max_bytes = max_bytes;
	enforce_bound(cache);
	g_mutex_unlock(&cache->lock);
}

guint64 cache_total_bytes(struct cache *cache)
{
	g_mutex_lock(&cache->lock);
	guint64 total = cache->total_bytes;
	g_mutex_unlock(&cache->lock);
	return total;
}

guint cache_get_ttl(struct cache *cache, enum data_class data_class)
{
	return (guint)g_atomic_int_get((const gint *)&cache->ttl_s[data_class]);
}

void cache_class_stats(struct cache *cache, enum data_class data_class,
		       struct cache_class_stats *stats)
{
	g_mutex_lock(&cache->lock);
	*stats = cache->stats[data_class];
	stats->ttl_s = cache->ttl_s[data_class];
	stats->grace_s = cache->grace_s[data_class];
	g_mutex_unlock(&cache->lock);
}
