/* Unit tests for cache: TTLs on the manual clock, expiry and generations,
 * coalesced loading across real threads, stats, the grace window
 * (stale-while-revalidate) with its background refresh, stale-if-error and
 * its backoff (design.md, "Cache semantics").
 *
 * The loader is in-process: it counts its calls and returns "class/key#call"
 * strings. Threads are synchronised by gates (GMutex + GCond with deadlines)
 * and, where the cache offers no hook, by bounded polling of its stats.
 * Nothing sleeps. */
#include <string.h>

#include <glib.h>

#include "infrafs/cache.h"
#include "infrafs/clock.h"
#include "infrafs/errors.h"

#define TTL_S 60
/* A coalesced reader's longest wait: far beyond any test. */
#define WAIT_MS 60000
#define N_READERS 32
#define START_MONO_US ((gint64)1000 * G_USEC_PER_SEC)
#define START_WALL_US ((gint64)1700000000 * G_USEC_PER_SEC)
/* Bound of every wait between test threads, in real time. */
#define SYNC_DEADLINE_US ((gint64)10 * G_USEC_PER_SEC)

/* The manual clocks all tests run on. */
static gint64 mono_us;
static gint64 wall_us;
/* Values the cache has freed (free_value calls). */
static gint values_freed;

static void free_value(gpointer data)
{
	g_atomic_int_inc(&values_freed);
	g_free(data);
}

struct fake_loader {
	gint calls;                /* atomic: loader calls so far */
	guint32 fail_mask;         /* bit n-1 set: call n fails */
	int fail_code;             /* code of those failures */
	gint64 advance_us;         /* manual clock moves this much in each call */
	struct cache *cache;       /* the cache under test */
	gint64 fetched_ago_us;     /* loads report data fetched this long ago */
	gint last_fresh_only;      /* atomic: fresh_only of the last load */

	/* Hooks, each on one call number (0: never). */
	guint expire_call;         /* expires entries of key `expire_key` */
	const char *expire_key;
	guint expired;             /* what that cache_expire() returned */
	guint gate_call;           /* signals gate_entered, waits for gate_open */
	guint await_call;          /* waits for `await_started` readers to start and
				    * `await_coalesced` to wait, or for await_done */
	guint await_started;
	guint64 await_coalesced;
	gint await_done;           /* atomic */

	GMutex lock;               /* guards the fields below */
	GCond cond;                /* broadcast when any of them changes */
	guint started;             /* reader threads about to call cache_get */
	gboolean gate_entered;
	gboolean gate_open;
	gint sync_failed;          /* atomic: a bounded wait ran out */
};

struct fixture {
	struct fake_loader loader;
	struct cache *cache;
};

static gboolean wait_locked(struct fake_loader *loader, const gboolean *flag, gint64 deadline)
{
	while (!*flag)
		if (!g_cond_wait_until(&loader->cond, &loader->lock, deadline) && !*flag)
			return FALSE;
	return TRUE;
}

static gboolean coalesced_at_least(struct cache *cache, enum data_class data_class, guint64 want,
				   const gint *done)
{
	gint64 deadline = g_get_monotonic_time() + SYNC_DEADLINE_US;

	/* The cache has no hook for "a reader is waiting": poll its stats. */
	for (;;) {
		struct cache_class_stats stats;

		cache_class_stats(cache, data_class, &stats);
		if (stats.coalesced >= want || (done != NULL && g_atomic_int_get(done)))
			return TRUE;
		if (g_get_monotonic_time() > deadline)
			return FALSE;
		g_thread_yield();
	}
}

static void gate_pass(struct fake_loader *loader)
{
	g_mutex_lock(&loader->lock);
	loader->gate_entered = TRUE;
	g_cond_broadcast(&loader->cond);
	if (!wait_locked(loader, &loader->gate_open, g_get_monotonic_time() + SYNC_DEADLINE_US))
		g_atomic_int_set(&loader->sync_failed, TRUE);
	g_mutex_unlock(&loader->lock);
}

static void await_readers(struct fake_loader *loader, enum data_class data_class)
{
	gint64 deadline = g_get_monotonic_time() + SYNC_DEADLINE_US;

	g_mutex_lock(&loader->lock);
	while (loader->started < loader->await_started)
		if (!g_cond_wait_until(&loader->cond, &loader->lock, deadline) &&
		    loader->started < loader->await_started)
			break;
	if (loader->started < loader->await_started)
		g_atomic_int_set(&loader->sync_failed, TRUE);
	g_mutex_unlock(&loader->lock);
	/* The cache lock is not held while we load: reading stats is allowed. */
	if (!coalesced_at_least(loader->cache, data_class, loader->await_coalesced,
				&loader->await_done))
		g_atomic_int_set(&loader->sync_failed, TRUE);
}

static gboolean key_matches(enum data_class data_class, const char *key,
			    const struct cache_value *value, gpointer user_data)
{
	return g_strcmp0(key, user_data) == 0;
}

static gpointer fake_load(struct cache_load *load, GError **error, gpointer user_data)
{
	struct fake_loader *loader = user_data;
	guint call = (guint)g_atomic_int_add(&loader->calls, 1) + 1;
	enum data_class data_class = load->data_class;
	const char *key = load->key;

	g_atomic_int_set(&loader->last_fresh_only, load->fresh_only);
	load->fetched_wall_us = loader->fetched_ago_us ? wall_us - loader->fetched_ago_us : 0;

	if (call == loader->expire_call)
		loader->expired = cache_expire(loader->cache, key_matches, (gpointer)loader->expire_key);
	if (call == loader->gate_call)
		gate_pass(loader);
	if (call == loader->await_call)
		await_readers(loader, data_class);
	mono_us += loader->advance_us;
	if (call <= 32 && (loader->fail_mask & (1u << (call - 1)))) {
		g_set_error(error, INFRAFS_ERROR, loader->fail_code, "fake %s/%s: load %u failed",
			    classes_name(data_class), key ? key : "", call);
		return NULL;
	}

	char *value = g_strdup_printf("%s/%s#%u", classes_name(data_class), key ? key : "", call);

	load->size_bytes = strlen(value);
	return value;
}

static struct cache *new_cache(struct fake_loader *loader, guint wait_ms)
{
	guint ttl_s[CLASS_COUNT];

	for (int c = 0; c < CLASS_COUNT; c++)
		ttl_s[c] = TTL_S;
	return cache_new(ttl_s, wait_ms, fake_load, free_value, loader);
}

static void fixture_set_up(struct fixture *f, gconstpointer data)
{
	mono_us = START_MONO_US;
	wall_us = START_WALL_US;
	clock_use_manual(&mono_us, &wall_us);
	g_atomic_int_set(&values_freed, 0);
	g_mutex_init(&f->loader.lock);
	g_cond_init(&f->loader.cond);
	f->loader.fail_code = INFRAFS_ERROR_UNAVAILABLE;
	f->cache = new_cache(&f->loader, WAIT_MS);
	f->loader.cache = f->cache;
}

