/* fs_notify: tells the kernel to forget names it has cached.
 *
 * Notifications are queued (duplicates merged) and sent by one thread of
 * their own: calling fuse_lowlevel_notify_inval_entry from a request handler,
 * or while holding a lock a handler needs, can deadlock the kernel against
 * the daemon. Errors such as ENOENT (the kernel had nothing cached) and
 * ENODEV (unmounting) are expected and ignored. Thread-safe. */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>

struct fs_notify;

/* Starts the sending thread. `session` must outlive the notifier. */
struct fs_notify *fs_notify_new(struct fuse_session *session);

/* Stops the thread; queued notifications are dropped. */
void fs_notify_free(struct fs_notify *notify);

/* Queue "forget the name `name` in directory `parent`". */
void fs_notify_entry(struct fs_notify *notify, fuse_ino_t parent, const char *name);

/* Wait until everything queued before this call has been sent, at most
 * `timeout_ms`. FALSE when the deadline passed first. */
gboolean fs_notify_flush(struct fs_notify *notify, guint timeout_ms);
