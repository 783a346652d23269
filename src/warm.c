/* warm: the background warmer (see infrafs/warm.h). */
#include "infrafs/warm.h"

#include <string.h>

#include "infrafs/clock.h"
#include "infrafs/model.h"

enum warm_state { WARM_OFF, WARM_RUNNING, WARM_DONE, WARM_STOPPED };

static const char *const state_words[] = { "off", "running", "done", "stopped" };

struct warm_progress {
	guint done;
	guint total;
	guint errors;
};

struct warm {
	struct cache *cache;           /* borrowed */
	gboolean classes[CLASS_COUNT];
	gint64 interval_us;            /* between two fetches */
	GMutex lock;                   /* guards everything below */
	GCond wake;                    /* stop requested, or a new run */
	GThread *thread;
	enum warm_state state;
	gboolean stopping;             /* the current run should end */
	gboolean quitting;             /* the thread should end */
	guint64 run;                   /* bumped by every warm_start() */
	struct warm_progress progress[CLASS_COUNT];
};

/* Wait out the rate limit; FALSE when told to stop meanwhile. Lock held. */
static gboolean pace(struct warm *warm, gint64 *next_us)
{
	while (!warm->stopping && !warm->quitting) {
		gint64 now_us = g_get_monotonic_time();

		if (now_us >= *next_us) {
			*next_us = now_us + warm->interval_us;
			return TRUE;
		}
		g_cond_wait_until(&warm->wake, &warm->lock, *next_us);
	}
	return FALSE;
}

/* Fetch one (class, key) unless fresh. Lock held; dropped around the fetch. */
static void warm_one(struct warm *warm, enum data_class data_class, const char *key,
		     gint64 *next_us)
{
	struct warm_progress *progress = &warm->progress[data_class];

	if (!pace(warm, next_us))
		return;
	g_mutex_unlock(&warm->lock);
	g_autoptr(GError) error = NULL;
	g_autoptr(cache_value) value = cache_get(warm->cache, data_class, key, &error);

	g_mutex_lock(&warm->lock);
	progress->done++;
	progress->errors += value == NULL;
}

/* Keys of a per-key class: project ids, or hypervisor names. */
static GPtrArray *keys_of(struct warm *warm, enum data_class data_class)
{
	enum data_class source = data_class == CLASS_QUOTAS ? CLASS_PROJECTS : CLASS_HOSTS;
	g_autoptr(cache_value) value = cache_get(warm->cache, source, NULL, NULL);
	GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);

	if (value == NULL)
		return keys;
	const struct model_collection *collection =
		((const struct model *)cache_value_data(value))->collection;

	for (guint i = 0; i < collection->items->len; i++) {
		const struct model_item *item = collection->items->pdata[i];
		const char *key = data_class == CLASS_QUOTAS ? item->id : item->name;

		if (key != NULL)
			g_ptr_array_add(keys, g_strdup(key));
	}
	return keys;
}

static void warm_all(struct warm *warm)
{
	static const enum data_class order[] = { CLASS_AGGREGATES, CLASS_HOSTS, CLASS_FLAVORS,
						 CLASS_PROJECTS, CLASS_QUOTAS, CLASS_SERVERS };
	gint64 next_us = g_get_monotonic_time();

	memset(warm->progress, 0, sizeof(warm->progress));
	for (gsize i = 0; i < G_N_ELEMENTS(order) && !warm->stopping; i++) {
		enum data_class data_class = order[i];

		if (!warm->classes[data_class])
			continue;
		if (data_class != CLASS_QUOTAS && data_class != CLASS_SERVERS) {
			warm->progress[data_class].total = 1;
			warm_one(warm, data_class, NULL, &next_us);
			continue;
		}
		/* Listing the keys may fetch too: it counts against the rate. */
		if (!pace(warm, &next_us))
			break;
		g_mutex_unlock(&warm->lock);
		g_autoptr(GPtrArray) keys = keys_of(warm, data_class);

		g_mutex_lock(&warm->lock);
		warm->progress[data_class].total = keys->len;
		for (guint k = 0; k < keys->len && !warm->stopping; k++)
			warm_one(warm, data_class, keys->pdata[k], &next_us);
	}
}

static gpointer warm_thread(gpointer data)
{
	struct warm *warm = data;
	guint64 run_done = 0;

	g_mutex_lock(&warm->lock);
	while (!warm->quitting) {
		if (warm->run == run_done) {
			g_cond_wait(&warm->wake, &warm->lock);
			continue;
		}
		run_done = warm->run;
		warm->stopping = FALSE;
		warm->state = WARM_RUNNING;
		warm_all(warm);
		if (warm->state == WARM_RUNNING)
			warm->state = warm->stopping ? WARM_STOPPED : WARM_DONE;
	}
	g_mutex_unlock(&warm->lock);
	return NULL;
}

struct warm *warm_new(struct cache *cache, const gboolean classes[CLASS_COUNT],
		      double rate_per_s)
{
	struct warm *warm = g_new0(struct warm, 1);

	warm->cache = cache;
	memcpy(warm->classes, classes, sizeof(warm->classes));
	warm->interval_us = rate_per_s > 0 ? (gint64)(G_USEC_PER_SEC / rate_per_s) : 0;
	g_mutex_init(&warm->lock);
	g_cond_init(&warm->wake);
	warm->thread = g_thread_new("infrafs-warm", warm_thread, warm);
	return warm;
}

void warm_free(struct warm *warm)
{
	if (warm == NULL)
		return;
	g_mutex_lock(&warm->lock);
	warm->quitting = warm->stopping = TRUE;
	g_cond_broadcast(&warm->wake);
	g_mutex_unlock(&warm->lock);
	g_thread_join(warm->thread);
	g_cond_clear(&warm->wake);
	g_mutex_clear(&warm->lock);
	g_free(warm);
}

void warm_start(struct warm *warm)
{
	g_mutex_lock(&warm->lock);
	warm->run++;
	warm->stopping = TRUE; /* ends a run under way; the thread starts anew */
	g_cond_broadcast(&warm->wake);
	g_mutex_unlock(&warm->lock);
}

void warm_stop(struct warm *warm)
{
	g_mutex_lock(&warm->lock);
	warm->stopping = TRUE;
	if (warm->state == WARM_RUNNING)
		warm->state = WARM_STOPPED;
	g_cond_broadcast(&warm->wake);
	g_mutex_unlock(&warm->lock);
}

GBytes *warm_render(struct warm *warm)
{
	GString *out = g_string_new(NULL);

	g_mutex_lock(&warm->lock);
	g_string_append_printf(out, "state %s\n", state_words[warm->state]);
	for (int c = 0; c < CLASS_COUNT; c++) {
		if (!warm->classes[c])
			continue;
		g_string_append_printf(out, "%s %u/%u %u errors\n",
				       classes_name((enum data_class)c), warm->progress[c].done,
				       warm->progress[c].total, warm->progress[c].errors);
	}
	g_mutex_unlock(&warm->lock);
	return g_string_free_to_bytes(out);
}