static void fixture_tear_down(struct fixture *f, gconstpointer data)
{
	cache_free(f->cache);
	clock_use_manual(NULL, NULL);
	g_mutex_clear(&f->loader.lock);
	g_cond_clear(&f->loader.cond);
}

static guint calls(struct fixture *f)
{
	return (guint)g_atomic_int_get(&f->loader.calls);
}

/* cache_get that must succeed; returns the new reference. */
static struct cache_value *get_ok(struct fixture *f, enum data_class data_class, const char *key)
{
	g_autoptr(GError) error = NULL;
	struct cache_value *value = cache_get(f->cache, data_class, key, &error);

	g_assert_no_error(error);
	g_assert_nonnull(value);
	return value;
}

static void stats_of(struct fixture *f, enum data_class data_class, struct cache_class_stats *stats)
{
	cache_class_stats(f->cache, data_class, stats);
}

/* Accessors that tolerate NULL, so that a failed (non-fatal) assertion on
 * a value does not crash the tests that follow. */
static const char *data_of(const struct cache_value *value)
{
	return value ? cache_value_data(value) : NULL;
}

static gint64 expires_of(const struct cache_value *value)
{
	return value ? cache_value_expires_mono_us(value) : -1;
}

static gint64 fetched_wall_of(const struct cache_value *value)
{
	return value ? cache_value_fetched_wall_us(value) : -1;
}

/* ---- reading ----------------------------------------------------------- */

static void test_get_first_loads(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) value = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 1);
	g_assert_cmpstr(data_of(value), ==, "hosts/a#1");
	g_assert_cmpint(fetched_wall_of(value), ==, START_WALL_US);
	g_assert_cmpint(expires_of(value), ==,
			START_MONO_US + (gint64)TTL_S * G_USEC_PER_SEC);
}

static void test_get_fresh_hit(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) first = get_ok(f, CLASS_HOSTS, "a");

	mono_us += G_USEC_PER_SEC;
	g_autoptr(cache_value) second = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 1);
	/* The same published value, not a copy. */
	g_assert_true(data_of(second) == data_of(first));
}

static void test_get_keys_and_classes_separate(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");
	g_autoptr(cache_value) b = get_ok(f, CLASS_HOSTS, "b");
	g_autoptr(cache_value) servers_a = get_ok(f, CLASS_SERVERS, "a");
	g_autoptr(cache_value) whole = get_ok(f, CLASS_AGGREGATES, NULL);
	g_autoptr(cache_value) whole_again = get_ok(f, CLASS_AGGREGATES, NULL);

	g_assert_cmpuint(calls(f), ==, 4);
	g_assert_cmpstr(data_of(a), ==, "hosts/a#1");
	g_assert_cmpstr(data_of(b), ==, "hosts/b#2");
	g_assert_cmpstr(data_of(servers_a), ==, "servers/a#3");
	g_assert_cmpstr(data_of(whole), ==, "aggregates/#4");
	g_assert_true(data_of(whole_again) == data_of(whole));
}

static void test_peek_never_fetches(struct fixture *f, gconstpointer data)
{
	g_assert_null(cache_peek(f->cache, CLASS_HOSTS, "a"));
	g_assert_cmpuint(calls(f), ==, 0);

	g_autoptr(cache_value) value = get_ok(f, CLASS_HOSTS, "a");

	/* Stale values are still there to peek at. */
	mono_us += (gint64)10 * TTL_S * G_USEC_PER_SEC;
	g_autoptr(cache_value) peeked = cache_peek(f->cache, CLASS_HOSTS, "a");

	g_assert_nonnull(peeked);
	g_assert_true(data_of(peeked) == data_of(value));
	g_assert_cmpuint(calls(f), ==, 1);
}

/* ---- TTL --------------------------------------------------------------- */

static void test_ttl_expired_refetches(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) first = get_ok(f, CLASS_HOSTS, "a");

	mono_us += (gint64)TTL_S * G_USEC_PER_SEC - 1;
	g_autoptr(cache_value) still_fresh = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 1);

	mono_us += 1;
	g_autoptr(cache_value) refetched = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 2);
	g_assert_cmpstr(data_of(refetched), ==, "hosts/a#2");

	g_autoptr(cache_value) hit = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 2);
	g_assert_true(data_of(hit) == data_of(refetched));
	/* A reader holding the old value keeps its snapshot. */
	g_assert_cmpstr(data_of(first), ==, "hosts/a#1");
	g_assert_cmpint(g_atomic_int_get(&values_freed), ==, 0);
}

static void test_ttl_zero_fetches_every_time(struct fixture *f, gconstpointer data)
{
	cache_set_ttl(f->cache, CLASS_SERVERS, 0);
	g_assert_cmpuint(cache_get_ttl(f->cache, CLASS_SERVERS), ==, 0);
	for (guint i = 1; i <= 3; i++) {
		g_autoptr(cache_value) value = get_ok(f, CLASS_SERVERS, "h1");
		g_autofree char *expected = g_strdup_printf("servers/h1#%u", i);

		g_assert_cmpstr(data_of(value), ==, expected);
	}
	g_assert_cmpuint(calls(f), ==, 3);

	/* Other classes keep their TTL. */
	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");
	g_autoptr(cache_value) b = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 4);
}

static void test_ttl_change_applies_to_next_fetch(struct fixture *f, gconstpointer data)
{
	cache_set_ttl(f->cache, CLASS_HOSTS, 5);
	g_assert_cmpuint(cache_get_ttl(f->cache, CLASS_HOSTS), ==, 5);

	g_autoptr(cache_value) value = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpint(expires_of(value), ==,
			START_MONO_US + (gint64)5 * G_USEC_PER_SEC);
	mono_us += (gint64)5 * G_USEC_PER_SEC;
	g_autoptr(cache_value) again = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 2);
}

/* ---- expiry ------------------------------------------------------------ */

struct match_record {
	const char *key;          /* expire this key */
	guint calls;              /* match calls */
	guint with_value;         /* of which had a value */
};

static gboolean record_match(enum data_class data_class, const char *key,
			     const struct cache_value *value, gpointer user_data)
{
	struct match_record *record = user_data;

	record->calls++;
	record->with_value += value != NULL;
	return data_class == CLASS_HOSTS && g_strcmp0(key, record->key) == 0;
}

