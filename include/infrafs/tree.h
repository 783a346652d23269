/* tree: the namespace of design.md. Which paths exist, what kind they are,
 * what they contain, and what writes to /.infrafs/ do.
 *
 * Paths are relative to the mount, without a leading '/': "" is the root,
 * "hosts/cmp01/state" a file. Every call resolves the path against the
 * cache (fetching what it needs: the first read of a class fetches it) and
 * answers from immutable models, so any number of threads may call in.
 * Changes that the kernel must hear about are announced through the
 * callback given to tree_new(), as globs of affected paths. */
#pragma once

#include <glib.h>

#include "infrafs/cache.h"
#include "infrafs/config.h"
#include "infrafs/control.h"
#include "infrafs/errors.h"

enum tree_kind {
	TREE_DIR,
	TREE_FILE,
};

struct tree_attr {
	enum tree_kind kind;
	guint mode;             /* permission bits only */
	gsize size;             /* exact length of what a read returns */
	gint64 mtime_wall_us;   /* when the data was fetched */
	double cache_s;         /* how long the kernel may keep this attr/entry */
	gboolean volatile_data; /* content may change on every read (stats) */
	guint64 version;        /* files: changes whenever the content does; 0 for
				 * directories */
	gboolean stale;         /* built from data served past its freshness */
};

/* Extended attributes every data path has (design.md), values as text. */
#define TREE_XATTR_FETCHED_AT "user.infrafs.fetched_at"
#define TREE_XATTR_EXPIRES_AT "user.infrafs.expires_at"
#define TREE_XATTR_STALE "user.infrafs.stale"
#define TREE_XATTR_SOURCE "user.infrafs.source"

struct tree_dirent {
	char *name;
	enum tree_kind kind;
	gboolean fetched_at_lookup; /* a file under /live: looking it up fetches */
};

/* Told the globs of paths whose data changed or expired (control_glob_contains
 * semantics). Called from the writer's thread with no tree or cache lock held;
 * it must return without calling back into the tree. */
typedef void (*tree_changed_fn)(const char *const *globs, gpointer user_data);

struct tree;

/* All arguments are borrowed and must outlive the tree. */
struct tree *tree_new(struct cache *cache, const struct config *config,
		      struct error_log *error_log, tree_changed_fn changed, gpointer user_data);
void tree_free(struct tree *tree);

/* A cache_changed_fn (user_data: the tree): the data of (class, key)
 * changed in a fetch; the kernel's names for it are dropped. */
void tree_on_data_changed(enum data_class data_class, const char *key, gpointer user_data);

/* The warmer that .infrafs/warm shows and drives (borrowed; may be NULL). */
struct warm;
void tree_set_warm(struct tree *tree, struct warm *warm);

/* The kernel request counts that stats files show (borrowed; may be NULL). */
struct request_counts;
void tree_set_request_counts(struct tree *tree, const struct request_counts *requests);

/* The API client whose counts stats files show (borrowed; may be NULL). */
struct api;
void tree_set_api(struct tree *tree, struct api *api);

/* The shared cache whose counts stats files show (borrowed; may be NULL). */
struct l2;
void tree_set_l2(struct tree *tree, struct l2 *l2);

/* Told of an invalidate or refresh written to this mount, after the
 * patterns were checked and before they apply: the patterns, one per
 * line, and the classes whose data they may touch (a superset). */
typedef void (*tree_expiry_fn)(const char *patterns, gsize len,
			       const gboolean classes[CLASS_COUNT], gpointer user_data);
void tree_set_expiry_hook(struct tree *tree, tree_expiry_fn hook, gpointer user_data);

/* Apply an invalidation written on another mount of the fleet: expire
 * what `patterns` select and tell the kernel, without calling the expiry
 * hook. NULL patterns expire everything. FALSE when they do not parse. */
gboolean tree_expire_remote(struct tree *tree, const char *patterns, gsize len, GError **error);

/* Attributes of `path`. NOT_FOUND when it does not exist; backend errors as
 * the cache reports them. */
gboolean tree_stat(struct tree *tree, const char *path, struct tree_attr *attr,
		   GError **error);

/* Attributes of `path` and, for a file, its whole content (*content, owned;
 * NULL for a directory), one consistent snapshot. Files under /live are
 * fetched from the backend. */
gboolean tree_lookup(struct tree *tree, const char *path, struct tree_attr *attr,
		     GBytes **content, GError **error);

/* Entries of directory `path`, sorted (array of struct tree_dirent, owned). */
GPtrArray *tree_list(struct tree *tree, const char *path, GError **error);

/* The whole content of file `path`, one consistent snapshot; *attr is
 * filled to match it. */
GBytes *tree_read(struct tree *tree, const char *path, struct tree_attr *attr, GError **error);

/* Apply complete lines written to the control file `path`. Validates all
 * of them first: INVALID changes nothing. READ_ONLY for other files. */
gboolean tree_write(struct tree *tree, const char *path, const char *data, gsize len,
		    GError **error);

/* A write_lines_classify_fn (user_data unused): how a line of control file
 * `path` that lacks its newline stands. */
enum control_fragment tree_write_fragment(const char *path, const char *data, gsize len,
					  gpointer user_data);

/* The user.infrafs.* attributes of `path`: name -> value (both owned by the
 * table). fetched_at and expires_at are ISO 8601 UTC ("-" when the path
 * uses no fetched data), stale is "0" or "1", source names the cache
 * entries used ("hosts", "aggregates,hosts", "servers/<hypervisor>") or
 * "infrafs" for paths of infrafs's own. */
GHashTable *tree_xattrs(struct tree *tree, const char *path, GError **error);

/* A write reached a control file (applied or not): its bytes sit in the
 * kernel's pages of that file's inode, so the writable files take new
 * versions (new inodes), and the next lookup drops those pages with them. */
void tree_note_write(struct tree *tree);

/* Whether `path` is a control file that accepts writes. */
gboolean tree_is_writable(struct tree *tree, const char *path);

void tree_dirent_free(gpointer dirent);
