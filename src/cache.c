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
	gint64 expires_mono_us;
};

struct cache_entry {
	enum data_class data_class;
	char *key;                  /* NULL for whole collections */
	struct cache_value *value;  /* last good value, or NULL */
	gint64 expires_mono_us;     /* fresh until then (0: expired) */
	guint64 generation;         /* bumped by every expiry */
	gboolean loading;           /* a reader is running the loader */
	guint64 loads_done;         /* completed loads, to tell waiters apart */
	GError *load_error;         /* error of the last load, if it failed */
	GCond loaded;               /* broadcast when a load completes */
};

struct cache {
	GMutex lock;                /* guards everything below and every entry */
	GHashTable *entries;        /* "class/key" -> struct cache_entry; owned */
	guint ttl_s[CLASS_COUNT];
	struct cache_class_stats stats[CLASS_COUNT];
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
	return value->expires_mono_us;
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
	return cache;
}

void cache_free(struct cache *cache)
{
	if (cache == NULL)
		return;
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
		g_cond_init(&entry->loaded);
		g_hash_table_insert(cache->entries, g_steal_pointer(&id), entry);
		cache->stats[data_class].entries++;
	}
	return entry;
}

static gboolean is_fresh(const struct cache_entry *entry, gint64 now_us)
{
	return entry->value != NULL && now_us < entry->expires_mono_us;
}

/* Publish a loaded value. Call with the lock held. */
static void store_value(struct cache *cache, struct cache_entry *entry, gpointer data,
			gsize size_bytes)
{
	struct cache_value *value = g_atomic_rc_box_new0(struct cache_value);
	gint64 now_us = clock_mono_us();
	struct cache_class_stats *stats = &cache->stats[entry->data_class];

	value->data = data;
	value->free_data = cache->free_value;
	value->size_bytes = size_bytes;
	value->fetched_wall_us = clock_wall_us();
	value->fetched_mono_us = now_us;
	value->expires_mono_us = now_us + (gint64)cache->ttl_s[entry->data_class] * G_USEC_PER_SEC;
	if (entry->value != NULL)
		stats->bytes -= entry->value->size_bytes;
	stats->bytes += size_bytes;
	cache_value_unref(entry->value);
	entry->value = value;
	entry->expires_mono_us = value->expires_mono_us;
	g_clear_error(&entry->load_error);
}

/* Run the loader for `entry` as this reader. Call with the lock held; it is
 * dropped around the loader. Returns TRUE when a value was stored. */
static gboolean run_loader(struct cache *cache, struct cache_entry *entry, GError **error)
{
	struct cache_class_stats *stats = &cache->stats[entry->data_class];
	guint64 generation = entry->generation;
	g_autoptr(GError) load_error = NULL;
	gsize size_bytes = 0;

	entry->loading = TRUE;
	g_mutex_unlock(&cache->lock);

	gint64 start_us = clock_mono_us();
	gpointer data = cache->load(entry->data_class, entry->key, &size_bytes, &load_error,
				    cache->user_data);
	gint64 elapsed_us = clock_mono_us() - start_us;

	g_mutex_lock(&cache->lock);
	entry->loading = FALSE;
	entry->loads_done++;
	stats->fetches++;
	stats->fetch_us_total += (guint64)elapsed_us;
	gboolean stored = FALSE;

	if (data == NULL) {
		stats->errors++;
		g_clear_error(&entry->load_error);
		entry->load_error = g_error_copy(load_error);
		g_propagate_error(error, g_steal_pointer(&load_error));
	} else if (generation != entry->generation) {
		/* Expired while we fetched: our answer may predate the expiry.
		 * No error either: waiters must not take an older failure. */
		cache->free_value(data);
		g_clear_error(&entry->load_error);
	} else {
		store_value(cache, entry, data, size_bytes);
		stored = TRUE;
	}
	g_cond_broadcast(&entry->loaded);
	return stored || data == NULL;
}

struct cache_value *cache_get(struct cache *cache, enum data_class data_class, const char *key,
			      GError **error)
{
	g_return_val_if_fail(data_class < CLASS_COUNT, NULL);
	struct cache_value *result = NULL;
	struct cache_class_stats *stats = &cache->stats[data_class];
	gint64 asked_us = clock_mono_us();
	gint64 deadline_us = asked_us + (gint64)cache->wait_ms * 1000;
	gboolean counted = FALSE;

	g_mutex_lock(&cache->lock);
	struct cache_entry *entry = find_entry(cache, data_class, key, TRUE);

	for (;;) {
		if (is_fresh(entry, clock_mono_us())) {
			if (!counted)
				stats->hits++;
			result = cache_value_ref(entry->value);
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
				g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_TIMEOUT,
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
				g_propagate_error(error, g_error_copy(entry->load_error));
				break;
			}
			continue;
		}
		GError *load_error = NULL;

		if (run_loader(cache, entry, &load_error) && load_error == NULL) {
			result = cache_value_ref(entry->value);
			break;
		}
		if (load_error != NULL) {
			g_propagate_error(error, load_error);
			break;
		}
		/* Our answer was discarded by an expiry: fetch again. */
	}
	g_mutex_unlock(&cache->lock);
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
		entry->expires_mono_us = 0;
		entry->generation++;
		expired++;
	}
	g_mutex_unlock(&cache->lock);
	return expired;
}

void cache_set_ttl(struct cache *cache, enum data_class data_class, guint ttl_s)
{
	g_mutex_lock(&cache->lock);
	cache->ttl_s[data_class] = ttl_s;
	g_mutex_unlock(&cache->lock);
}

guint cache_get_ttl(struct cache *cache, enum data_class data_class)
{
	g_mutex_lock(&cache->lock);
	guint ttl_s = cache->ttl_s[data_class];
	g_mutex_unlock(&cache->lock);
	return ttl_s;
}

void cache_class_stats(struct cache *cache, enum data_class data_class,
		       struct cache_class_stats *stats)
{
	g_mutex_lock(&cache->lock);
	*stats = cache->stats[data_class];
	stats->ttl_s = cache->ttl_s[data_class];
	g_mutex_unlock(&cache->lock);
}