static void test_expire_match_forces_refetch(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");
	g_autoptr(cache_value) b = get_ok(f, CLASS_HOSTS, "b");
	g_autoptr(cache_value) servers_a = get_ok(f, CLASS_SERVERS, "a");
	struct match_record record = { .key = "a" };

	g_assert_cmpuint(cache_expire(f->cache, record_match, &record), ==, 1);
	g_assert_cmpuint(record.calls, ==, 3);
	g_assert_cmpuint(record.with_value, ==, 3);

	g_autoptr(cache_value) a_again = get_ok(f, CLASS_HOSTS, "a");
	g_autoptr(cache_value) b_again = get_ok(f, CLASS_HOSTS, "b");
	g_autoptr(cache_value) servers_a_again = get_ok(f, CLASS_SERVERS, "a");

	g_assert_cmpuint(calls(f), ==, 4);
	g_assert_cmpstr(data_of(a_again), ==, "hosts/a#4");
	g_assert_true(data_of(b_again) == data_of(b));
	g_assert_true(data_of(servers_a_again) == data_of(servers_a));
}

static void test_expire_nothing_matches(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");
	struct match_record record = { .key = "zzz" };

	g_assert_cmpuint(cache_expire(f->cache, record_match, &record), ==, 0);
	g_autoptr(cache_value) again = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 1);
}

/* ---- errors ------------------------------------------------------------ */

static void test_error_propagates_then_retries(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	struct cache_class_stats stats;

	f->loader.fail_mask = 1u << 0;
	f->loader.fail_code = INFRAFS_ERROR_NOT_FOUND;
	g_assert_null(cache_get(f->cache, CLASS_QUOTAS, "p1", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_NOT_FOUND);
	g_assert_cmpstr(error ? error->message : NULL, ==, "fake quotas/p1: load 1 failed");
	g_assert_cmpuint(calls(f), ==, 1);
	stats_of(f, CLASS_QUOTAS, &stats);
	g_assert_cmpuint(stats.errors, ==, 1);
	g_assert_cmpuint(stats.fetches, ==, 1);

	/* Errors are not cached: the next read tries again, same instant. */
	g_autoptr(cache_value) value = get_ok(f, CLASS_QUOTAS, "p1");

	g_assert_cmpuint(calls(f), ==, 2);
	g_assert_cmpstr(data_of(value), ==, "quotas/p1#2");
	stats_of(f, CLASS_QUOTAS, &stats);
	g_assert_cmpuint(stats.errors, ==, 1);
	g_assert_cmpuint(stats.fetches, ==, 2);
}

static void test_error_keeps_previous_value(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(cache_value) first = get_ok(f, CLASS_HOSTS, "a");

	f->loader.fail_mask = 1u << 1;
	mono_us += (gint64)TTL_S * G_USEC_PER_SEC;
	g_assert_null(cache_get(f->cache, CLASS_HOSTS, "a", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE);

	/* The failed refresh did not throw the old value away. */
	g_autoptr(cache_value) peeked = cache_peek(f->cache, CLASS_HOSTS, "a");

	g_assert_nonnull(peeked);
	g_assert_cmpstr(data_of(peeked), ==, "hosts/a#1");
}

/* ---- stats ------------------------------------------------------------- */

static void test_stats_counters(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	struct cache_class_stats hosts;
	struct cache_class_stats flavors;
	struct cache_class_stats quotas;

	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");     /* "hosts/a#1": 9 bytes */
	g_autoptr(cache_value) a_hit = get_ok(f, CLASS_HOSTS, "a");
	g_autoptr(cache_value) bb = get_ok(f, CLASS_HOSTS, "bb");   /* "hosts/bb#2": 10 bytes */
	g_autoptr(cache_value) bb_hit = get_ok(f, CLASS_HOSTS, "bb");
	g_autoptr(cache_value) a_hit2 = get_ok(f, CLASS_HOSTS, "a");

	f->loader.fail_mask = 1u << 2;
	g_assert_null(cache_get(f->cache, CLASS_FLAVORS, NULL, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE);

	stats_of(f, CLASS_HOSTS, &hosts);
	g_assert_cmpuint(hosts.entries, ==, 2);
	g_assert_cmpuint(hosts.bytes, ==, 19);
	g_assert_cmpuint(hosts.hits, ==, 3);
	g_assert_cmpuint(hosts.misses, ==, 2);
	g_assert_cmpuint(hosts.fetches, ==, 2);
	g_assert_cmpuint(hosts.errors, ==, 0);
	g_assert_cmpuint(hosts.coalesced, ==, 0);
	g_assert_cmpuint(hosts.ttl_s, ==, TTL_S);

	stats_of(f, CLASS_FLAVORS, &flavors);
	g_assert_cmpuint(flavors.misses, ==, 1);
	g_assert_cmpuint(flavors.fetches, ==, 1);
	g_assert_cmpuint(flavors.errors, ==, 1);
	g_assert_cmpuint(flavors.hits, ==, 0);
	g_assert_cmpuint(flavors.bytes, ==, 0);

	stats_of(f, CLASS_QUOTAS, &quotas);
	g_assert_cmpuint(quotas.entries, ==, 0);
	g_assert_cmpuint(quotas.misses, ==, 0);
}

static void test_stats_refetch_replaces_bytes(struct fixture *f, gconstpointer data)
{
	struct cache_class_stats stats;
	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");
	g_autoptr(cache_value) bb = get_ok(f, CLASS_HOSTS, "bb");

	mono_us += (gint64)TTL_S * G_USEC_PER_SEC;
	g_autoptr(cache_value) a_again = get_ok(f, CLASS_HOSTS, "a"); /* "hosts/a#3" */

	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.bytes, ==, 19);
	g_assert_cmpuint(stats.entries, ==, 2);
	g_assert_cmpuint(stats.fetches, ==, 3);
}

static void test_stats_fetch_time(struct fixture *f, gconstpointer data)
{
	struct cache_class_stats stats;

	f->loader.advance_us = 250000;
	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");
	g_autoptr(cache_value) b = get_ok(f, CLASS_HOSTS, "b");

	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.fetch_us_total, ==, 500000);
	/* Freshness counts from the end of the fetch. */
	g_assert_cmpint(expires_of(a), ==,
			START_MONO_US + 250000 + (gint64)TTL_S * G_USEC_PER_SEC);
}

/* ---- ownership --------------------------------------------------------- */

static void test_value_outlives_cache(struct fixture *f, gconstpointer data)
{
	struct cache_value *value = get_ok(f, CLASS_HOSTS, "a");

	cache_free(f->cache);
	f->cache = NULL;
	g_assert_cmpint(g_atomic_int_get(&values_freed), ==, 0);
	g_assert_cmpstr(data_of(value), ==, "hosts/a#1");
	cache_value_unref(value);
	g_assert_cmpint(g_atomic_int_get(&values_freed), ==, 1);
}

/* ---- generations ------------------------------------------------------- */

static void test_generation_expire_during_load_refetches(struct fixture *f, gconstpointer data)
{
	struct cache_class_stats stats;

	/* The first load expires its own entry, as an invalidation racing it would. */
	f->loader.expire_call = 1;
	f->loader.expire_key = "a";
	g_autoptr(cache_value) value = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(f->loader.expired, ==, 1);
	g_assert_cmpuint(calls(f), ==, 2);
	g_assert_cmpstr(data_of(value), ==, "hosts/a#2");
	/* The answer that predates the expiry was dropped. */
	g_assert_cmpint(g_atomic_int_get(&values_freed), ==, 1);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.misses, ==, 1);
	g_assert_cmpuint(stats.fetches, ==, 2);

	g_autoptr(cache_value) hit = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(calls(f), ==, 2);
	g_assert_true(data_of(hit) == data_of(value));
}

