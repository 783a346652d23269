/* fs_ops: the libfuse low-level operations. Each handler decodes a request,
 * asks the tree, and replies exactly once; no policy lives here.
 *
 * Every inode is one version of a path (see inode.h): the kernel may keep
 * its pages and attributes, and an open that finds its inode outdated
 * answers ESTALE so that the kernel looks the path up again. Open files
 * hold a reference on the bytes they opened (one consistent snapshot per
 * open); open directories hold the listing they opened. Writes to control files are buffered per
 * open file until a newline, so a line may arrive in several writes. */
#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include "infrafs/fs_notify.h"
#include "infrafs/inode.h"
#include "infrafs/tree.h"

/* How long a control write waits for the kernel to be told of its effect. */
#define FS_NOTIFY_FLUSH_MS 5000

/* The state every handler reaches through fuse_req_userdata(). */
struct fs {
	struct tree *tree;           /* borrowed */
	struct inode_table *inodes;  /* borrowed */
	struct fs_notify *notify;    /* borrowed; NULL until the session exists */
	uid_t uid;                   /* the mounting user owns every file */
	gid_t gid;
	GMutex handles_lock;         /* guards handles */
	GHashTable *handles;         /* open file and directory handles, owned: a
				      * release may never come (lazy unmount) */
};

/* Set up and tear down what struct fs owns (not the borrowed modules). */
void fs_init_handles(struct fs *fs);
void fs_free_handles(struct fs *fs);

const struct fuse_lowlevel_ops *fs_ops_table(void);

/* A tree_changed_fn (user_data: struct fs): queue kernel invalidations for
 * every known inode under the changed globs. */
void fs_on_tree_changed(const char *const *globs, gpointer user_data);
