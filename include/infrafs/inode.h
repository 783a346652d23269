/* inode: the table between FUSE inode numbers and versions of tree paths.
 *
 * An inode is one version of one path, so its content never changes: the
 * kernel may keep its pages for as long as it lives, and a file opened once
 * reads one consistent snapshot: the inode holds its version's bytes. When a path's content changes, its next
 * lookup gets a new inode; the old one lives on, with the attributes of its
 * own version, until the kernel forgets it. Numbers are never reused.
 * Thread-safe. Contains no libfuse calls. */
#pragma once

#include <glib.h>

#include "infrafs/tree.h"

#define INODE_ROOT 1

struct inode_table;

struct inode_table *inode_table_new(void);
void inode_table_free(struct inode_table *table);

/* The inode of `path` at `version` (attr->version), created if the path has
 * none or has another version; its lookup count goes up by one and its
 * stored attributes become `attr`. A file's inode keeps a reference to
 * `content` (borrowed; NULL for directories), the bytes of its version,
 * until the kernel forgets it: reads are served from there. */
guint64 inode_table_ref(struct inode_table *table, const char *path,
			const struct tree_attr *attr, GBytes *content);

/* A new reference to the bytes of `ino`'s version; NULL for an unknown
 * inode or a directory. */
GBytes *inode_table_content(struct inode_table *table, guint64 ino);

/* What `ino` is: a copy of its path (free with g_free) and the attributes
 * stored for its version. FALSE for an unknown inode. */
gboolean inode_table_get(struct inode_table *table, guint64 ino, char **path,
			 struct tree_attr *attr);

/* The current inode of `path` without taking a reference; 0 when none. */
guint64 inode_table_find(struct inode_table *table, const char *path);

/* The kernel dropped `count` references. */
void inode_table_forget(struct inode_table *table, guint64 ino, guint64 count);

/* Call `fn` for every current inode whose path `match` accepts (called with
 * the table lock held: neither may call into the table or block). */
void inode_table_foreach_matching(struct inode_table *table,
				  gboolean (*match)(const char *path, gpointer user_data),
				  void (*fn)(guint64 ino, const char *path, gpointer user_data),
				  gpointer user_data);

/* Number of inodes known, old versions included. */
guint inode_table_size(struct inode_table *table);