static void test_generation_other_key_expiry_keeps_load(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) b = get_ok(f, CLASS_HOSTS, "b");

	f->loader.expire_call = 2;
	f->loader.expire_key = "b";
	g_autoptr(cache_value) a = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpuint(f->loader.expired, ==, 1);
	g_assert_cmpstr(data_of(a), ==, "hosts/a#2");
	g_assert_cmpuint(calls(f), ==, 2);
	g_assert_cmpint(g_atomic_int_get(&values_freed), ==, 0);
}

/* ---- threads ----------------------------------------------------------- */

struct reader {
	struct fixture *f;
	struct cache *cache;
	enum data_class data_class;
	const char *key;
	struct cache_value *value;     /* what cache_get returned */
	GError *error;
	gint done;                     /* atomic */
};

static gpointer reader_thread(gpointer data)
{
	struct reader *reader = data;
	struct fake_loader *loader = &reader->f->loader;

	g_mutex_lock(&loader->lock);
	loader->started++;
	g_cond_broadcast(&loader->cond);
	g_mutex_unlock(&loader->lock);
	reader->value = cache_get(reader->cache, reader->data_class, reader->key, &reader->error);
	g_atomic_int_set(&reader->done, TRUE);
	/* Hooks waiting for this reader to finish. */
	g_atomic_int_set(&loader->await_done, TRUE);
	return NULL;
}

static void reader_clear(struct reader *reader)
{
	g_clear_pointer(&reader->value, cache_value_unref);
	g_clear_error(&reader->error);
}

static GThread *start_reader(struct reader *reader, struct fixture *f, struct cache *cache,
			     const char *key)
{
	*reader = (struct reader){ .f = f, .cache = cache, .data_class = CLASS_HOSTS, .key = key };
	return g_thread_new("reader", reader_thread, reader);
}

static gboolean wait_gate_entered(struct fake_loader *loader)
{
	g_mutex_lock(&loader->lock);
	gboolean entered = wait_locked(loader, &loader->gate_entered,
				       g_get_monotonic_time() + SYNC_DEADLINE_US);
	g_mutex_unlock(&loader->lock);
	return entered;
}

static void open_gate(struct fake_loader *loader)
{
	g_mutex_lock(&loader->lock);
	loader->gate_open = TRUE;
	g_cond_broadcast(&loader->cond);
	g_mutex_unlock(&loader->lock);
}

static void run_readers(struct fixture *f, struct reader *readers, guint n)
{
	GThread *threads[N_READERS];

	g_assert_cmpuint(n, <=, N_READERS);
	for (guint i = 0; i < n; i++)
		threads[i] = start_reader(&readers[i], f, f->cache, "cold");
	for (guint i = 0; i < n; i++)
		g_thread_join(threads[i]);
}

static void test_coalesce_one_load_many_readers(struct fixture *f, gconstpointer data)
{
	struct reader readers[N_READERS];
	struct cache_class_stats stats;

	/* The one load waits until every other reader waits on it. */
	f->loader.await_call = 1;
	f->loader.await_started = N_READERS;
	f->loader.await_coalesced = N_READERS - 1;
	run_readers(f, readers, N_READERS);

	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	g_assert_cmpuint(calls(f), ==, 1);
	for (guint i = 0; i < N_READERS; i++) {
		g_assert_no_error(readers[i].error);
		g_assert_nonnull(readers[i].value);
		g_assert_true(data_of(readers[i].value) ==
			      data_of(readers[0].value));
	}
	g_assert_cmpstr(data_of(readers[0].value), ==, "hosts/cold#1");
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.fetches, ==, 1);
	g_assert_cmpuint(stats.misses, ==, N_READERS);
	g_assert_cmpuint(stats.coalesced, ==, N_READERS - 1);
	g_assert_cmpuint(stats.hits, ==, 0);
	for (guint i = 0; i < N_READERS; i++)
		reader_clear(&readers[i]);
}

static void test_coalesce_error_shared(struct fixture *f, gconstpointer data)
{
	struct reader readers[N_READERS];
	struct cache_class_stats stats;

	f->loader.fail_mask = 1u << 0;
	f->loader.await_call = 1;
	f->loader.await_started = N_READERS;
	f->loader.await_coalesced = N_READERS - 1;
	run_readers(f, readers, N_READERS);

	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	g_assert_cmpuint(calls(f), ==, 1);
	for (guint i = 0; i < N_READERS; i++) {
		g_assert_null(readers[i].value);
		g_assert_error(readers[i].error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE);
		if (readers[i].error != NULL)
			g_assert_cmpstr(readers[i].error->message, ==,
					"fake hosts/cold: load 1 failed");
	}
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.fetches, ==, 1);
	g_assert_cmpuint(stats.errors, ==, 1);
	g_assert_cmpuint(stats.coalesced, ==, N_READERS - 1);
	for (guint i = 0; i < N_READERS; i++)
		reader_clear(&readers[i]);
}

/* With TTL 0 every reader fetches, but readers that waited on a fetch which
 * started after they asked take its answer: still one load for N readers. */
static void test_coalesce_ttl_zero_one_load(struct fixture *f, gconstpointer data)
{
	struct reader readers[N_READERS];

	cache_set_ttl(f->cache, CLASS_HOSTS, 0);
	f->loader.await_call = 1;
	f->loader.await_started = N_READERS;
	f->loader.await_coalesced = N_READERS - 1;
	run_readers(f, readers, N_READERS);

	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	g_assert_cmpuint(calls(f), ==, 1);
	for (guint i = 0; i < N_READERS; i++) {
		g_assert_no_error(readers[i].error);
		g_assert_cmpstr(data_of(readers[i].value), ==, "hosts/cold#1");
	}
	for (guint i = 0; i < N_READERS; i++)
		reader_clear(&readers[i]);
}

