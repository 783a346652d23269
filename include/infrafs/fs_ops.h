/* fs_ops: the libfuse low-level operations. Each handler decodes a request,
 * asks the tree, and replies exactly once; no policy lives here.
 *
 * Every inode is one version of a path (see inode.h) and holds that
 * version's bytes. So the kernel may keep pages and attributes, and needs
 * to ask nothing when a file is opened, read from its pages and closed:
 * open answers ENOSYS (the kernel's "no open" support: from then on it
 * opens files itself, with keep_cache), and there is no flush or release.
 * A file read in several calls reads its inode's bytes: one snapshot.
 * Volatile files (control files, README, /live) are looked up at every
 * path walk (zero timeouts), so each open sees fresh bytes.
 *
 * Writes to control files arrive without a handle; write_lines puts their
 * lines together per writer. Open directories hold the listing they
 * opened. */
#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include "infrafs/fs_notify.h"
#include "infrafs/inode.h"
#include "infrafs/requests.h"
#include "infrafs/tree.h"
#include "infrafs/write_lines.h"

/* How long a control write waits for the kernel to be told of its effect. */
#define FS_NOTIFY_FLUSH_MS 5000

/* The state every handler reaches through fuse_req_userdata(). */
struct fs {
	struct tree *tree;           /* borrowed */
	struct inode_table *inodes;  /* borrowed */
	struct fs_notify *notify;    /* borrowed; NULL until the session exists */
	uid_t uid;                   /* the mounting user owns every file */
	gid_t gid;
	gboolean no_open;            /* the kernel opens files without asking */
	struct request_counts requests; /* what the kernel sent, by kind */
	struct write_lines *write_lines; /* owned: unfinished control lines */
	GMutex handles_lock;         /* guards handles */
	GHashTable *handles;         /* open directory handles, owned: a
				      * releasedir may never come (lazy unmount) */
};

/* Set up and tear down what struct fs owns (not the borrowed modules). */
void fs_init_handles(struct fs *fs);
void fs_free_handles(struct fs *fs);

const struct fuse_lowlevel_ops *fs_ops_table(void);

/* A tree_changed_fn (user_data: struct fs): queue kernel invalidations for
 * every known inode under the changed globs. */
void fs_on_tree_changed(const char *const *globs, gpointer user_data);
