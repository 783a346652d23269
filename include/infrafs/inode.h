/* inode: the table between FUSE inode numbers and tree paths.
 *
 * A path gets an inode number on its first lookup and keeps it while the
 * kernel holds references (lookup counts); numbers are never reused. The
 * table also remembers, per inode, what the last open saw, so that the
 * kernel's page cache is kept only while the content is unchanged.
 * Thread-safe. Contains no libfuse calls. */
#pragma once

#include <glib.h>

#define INODE_ROOT 1

struct inode_table;

struct inode_table *inode_table_new(void);
void inode_table_free(struct inode_table *table);

/* The inode of `path`, created if needed; its lookup count goes up by one. */
guint64 inode_table_ref(struct inode_table *table, const char *path);

/* The path of `ino` (a copy), or NULL for an unknown inode. */
char *inode_table_path(struct inode_table *table, guint64 ino);

/* The inode of `path` without taking a reference; 0 when it has none. */
guint64 inode_table_find(struct inode_table *table, const char *path);

/* The kernel dropped `count` references. */
void inode_table_forget(struct inode_table *table, guint64 ino, guint64 count);

/* Record an open of `ino` that saw content of this mtime and size; TRUE
 * when the previous open saw the same, so cached pages are still valid. */
gboolean inode_table_note_open(struct inode_table *table, guint64 ino, gint64 mtime_us,
			       gsize size);

/* Call `fn` for every inode whose path `match` accepts (called with the
 * table lock held: neither may call into the table or block). */
void inode_table_foreach_matching(struct inode_table *table,
				  gboolean (*match)(const char *path, gpointer user_data),
				  void (*fn)(guint64 ino, const char *path, gpointer user_data),
				  gpointer user_data);

/* Number of inodes known. */
guint inode_table_size(struct inode_table *table);