static void test_coalesce_wait_deadline_times_out(struct fixture *f, gconstpointer data)
{
	/* A cache whose readers wait 0 ms for someone else's fetch. */
	struct cache *impatient = new_cache(&f->loader, 0);
	struct reader loading;
	g_autoptr(GError) error = NULL;
	struct cache_class_stats stats;

	f->loader.cache = impatient;
	f->loader.gate_call = 1;
	GThread *thread = start_reader(&loading, f, impatient, "slow");

	g_assert_true(wait_gate_entered(&f->loader));
	g_assert_null(cache_get(impatient, CLASS_HOSTS, "slow", &error));
	open_gate(&f->loader);
	g_thread_join(thread);

	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_TIMEOUT);
	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	g_assert_no_error(loading.error);
	g_assert_cmpstr(data_of(loading.value), ==, "hosts/slow#1");
	g_assert_cmpuint(calls(f), ==, 1);
	cache_class_stats(impatient, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.coalesced, ==, 1);
	reader_clear(&loading);
	cache_free(impatient);
}

/* A reader waits on a load that an expiry then discards; the loading reader
 * fetches again. The waiter must end with that new value. When `fail_first`,
 * an earlier load of the entry failed: its error is history by then and must
 * not be handed to the waiter. */
static void check_waiter_of_discarded_load(struct fixture *f, gboolean fail_first)
{
	guint first = fail_first ? 2 : 1;
	struct reader loading;
	struct reader waiting;
	g_autofree char *expected = g_strdup_printf("hosts/e#%u", first + 1);

	if (fail_first) {
		g_autoptr(GError) error = NULL;

		f->loader.fail_mask = 1u << 0;
		g_assert_null(cache_get(f->cache, CLASS_HOSTS, "e", &error));
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE);
	}
	/* Load `first` blocks at the gate; load `first + 1` waits until the
	 * waiting reader has either returned or gone back to waiting. */
	f->loader.gate_call = first;
	f->loader.await_call = first + 1;
	f->loader.await_coalesced = 2;
	GThread *loader_thread = start_reader(&loading, f, f->cache, "e");

	g_assert_true(wait_gate_entered(&f->loader));
	GThread *waiter_thread = start_reader(&waiting, f, f->cache, "e");

	g_assert_true(coalesced_at_least(f->cache, CLASS_HOSTS, 1, NULL));
	g_assert_cmpuint(cache_expire(f->cache, key_matches, "e"), ==, 1);
	open_gate(&f->loader);
	g_thread_join(loader_thread);
	g_thread_join(waiter_thread);

	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	g_assert_cmpuint(calls(f), ==, first + 1);
	g_assert_no_error(loading.error);
	g_assert_cmpstr(data_of(loading.value), ==, expected);
	g_assert_no_error(waiting.error);
	g_assert_cmpstr(data_of(waiting.value), ==, expected);
	reader_clear(&loading);
	reader_clear(&waiting);
}

static void test_generation_waiter_gets_new_value(struct fixture *f, gconstpointer data)
{
	check_waiter_of_discarded_load(f, FALSE);
}

static void test_generation_waiter_not_given_stale_error(struct fixture *f, gconstpointer data)
{
	check_waiter_of_discarded_load(f, TRUE);
}

/* ---- stale-while-revalidate -------------------------------------------- */

#define GRACE_S 30
#define MAX_STALE_S 3600
#define TTL_US ((gint64)TTL_S * G_USEC_PER_SEC)
#define GRACE_US ((gint64)GRACE_S * G_USEC_PER_SEC)
/* CACHE_FAILURE_BACKOFF_US of cache.c. */
#define BACKOFF_US ((gint64)2 * G_USEC_PER_SEC)

/* cache_get_full; *stale and *error as it left them. */
static struct cache_value *get_full(struct fixture *f, enum data_class data_class,
				    const char *key, gboolean *stale, GError **error)
{
	*stale = -1; /* neither TRUE nor FALSE: the cache must set it */
	return cache_get_full(f->cache, data_class, key, stale, error);
}

/* cache_get_full that must succeed with the given staleness. */
static struct cache_value *get_full_ok(struct fixture *f, enum data_class data_class,
				       const char *key, gboolean want_stale)
{
	g_autoptr(GError) error = NULL;
	gboolean stale;
	struct cache_value *value = get_full(f, data_class, key, &stale, &error);

	g_assert_no_error(error);
	g_assert_nonnull(value);
	g_assert_cmpint(stale, ==, want_stale);
	return value;
}

/* Background refreshes have no hook: poll the stats until `want` loader
 * calls of the class have completed (fetches counts them once they are
 * stored or failed). Bounded in real time. */
static gboolean fetches_reach(struct fixture *f, enum data_class data_class, guint64 want)
{
	gint64 deadline = g_get_monotonic_time() + SYNC_DEADLINE_US;

	for (;;) {
		struct cache_class_stats stats;

		stats_of(f, data_class, &stats);
		if (stats.fetches >= want)
			return TRUE;
		if (g_get_monotonic_time() > deadline)
			return FALSE;
		g_thread_yield();
	}
}

static void test_grace_hit_serves_old_value_and_refreshes_once(struct fixture *f,
							       gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	/* The refresh (load 2) holds at the gate while we look. */
	f->loader.gate_call = 2;
	mono_us += TTL_US;
	g_autoptr(cache_value) in_grace = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(in_grace), ==, "hosts/a#1");
	g_assert_true(wait_gate_entered(&f->loader));
	g_autoptr(cache_value) again = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(again), ==, "hosts/a#1");
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 1);
	g_assert_cmpuint(stats.stale_served, ==, 2);
	g_assert_cmpuint(stats.grace_s, ==, GRACE_S);

	open_gate(&f->loader);
	g_assert_true(fetches_reach(f, CLASS_HOSTS, 2));
	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 1);
}

static void test_grace_refreshed_value_is_fresh(struct fixture *f, gconstpointer data)
{
	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	mono_us += TTL_US;
	g_autoptr(cache_value) in_grace = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_true(fetches_reach(f, CLASS_HOSTS, 2));
	g_autoptr(cache_value) refreshed = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(refreshed), ==, "hosts/a#2");
	g_assert_cmpint(expires_of(refreshed), ==, mono_us + TTL_US);
	g_assert_cmpuint(calls(f), ==, 2);
	/* The reader that got the old value keeps it. */
	g_assert_cmpstr(data_of(in_grace), ==, "hosts/a#1");
}

struct full_reader {
	struct fixture *f;
	struct cache_value *value;
	gboolean stale;
	GError *error;
};

static gpointer full_reader_thread(gpointer data)
{
	struct full_reader *reader = data;

	reader->stale = -1;
	reader->value = cache_get_full(reader->f->cache, CLASS_HOSTS, "a", &reader->stale,
				       &reader->error);
	return NULL;
}

