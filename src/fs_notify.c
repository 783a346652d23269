/* fs_notify: a queue and a thread for kernel invalidations (see infrafs/fs_notify.h). */
#include "infrafs/fs_notify.h"

#include <errno.h>
#include <string.h>

/* "Forget `name` in directory `parent`": the only notice infrafs sends.
 * Dropping names is enough, since new content comes with a new inode; an
 * inode invalidation could also wait on page locks a writer holds. */
struct notice {
	fuse_ino_t parent;
	char *name;
};

struct fs_notify {
	struct fuse_session *session;
	GThread *thread;
	GMutex lock;          /* guards everything below */
	GCond changed;        /* work queued, work done, or stopping */
	GQueue queue;         /* struct notice* */
	GHashTable *pending;  /* "parent/name" keys of queued notices, to merge */
	guint64 queued;       /* notices ever queued */
	guint64 sent;         /* notices ever taken and sent */
	gboolean stopping;
};

static char *notice_key(fuse_ino_t parent, const char *name)
{
	return g_strdup_printf("%" G_GUINT64_FORMAT "/%s", (guint64)parent, name);
}

static void notice_free(struct notice *notice)
{
	g_free(notice->name);
	g_free(notice);
}

static void send_notice(struct fuse_session *session, const struct notice *notice)
{
	int result = fuse_lowlevel_notify_inval_entry(session, notice->parent, notice->name,
						      strlen(notice->name));

	/* ENOENT: the kernel had nothing cached; ENODEV/EBADF: unmounting. */
	if (result != 0 && result != -ENOENT && result != -ENODEV && result != -EBADF)
		g_message("kernel invalidation of %s in inode %" G_GUINT64_FORMAT " failed: %s",
			  notice->name, (guint64)notice->parent, g_strerror(-result));
}

static gpointer notify_thread(gpointer data)
{
	struct fs_notify *notify = data;

	g_mutex_lock(&notify->lock);
	while (!notify->stopping) {
		struct notice *notice = g_queue_pop_head(&notify->queue);

		if (notice == NULL) {
			g_cond_wait(&notify->changed, &notify->lock);
			continue;
		}
		g_autofree char *key = notice_key(notice->parent, notice->name);

		g_hash_table_remove(notify->pending, key);
		g_mutex_unlock(&notify->lock);
		send_notice(notify->session, notice);
		notice_free(notice);
		g_mutex_lock(&notify->lock);
		notify->sent++;
		g_cond_broadcast(&notify->changed);
	}
	g_mutex_unlock(&notify->lock);
	return NULL;
}

struct fs_notify *fs_notify_new(struct fuse_session *session)
{
	struct fs_notify *notify = g_new0(struct fs_notify, 1);

	notify->session = session;
	g_mutex_init(&notify->lock);
	g_cond_init(&notify->changed);
	g_queue_init(&notify->queue);
	notify->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	notify->thread = g_thread_new("infrafs-notify", notify_thread, notify);
	return notify;
}

void fs_notify_free(struct fs_notify *notify)
{
	if (notify == NULL)
		return;
	g_mutex_lock(&notify->lock);
	notify->stopping = TRUE;
	g_cond_broadcast(&notify->changed);
	g_mutex_unlock(&notify->lock);
	g_thread_join(notify->thread);
	g_queue_clear_full(&notify->queue, (GDestroyNotify)notice_free);
	g_hash_table_unref(notify->pending);
	g_cond_clear(&notify->changed);
	g_mutex_clear(&notify->lock);
	g_free(notify);
}

static void enqueue(struct fs_notify *notify, fuse_ino_t parent, const char *name)
{
	char *key = notice_key(parent, name);

	g_mutex_lock(&notify->lock);
	if (g_hash_table_contains(notify->pending, key)) {
		g_free(key);
	} else {
		struct notice *notice = g_new0(struct notice, 1);

		notice->parent = parent;
		notice->name = g_strdup(name);
		g_hash_table_add(notify->pending, key);
		g_queue_push_tail(&notify->queue, notice);
		notify->queued++;
		g_cond_broadcast(&notify->changed);
	}
	g_mutex_unlock(&notify->lock);
}

void fs_notify_entry(struct fs_notify *notify, fuse_ino_t parent, const char *name)
{
	enqueue(notify, parent, name);
}

gboolean fs_notify_flush(struct fs_notify *notify, guint timeout_ms)
{
	gint64 deadline_us = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gboolean done;

	g_mutex_lock(&notify->lock);
	/* Merged duplicates were counted once, so sent catches up with queued. */
	guint64 target = notify->queued;

	while (notify->sent < target && !notify->stopping)
		if (!g_cond_wait_until(&notify->changed, &notify->lock, deadline_us))
			break;
	done = notify->sent >= target;
	g_mutex_unlock(&notify->lock);
	return done;
}
