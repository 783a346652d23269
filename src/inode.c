/* inode: inode number <-> path version table (see infrafs/inode.h). */
#include "infrafs/inode.h"

#include <string.h>

struct inode {
	guint64 ino;
	char *path;             /* owned */
	struct tree_attr attr;  /* of this inode's version */
	GBytes *content;        /* files: the bytes of this version (owned) */
	guint64 lookups;        /* references the kernel holds */
};

struct inode_table {
	GMutex lock;             /* guards everything below */
	GHashTable *by_ino;      /* guint64* -> struct inode; owns the inodes */
	GHashTable *by_path;     /* path -> current struct inode; keys borrowed from it */
	guint64 next_ino;
};

static void inode_free(gpointer data)
{
	struct inode *inode = data;

	g_free(inode->path);
	g_clear_pointer(&inode->content, g_bytes_unref);
	g_free(inode);
}

static struct inode *inode_add(struct inode_table *table, guint64 ino, const char *path,
			       const struct tree_attr *attr)
{
	struct inode *inode = g_new0(struct inode, 1);

	inode->ino = ino;
	inode->path = g_strdup(path);
	inode->attr = *attr;
	g_hash_table_insert(table->by_ino, &inode->ino, inode);
	/* replace, not insert: the key must be the new inode's own string. */
	g_hash_table_replace(table->by_path, inode->path, inode);
	return inode;
}

struct inode_table *inode_table_new(void)
{
	struct inode_table *table = g_new0(struct inode_table, 1);
	struct tree_attr root = { .kind = TREE_DIR, .mode = 0555 };

	g_mutex_init(&table->lock);
	table->by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, inode_free);
	table->by_path = g_hash_table_new(g_str_hash, g_str_equal);
	table->next_ino = INODE_ROOT + 1;
	/* The root is never forgotten. */
	inode_add(table, INODE_ROOT, "", &root)->lookups = 1;
	return table;
}

void inode_table_free(struct inode_table *table)
{
	if (table == NULL)
		return;
	g_hash_table_unref(table->by_path);
	g_hash_table_unref(table->by_ino);
	g_mutex_clear(&table->lock);
	g_free(table);
}

guint64 inode_table_ref(struct inode_table *table, const char *path,
			const struct tree_attr *attr, GBytes *content)
{
	g_mutex_lock(&table->lock);
	struct inode *inode = g_hash_table_lookup(table->by_path, path);

	if (inode == NULL || inode->attr.version != attr->version)
		inode = inode_add(table, table->next_ino++, path, attr);
	else
		inode->attr = *attr;
	/* Same version, same bytes: the first copy stays. */
	if (inode->content == NULL && content != NULL)
		inode->content = g_bytes_ref(content);
	inode->lookups++;
	guint64 ino = inode->ino;

	g_mutex_unlock(&table->lock);
	return ino;
}

gboolean inode_table_get(struct inode_table *table, guint64 ino, char **path,
			 struct tree_attr *attr)
{
	g_mutex_lock(&table->lock);
	struct inode *inode = g_hash_table_lookup(table->by_ino, &ino);

	if (inode != NULL) {
		if (path != NULL)
			*path = g_strdup(inode->path);
		if (attr != NULL)
			*attr = inode->attr;
	}
	g_mutex_unlock(&table->lock);
	return inode != NULL;
}

GBytes *inode_table_content(struct inode_table *table, guint64 ino)
{
	g_mutex_lock(&table->lock);
	struct inode *inode = g_hash_table_lookup(table->by_ino, &ino);
	GBytes *content = inode && inode->content ? g_bytes_ref(inode->content) : NULL;

	g_mutex_unlock(&table->lock);
	return content;
}

guint64 inode_table_find(struct inode_table *table, const char *path)
{
	g_mutex_lock(&table->lock);
	struct inode *inode = g_hash_table_lookup(table->by_path, path);
	guint64 ino = inode ? inode->ino : 0;

	g_mutex_unlock(&table->lock);
	return ino;
}

void inode_table_forget(struct inode_table *table, guint64 ino, guint64 count)
{
	if (ino == INODE_ROOT)
		return;
	g_mutex_lock(&table->lock);
	struct inode *inode = g_hash_table_lookup(table->by_ino, &ino);

	if (inode != NULL) {
		inode->lookups = inode->lookups > count ? inode->lookups - count : 0;
		if (inode->lookups == 0) {
			/* An old version is no longer the path's current inode. */
			if (g_hash_table_lookup(table->by_path, inode->path) == inode)
				g_hash_table_remove(table->by_path, inode->path);
			g_hash_table_remove(table->by_ino, &ino);
		}
	}
	g_mutex_unlock(&table->lock);
}

void inode_table_foreach_matching(struct inode_table *table,
				  gboolean (*match)(const char *path, gpointer user_data),
				  void (*fn)(guint64 ino, const char *path, gpointer user_data),
				  gpointer user_data)
{
	GHashTableIter iter;
	gpointer value;

	g_mutex_lock(&table->lock);
	g_hash_table_iter_init(&iter, table->by_path);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		struct inode *inode = value;

		if (inode->ino != INODE_ROOT && match(inode->path, user_data))
			fn(inode->ino, inode->path, user_data);
	}
	g_mutex_unlock(&table->lock);
}

guint inode_table_size(struct inode_table *table)
{
	g_mutex_lock(&table->lock);
	guint size = g_hash_table_size(table->by_ino);

	g_mutex_unlock(&table->lock);
	return size;
}