static void test_grace_concurrent_readers_start_one_refresh(struct fixture *f,
							    gconstpointer data)
{
	struct full_reader readers[N_READERS];
	GThread *threads[N_READERS];
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	/* The refresh stays in the loader until every reader has returned. */
	f->loader.gate_call = 2;
	mono_us += TTL_US;
	for (guint i = 0; i < N_READERS; i++) {
		readers[i] = (struct full_reader){ .f = f };
		threads[i] = g_thread_new("grace-reader", full_reader_thread, &readers[i]);
	}
	for (guint i = 0; i < N_READERS; i++)
		g_thread_join(threads[i]);
	g_assert_true(wait_gate_entered(&f->loader));

	for (guint i = 0; i < N_READERS; i++) {
		g_assert_no_error(readers[i].error);
		g_assert_cmpstr(data_of(readers[i].value), ==, "hosts/a#1");
		g_assert_cmpint(readers[i].stale, ==, TRUE);
	}
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 1);
	g_assert_cmpuint(stats.stale_served, ==, N_READERS);
	g_assert_cmpuint(stats.coalesced, ==, 0);

	open_gate(&f->loader);
	g_assert_true(fetches_reach(f, CLASS_HOSTS, 2));
	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	g_assert_cmpuint(calls(f), ==, 2);
	for (guint i = 0; i < N_READERS; i++) {
		g_clear_pointer(&readers[i].value, cache_value_unref);
		g_clear_error(&readers[i].error);
	}
}

static void test_grace_last_instant_still_served_stale(struct fixture *f, gconstpointer data)
{
	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	mono_us += TTL_US + GRACE_US - 1;
	g_autoptr(cache_value) last = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(last), ==, "hosts/a#1");
	g_assert_true(fetches_reach(f, CLASS_HOSTS, 2));
	g_assert_cmpuint(calls(f), ==, 2);
}

static void test_grace_beyond_window_fetches_synchronously(struct fixture *f,
							   gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	mono_us += TTL_US + GRACE_US;
	g_autoptr(cache_value) fetched = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	/* The reader waited for the load: it has the new value in hand. */
	g_assert_cmpstr(data_of(fetched), ==, "hosts/a#2");
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 0);
	g_assert_cmpuint(stats.stale_served, ==, 0);
	g_assert_cmpuint(stats.misses, ==, 2);
}

static void test_grace_zero_fetches_synchronously(struct fixture *f, gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	cache_set_grace(f->cache, CLASS_HOSTS, 0);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	mono_us += TTL_US;
	g_autoptr(cache_value) fetched = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(fetched), ==, "hosts/a#2");
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 0);
	g_assert_cmpuint(stats.grace_s, ==, 0);
}

static void test_grace_is_per_class(struct fixture *f, gconstpointer data)
{
	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) hosts = get_full_ok(f, CLASS_HOSTS, "a", FALSE);
	g_autoptr(cache_value) flavors = get_full_ok(f, CLASS_FLAVORS, NULL, FALSE);

	mono_us += TTL_US;
	/* Flavors have no grace window (cache_new's default). */
	g_autoptr(cache_value) flavors_again = get_full_ok(f, CLASS_FLAVORS, NULL, FALSE);

	g_assert_cmpstr(data_of(flavors_again), ==, "flavors/#3");
	g_assert_cmpuint(calls(f), ==, 3);
}

static void test_grace_skipped_after_expire(struct fixture *f, gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	/* Past the TTL, inside the grace window, then expired by request. */
	mono_us += TTL_US;
	g_assert_cmpuint(cache_expire(f->cache, key_matches, "a"), ==, 1);
	g_autoptr(cache_value) fetched = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(fetched), ==, "hosts/a#2");
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 0);
}

static void test_grace_skipped_after_expire_of_fresh_value(struct fixture *f,
							   gconstpointer data)
{
	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpuint(cache_expire(f->cache, key_matches, "a"), ==, 1);
	g_autoptr(cache_value) fetched = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(fetched), ==, "hosts/a#2");
	g_assert_cmpuint(calls(f), ==, 2);
}

static void test_grace_applies_again_after_expire_refetch(struct fixture *f,
							  gconstpointer data)
{
	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpuint(cache_expire(f->cache, key_matches, "a"), ==, 1);
	g_autoptr(cache_value) second = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	/* The expiry was answered by load 2; its value has a grace window. */
	mono_us += TTL_US;
	g_autoptr(cache_value) in_grace = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(in_grace), ==, "hosts/a#2");
	g_assert_true(fetches_reach(f, CLASS_HOSTS, 3));
	g_assert_cmpuint(calls(f), ==, 3);
}

static void test_grace_failed_refresh_keeps_serving_old_value(struct fixture *f,
							      gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) in_grace = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_true(fetches_reach(f, CLASS_HOSTS, 2));
	g_autoptr(cache_value) after_failure = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(after_failure), ==, "hosts/a#1");
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.errors, ==, 1);
}

/* Within CACHE_FAILURE_BACKOFF_US of a failed background refresh, a reader
 * in the grace window does not start another; after it, one does. */
static void test_grace_failed_refresh_backs_off(struct fixture *f, gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) in_grace = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_true(fetches_reach(f, CLASS_HOSTS, 2));
	mono_us += BACKOFF_US - 1;
	g_autoptr(cache_value) backing_off = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 1);

	mono_us += 1;
	g_autoptr(cache_value) retrying = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(retrying), ==, "hosts/a#1");
	g_assert_true(fetches_reach(f, CLASS_HOSTS, 3));
	g_assert_cmpuint(calls(f), ==, 3);
	g_autoptr(cache_value) refreshed = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(refreshed), ==, "hosts/a#3");
}

/* The same with stale-if-error off: the grace window alone still has a
 * copy to serve, so an outage must not cost a request per read. */
static void test_grace_failed_refresh_backs_off_without_max_stale(struct fixture *f,
								  gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	cache_set_max_stale(f->cache, 0);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) in_grace = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_true(fetches_reach(f, CLASS_HOSTS, 2));
	g_autoptr(cache_value) backing_off = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(backing_off), ==, "hosts/a#1");
	/* refreshes counts a refresh when the reader starts it, before returning. */
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.refreshes, ==, 1);
	/* One that should not have started is let finish before teardown. */
	g_assert_true(fetches_reach(f, CLASS_HOSTS, stats.refreshes + 1));
}

/* ---- stale-if-error ----------------------------------------------------- */

static void test_stale_if_error_serves_old_value(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	struct cache_class_stats stats;
	gboolean stale;

	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) served = get_full(f, CLASS_HOSTS, "a", &stale, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(data_of(served), ==, "hosts/a#1");
	g_assert_cmpint(stale, ==, TRUE);
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.errors, ==, 1);
	g_assert_cmpuint(stats.fetches, ==, 2);
	g_assert_cmpuint(stats.stale_served, ==, 1);
}

static void test_stale_if_error_plain_get_succeeds(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_ok(f, CLASS_HOSTS, "a");

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) served = cache_get(f->cache, CLASS_HOSTS, "a", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(data_of(served), ==, "hosts/a#1");
}

static void test_stale_if_error_after_expire(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gboolean stale;

	cache_set_grace(f->cache, CLASS_HOSTS, GRACE_S);
	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	/* An expiry skips the grace window but not stale-if-error. */
	f->loader.fail_mask = 1u << 1;
	g_assert_cmpuint(cache_expire(f->cache, key_matches, "a"), ==, 1);
	g_autoptr(cache_value) served = get_full(f, CLASS_HOSTS, "a", &stale, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(data_of(served), ==, "hosts/a#1");
	g_assert_cmpint(stale, ==, TRUE);
	g_assert_cmpuint(calls(f), ==, 2);
}

static void test_stale_if_error_at_max_stale_still_served(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gboolean stale;

	cache_set_max_stale(f->cache, 100);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += (gint64)100 * G_USEC_PER_SEC;
	g_autoptr(cache_value) served = get_full(f, CLASS_HOSTS, "a", &stale, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(data_of(served), ==, "hosts/a#1");
	g_assert_cmpint(stale, ==, TRUE);
}

static void test_stale_if_error_older_than_max_stale_fails(struct fixture *f,
							   gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	struct cache_class_stats stats;
	gboolean stale;

	cache_set_max_stale(f->cache, 100);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += (gint64)100 * G_USEC_PER_SEC + 1;
	g_autoptr(cache_value) served = get_full(f, CLASS_HOSTS, "a", &stale, &error);

	g_assert_null(served);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE);
	g_assert_cmpstr(error ? error->message : NULL, ==, "fake hosts/a: load 2 failed");
	g_assert_cmpint(stale, ==, FALSE);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.errors, ==, 1);
	g_assert_cmpuint(stats.stale_served, ==, 0);
}

static void test_stale_if_error_max_stale_zero_fails(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gboolean stale;

	cache_set_max_stale(f->cache, MAX_STALE_S);
	cache_set_max_stale(f->cache, 0);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) served = get_full(f, CLASS_HOSTS, "a", &stale, &error);

	g_assert_null(served);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE);
	/* Nothing to back off with: the next read asks again at once. */
	g_autoptr(cache_value) retried = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(retried), ==, "hosts/a#3");
}

static void test_stale_if_error_without_value_fails(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gboolean stale;

	cache_set_max_stale(f->cache, MAX_STALE_S);
	f->loader.fail_mask = 1u << 0;
	g_autoptr(cache_value) served = get_full(f, CLASS_HOSTS, "a", &stale, &error);

	g_assert_null(served);
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE);
	/* No copy, no backoff: the next read asks again at once. */
	g_autoptr(cache_value) retried = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(retried), ==, "hosts/a#2");
}

static void test_stale_if_error_backs_off(struct fixture *f, gconstpointer data)
{
	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) failed = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpuint(calls(f), ==, 2);
	mono_us += BACKOFF_US - 1;
	g_autoptr(cache_value) backing_off = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(backing_off), ==, "hosts/a#1");
	g_assert_cmpuint(calls(f), ==, 2);

	mono_us += 1;
	g_autoptr(cache_value) retried = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	g_assert_cmpstr(data_of(retried), ==, "hosts/a#3");
	g_assert_cmpuint(calls(f), ==, 3);
}

static void test_stale_if_error_backoff_holds_after_expire(struct fixture *f,
							   gconstpointer data)
{
	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	mono_us += TTL_US;
	g_autoptr(cache_value) failed = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	/* Expiring again during the backoff does not hammer the backend. */
	g_assert_cmpuint(cache_expire(f->cache, key_matches, "a"), ==, 1);
	g_autoptr(cache_value) backing_off = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpuint(calls(f), ==, 2);
}

static void test_stale_if_error_repeated_failure_keeps_serving(struct fixture *f,
							       gconstpointer data)
{
	struct cache_class_stats stats;

	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	/* Loads 2 and 3 fail, one backoff apart. */
	f->loader.fail_mask = (1u << 1) | (1u << 2);
	mono_us += TTL_US;
	g_autoptr(cache_value) failed = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	mono_us += BACKOFF_US;
	g_autoptr(cache_value) failed_again = get_full_ok(f, CLASS_HOSTS, "a", TRUE);

	g_assert_cmpstr(data_of(failed_again), ==, "hosts/a#1");
	g_assert_cmpuint(calls(f), ==, 3);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.errors, ==, 2);
	/* A failure does not count as a refresh of the value's age. */
	g_assert_cmpint(fetched_wall_of(failed_again), ==, START_WALL_US);
}

/* Readers waiting on a synchronous fetch that fails are all given the copy. */
static void test_stale_if_error_coalesced_readers_get_copy(struct fixture *f,
							   gconstpointer data)
{
	struct full_reader readers[N_READERS];
	GThread *threads[N_READERS];
	struct cache_class_stats stats;

	cache_set_max_stale(f->cache, MAX_STALE_S);
	g_autoptr(cache_value) first = get_full_ok(f, CLASS_HOSTS, "a", FALSE);

	f->loader.fail_mask = 1u << 1;
	/* Load 2 waits until the other readers wait on it (or one returned). */
	f->loader.await_call = 2;
	f->loader.await_coalesced = N_READERS - 1;
	mono_us += TTL_US;
	for (guint i = 0; i < N_READERS; i++) {
		readers[i] = (struct full_reader){ .f = f };
		threads[i] = g_thread_new("failing-reader", full_reader_thread, &readers[i]);
	}
	for (guint i = 0; i < N_READERS; i++)
		g_thread_join(threads[i]);

	g_assert_false(g_atomic_int_get(&f->loader.sync_failed));
	for (guint i = 0; i < N_READERS; i++) {
		g_assert_no_error(readers[i].error);
		g_assert_cmpstr(data_of(readers[i].value), ==, "hosts/a#1");
		g_assert_cmpint(readers[i].stale, ==, TRUE);
	}
	g_assert_cmpuint(calls(f), ==, 2);
	stats_of(f, CLASS_HOSTS, &stats);
	g_assert_cmpuint(stats.errors, ==, 1);
	for (guint i = 0; i < N_READERS; i++) {
		g_clear_pointer(&readers[i].value, cache_value_unref);
		g_clear_error(&readers[i].error);
	}
}

/* Data a loader says was fetched earlier (a shared cache's copy) is as
 * old here: it expires sooner, and shows its own fetch time. */
static void test_load_fetched_earlier_expires_sooner(struct fixture *f, gconstpointer data)
{
	f->loader.fetched_ago_us = (TTL_S - 1) * G_USEC_PER_SEC;
	g_autoptr(cache_value) first = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpint(fetched_wall_of(first), ==, wall_us - (gint64)(TTL_S - 1) * G_USEC_PER_SEC);
	g_assert_cmpint(expires_of(first), ==, mono_us + G_USEC_PER_SEC);
	mono_us += G_USEC_PER_SEC;
	wall_us += G_USEC_PER_SEC;
	f->loader.fetched_ago_us = 0;
	g_autoptr(cache_value) second = get_ok(f, CLASS_HOSTS, "a");

	g_assert_cmpstr(data_of(second), ==, "hosts/a#2");
	g_assert_cmpuint(calls(f), ==, 2);
}

/* live/ and refresh ask the loader for data fetched now; plain reads do not. */
static void test_load_fresh_only_for_live_and_refresh(struct fixture *f, gconstpointer data)
{
	g_autoptr(cache_value) plain = get_ok(f, CLASS_HOSTS, "a");

	g_assert_false(g_atomic_int_get(&f->loader.last_fresh_only));
	mono_us += 1; /* so that the value held predates the live read */
	g_autoptr(cache_value) live = cache_get_live(f->cache, CLASS_HOSTS, "a", NULL);

	g_assert_nonnull(live);
	g_assert_true(g_atomic_int_get(&f->loader.last_fresh_only));
	mono_us += (gint64)TTL_S * G_USEC_PER_SEC;
	g_autoptr(cache_value) again = get_ok(f, CLASS_HOSTS, "b");

	g_assert_false(g_atomic_int_get(&f->loader.last_fresh_only));
	g_assert_true(cache_fetch_now(f->cache, CLASS_HOSTS, "c", NULL));
	g_assert_true(g_atomic_int_get(&f->loader.last_fresh_only));
	g_assert_cmpuint(calls(f), ==, 4);
}

#define add_test(path, fn) \
	g_test_add(path, struct fixture, NULL, fixture_set_up, fn, fixture_tear_down)

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	add_test("/cache/get/first-loads", test_get_first_loads);
	add_test("/cache/load/fetched-earlier-expires-sooner",
		 test_load_fetched_earlier_expires_sooner);
	add_test("/cache/load/fresh-only-for-live-and-refresh",
		 test_load_fresh_only_for_live_and_refresh);
	add_test("/cache/get/fresh-hit", test_get_fresh_hit);
	add_test("/cache/get/keys-and-classes-separate", test_get_keys_and_classes_separate);
	add_test("/cache/peek/never-fetches", test_peek_never_fetches);
	add_test("/cache/ttl/expired-refetches", test_ttl_expired_refetches);
	add_test("/cache/ttl/zero-fetches-every-time", test_ttl_zero_fetches_every_time);
	add_test("/cache/ttl/change-applies-to-next-fetch", test_ttl_change_applies_to_next_fetch);
	add_test("/cache/expire/match-forces-refetch", test_expire_match_forces_refetch);
	add_test("/cache/expire/nothing-matches", test_expire_nothing_matches);
	add_test("/cache/error/propagates-then-retries", test_error_propagates_then_retries);
	add_test("/cache/error/keeps-previous-value", test_error_keeps_previous_value);
	add_test("/cache/stats/counters", test_stats_counters);
	add_test("/cache/stats/refetch-replaces-bytes", test_stats_refetch_replaces_bytes);
	add_test("/cache/stats/fetch-time", test_stats_fetch_time);
	add_test("/cache/value/outlives-cache", test_value_outlives_cache);
	add_test("/cache/generation/expire-during-load-refetches",
		 test_generation_expire_during_load_refetches);
	add_test("/cache/generation/other-key-expiry-keeps-load",
		 test_generation_other_key_expiry_keeps_load);
	add_test("/cache/generation/waiter-gets-new-value", test_generation_waiter_gets_new_value);
	add_test("/cache/generation/waiter-not-given-stale-error",
		 test_generation_waiter_not_given_stale_error);
	add_test("/cache/coalesce/one-load-many-readers", test_coalesce_one_load_many_readers);
	add_test("/cache/coalesce/error-shared", test_coalesce_error_shared);
	add_test("/cache/coalesce/ttl-zero-one-load", test_coalesce_ttl_zero_one_load);
	add_test("/cache/coalesce/wait-deadline-times-out", test_coalesce_wait_deadline_times_out);
	add_test("/cache/grace/hit-serves-old-value-and-refreshes-once",
		 test_grace_hit_serves_old_value_and_refreshes_once);
	add_test("/cache/grace/refreshed-value-is-fresh", test_grace_refreshed_value_is_fresh);
	add_test("/cache/grace/concurrent-readers-start-one-refresh",
		 test_grace_concurrent_readers_start_one_refresh);
	add_test("/cache/grace/last-instant-still-served-stale",
		 test_grace_last_instant_still_served_stale);
	add_test("/cache/grace/beyond-window-fetches-synchronously",
		 test_grace_beyond_window_fetches_synchronously);
	add_test("/cache/grace/zero-fetches-synchronously", test_grace_zero_fetches_synchronously);
	add_test("/cache/grace/is-per-class", test_grace_is_per_class);
	add_test("/cache/grace/skipped-after-expire", test_grace_skipped_after_expire);
	add_test("/cache/grace/skipped-after-expire-of-fresh-value",
		 test_grace_skipped_after_expire_of_fresh_value);
	add_test("/cache/grace/applies-again-after-expire-refetch",
		 test_grace_applies_again_after_expire_refetch);
	add_test("/cache/grace/failed-refresh-keeps-serving-old-value",
		 test_grace_failed_refresh_keeps_serving_old_value);
	add_test("/cache/grace/failed-refresh-backs-off", test_grace_failed_refresh_backs_off);
	add_test("/cache/grace/failed-refresh-backs-off-without-max-stale",
		 test_grace_failed_refresh_backs_off_without_max_stale);
	add_test("/cache/stale-if-error/serves-old-value", test_stale_if_error_serves_old_value);
	add_test("/cache/stale-if-error/plain-get-succeeds", test_stale_if_error_plain_get_succeeds);
	add_test("/cache/stale-if-error/after-expire", test_stale_if_error_after_expire);
	add_test("/cache/stale-if-error/at-max-stale-still-served",
		 test_stale_if_error_at_max_stale_still_served);
	add_test("/cache/stale-if-error/older-than-max-stale-fails",
		 test_stale_if_error_older_than_max_stale_fails);
	add_test("/cache/stale-if-error/max-stale-zero-fails", test_stale_if_error_max_stale_zero_fails);
	add_test("/cache/stale-if-error/without-value-fails", test_stale_if_error_without_value_fails);
	add_test("/cache/stale-if-error/backs-off", test_stale_if_error_backs_off);
	add_test("/cache/stale-if-error/backoff-holds-after-expire",
		 test_stale_if_error_backoff_holds_after_expire);
	add_test("/cache/stale-if-error/repeated-failure-keeps-serving",
		 test_stale_if_error_repeated_failure_keeps_serving);
	add_test("/cache/stale-if-error/coalesced-readers-get-copy",
		 test_stale_if_error_coalesced_readers_get_copy);

	return g_test_run();
}
