/* fs_ops: libfuse low-level handlers (see infrafs/fs_ops.h). */
#include "infrafs/fs_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "infrafs/control.h"

/* Per-open state, stored in fi->fh. */
struct fs_handle {
	GBytes *content;       /* files opened for reading: the snapshot */
	GPtrArray *entries;    /* directories: struct tree_dirent */
	char *path;            /* directories, and control files opened for writing */
	GString *pending;      /* bytes of an unfinished line */
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void handle_destroy(gpointer data)
{
	struct fs_handle *handle = data;

	g_clear_pointer(&handle->content, g_bytes_unref);
	g_clear_pointer(&handle->entries, g_ptr_array_unref);
	g_free(handle->path);
	if (handle->pending != NULL)
		g_string_free(handle->pending, TRUE);
	g_free(handle);
}

void fs_init_handles(struct fs *fs)
{
	g_mutex_init(&fs->handles_lock);
	fs->handles = g_hash_table_new_full(g_direct_hash, g_direct_equal, handle_destroy, NULL);
}

void fs_free_handles(struct fs *fs)
{
	if (fs->handles == NULL)
		return;
	g_hash_table_unref(fs->handles);
	fs->handles = NULL;
	g_mutex_clear(&fs->handles_lock);
}

/* A new handle, owned by `fs` until handle_free(). */
static struct fs_handle *handle_new(struct fs *fs)
{
	struct fs_handle *handle = g_new0(struct fs_handle, 1);

	g_mutex_lock(&fs->handles_lock);
	g_hash_table_add(fs->handles, handle);
	g_mutex_unlock(&fs->handles_lock);
	return handle;
}

static void handle_free(struct fs *fs, struct fs_handle *handle)
{
	g_mutex_lock(&fs->handles_lock);
	g_hash_table_remove(fs->handles, handle);
	g_mutex_unlock(&fs->handles_lock);
}

static char *child_path(const char *parent, const char *name)
{
	return *parent ? g_strconcat(parent, "/", name, NULL) : g_strdup(name);
}

static void fill_stat(const struct fs *fs, fuse_ino_t ino, const struct tree_attr *attr,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = (attr->kind == TREE_DIR ? S_IFDIR : S_IFREG) | attr->mode;
	st->st_nlink = attr->kind == TREE_DIR ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)attr->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((attr->size + 511) / 512);
	st->st_mtim.tv_sec = attr->mtime_wall_us / G_USEC_PER_SEC;
	st->st_mtim.tv_nsec = (attr->mtime_wall_us % G_USEC_PER_SEC) * 1000;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

static void reply_error(fuse_req_t req, const GError *error)
{
	int errno_value = errors_to_errno(error);

	if (errno_value != ENOENT)
		g_debug("replying %s: %s", g_strerror(errno_value), error->message);
	fuse_reply_err(req, errno_value);
}

/* The path of `ino` and the attributes of its version, or an ENOENT
 * reply (the kernel raced a forget). */
static char *path_or_reply(fuse_req_t req, fuse_ino_t ino, struct tree_attr *stored)
{
	char *path = NULL;

	if (!inode_table_get(fs_of(req)->inodes, ino, &path, stored))
		fuse_reply_err(req, ENOENT);
	return path;
}

/* Whether `current` is still the version inode `stored` stands for. */
static gboolean same_version(const struct tree_attr *stored, const struct tree_attr *current)
{
	return current->kind == TREE_DIR || current->volatile_data ||
	       current->version == stored->version;
}

/* The entry reply for `path`, taking the lookup reference it hands over. */
static void make_entry(struct fs *fs, const char *path, const struct tree_attr *attr,
		       struct fuse_entry_param *entry)
{
	entry->ino = inode_table_ref(fs->inodes, path, attr);
	entry->generation = 1;
	entry->attr_timeout = attr->cache_s;
	entry->entry_timeout = attr->cache_s;
	fill_stat(fs, entry->ino, attr, &entry->attr);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct tree_attr attr;
	g_autofree char *parent_path = path_or_reply(req, parent, &attr);
	g_autoptr(GError) error = NULL;

	if (parent_path == NULL)
		return;
	g_autofree char *path = child_path(parent_path, name);

	if (!tree_stat(fs->tree, path, &attr, &error)) {
		reply_error(req, error);
		return;
	}
	struct fuse_entry_param entry = { 0 };

	make_entry(fs, path, &attr, &entry);
	if (fuse_reply_entry(req, &entry) != 0)
		inode_table_forget(fs->inodes, entry.ino, 1); /* the kernel never saw it */
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_table_forget(fs_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inode_table_forget(fs_of(req)->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_attr stored;
	g_autofree char *path = path_or_reply(req, ino, &stored);
	g_autoptr(GError) error = NULL;
	struct tree_attr attr;
	struct stat st;

	if (path == NULL)
		return;
	if (!tree_stat(fs->tree, path, &attr, &error)) {
		reply_error(req, error);
		return;
	}
	if (!same_version(&stored, &attr)) {
		/* An old version (an open file, say): answer for what it holds. */
		fill_stat(fs, ino, &stored, &st);
		fuse_reply_attr(req, &st, 0.0);
		return;
	}
	fill_stat(fs, ino, &attr, &st);
	fuse_reply_attr(req, &st, attr.cache_s);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_attr stored;
	g_autofree char *path = path_or_reply(req, ino, &stored);

	if (path == NULL)
		return;
	/* Only "truncate to zero" of a control file, as `echo x > file` does. */
	if (to_set != FUSE_SET_ATTR_SIZE || attr->st_size != 0 ||
	    !tree_is_writable(fs->tree, path)) {
		fuse_reply_err(req, to_set == FUSE_SET_ATTR_SIZE ? EACCES : EPERM);
		return;
	}
	fs_getattr(req, ino, fi);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_attr stored;
	g_autofree char *path = path_or_reply(req, ino, &stored);
	g_autoptr(GError) error = NULL;
	struct tree_attr attr;

	if (path == NULL)
		return;
	int access_mode = fi->flags & O_ACCMODE;

	if (access_mode != O_RDONLY) {
		if (!tree_is_writable(fs->tree, path)) {
			fuse_reply_err(req, EACCES);
			return;
		}
		struct fs_handle *handle = handle_new(fs);

		handle->path = g_steal_pointer(&path);
		handle->pending = g_string_new(NULL);
		handle->content = g_bytes_new_static("", 0);
		fi->fh = (uint64_t)(uintptr_t)handle;
		fi->direct_io = 1;
		fi->nonseekable = 1;
		if (fuse_reply_open(req, fi) != 0)
			handle_free(fs, handle);
		return;
	}
	GBytes *content = tree_read(fs->tree, path, &attr, &error);

	if (content == NULL) {
		reply_error(req, error);
		return;
	}
	if (!same_version(&stored, &attr)) {
		/* The path moved on to another inode. ESTALE makes the kernel walk
		 * the path again with revalidation, which finds the new one. */
		g_bytes_unref(content);
		fuse_reply_err(req, ESTALE);
		return;
	}
	struct fs_handle *handle = handle_new(fs);

	handle->content = content;
	fi->fh = (uint64_t)(uintptr_t)handle;
	/* Nothing to flush on a read-only file: spare the kernel a round trip. */
	fi->noflush = 1;
	/* An inode's content never changes (see inode.h): its pages stay good. */
	if (attr.volatile_data)
		fi->direct_io = 1;
	else
		fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(fs, handle);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi)
{
	struct fs_handle *handle = (struct fs_handle *)(uintptr_t)fi->fh;
	/* Our own reference for the reply: the reader may close the file, and a
	 * RELEASE on another thread free the handle, as soon as the kernel has
	 * the bytes, which can be before fuse_reply_buf returns. */
	g_autoptr(GBytes) content = g_bytes_ref(handle->content);
	gsize length = 0;
	const char *data = g_bytes_get_data(content, &length);

	if (offset < 0 || (guint64)offset >= length) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, data + offset, MIN(size, length - (gsize)offset));
}

/* Apply the complete lines in `handle->pending`; keep an unfinished tail
 * unless `final`. A bad line drops everything pending. */
static gboolean apply_pending(struct fs *fs, struct fs_handle *handle, gboolean final,
			      GError **error)
{
	const char *last_newline = memrchr(handle->pending->str, '\n', handle->pending->len);
	gsize complete = last_newline ? (gsize)(last_newline - handle->pending->str) + 1 : 0;

	if (final)
		complete = handle->pending->len;
	if (complete == 0) {
		if (handle->pending->len > CONTROL_MAX_LINE_BYTES) {
			g_string_truncate(handle->pending, 0);
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
				    "line longer than %d bytes", CONTROL_MAX_LINE_BYTES);
			return FALSE;
		}
		return TRUE;
	}
	gboolean ok = tree_write(fs->tree, handle->path, handle->pending->str, complete, error);

	if (ok && fs->notify != NULL && !fs_notify_flush(fs->notify, FS_NOTIFY_FLUSH_MS))
		g_message("kernel invalidations still queued after %d ms", FS_NOTIFY_FLUSH_MS);
	g_string_erase(handle->pending, 0, ok ? (gssize)complete : -1);
	return ok;
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs_handle *handle = (struct fs_handle *)(uintptr_t)fi->fh;
	g_autoptr(GError) error = NULL;

	if (handle->pending == NULL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	g_string_append_len(handle->pending, buf, (gssize)size);
	if (!apply_pending(fs_of(req), handle, FALSE, &error)) {
		g_info("rejected write to /%s: %s", handle->path, error->message);
		reply_error(req, error);
		return;
	}
	fuse_reply_write(req, size);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_handle *handle = (struct fs_handle *)(uintptr_t)fi->fh;
	g_autoptr(GError) error = NULL;

	/* A last line without a newline counts when the file is closed. */
	if (handle->pending != NULL && handle->pending->len > 0 &&
	    !apply_pending(fs_of(req), handle, TRUE, &error)) {
		g_info("rejected write to /%s: %s", handle->path, error->message);
		reply_error(req, error);
		return;
	}
	fuse_reply_err(req, 0);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	handle_free(fs_of(req), (struct fs_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_attr stored;
	g_autofree char *path = path_or_reply(req, ino, &stored);
	g_autoptr(GError) error = NULL;

	if (path == NULL)
		return;
	GPtrArray *entries = tree_list(fs->tree, path, &error);

	if (entries == NULL) {
		reply_error(req, error);
		return;
	}
	struct fs_handle *handle = handle_new(fs);

	handle->entries = entries;
	handle->path = g_steal_pointer(&path);
	fi->fh = (uint64_t)(uintptr_t)handle;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(fs, handle);
}

/* Offsets: 1 is ".", 2 is "..", 3 + i is entries[i]. */
static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi)
{
	struct fs_handle *handle = (struct fs_handle *)(uintptr_t)fi->fh;
	g_autofree char *buffer = g_malloc(size);
	size_t used = 0;
	guint total = handle->entries->len + 2;

	for (off_t next = offset; next < (off_t)total; next++) {
		/* d_ino is advisory; the kernel looks names up before use. */
		struct stat st = { .st_ino = 0xffffffffu };
		const char *name;

		if (next == 0) {
			name = ".";
			st.st_mode = S_IFDIR;
		} else if (next == 1) {
			name = "..";
			st.st_mode = S_IFDIR;
		} else {
			const struct tree_dirent *dirent = handle->entries->pdata[next - 2];

			name = dirent->name;
			st.st_mode = dirent->kind == TREE_DIR ? S_IFDIR : S_IFREG;
		}
		size_t needed = fuse_add_direntry(req, buffer + used, size - used, name, &st,
						  next + 1);

		if (needed > size - used)
			break;
		used += needed;
	}
	fuse_reply_buf(req, buffer, used);
}

/* readdir with each entry's attributes, so that `ls -l` needs no lookup
 * per entry. Offsets as in fs_readdir. Every entry handed over holds a
 * lookup reference, as fuse_reply_entry would. */
static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			   struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *handle = (struct fs_handle *)(uintptr_t)fi->fh;
	g_autofree char *buffer = g_malloc(size);
	size_t used = 0;
	guint total = handle->entries->len + 2;

	for (off_t next = offset; next < (off_t)total; next++) {
		struct fuse_entry_param entry = { .attr.st_ino = 0xffffffffu };
		const char *name = next == 0 ? "." : "..";
		struct tree_attr attr;
		g_autoptr(GError) error = NULL;

		entry.attr.st_mode = S_IFDIR;
		if (next >= 2) {
			const struct tree_dirent *dirent = handle->entries->pdata[next - 2];
			g_autofree char *path = child_path(handle->path, dirent->name);

			name = dirent->name;
			entry.attr.st_mode = dirent->kind == TREE_DIR ? S_IFDIR : S_IFREG;
			/* An entry whose attributes fail is passed bare: looked up later. */
			if (tree_stat(fs->tree, path, &attr, &error))
				make_entry(fs, path, &attr, &entry);
		}
		size_t needed = fuse_add_direntry_plus(req, buffer + used, size - used, name,
						       &entry, next + 1);

		if (needed > size - used) {
			/* Did not fit: the kernel never saw this reference. */
			if (entry.ino != 0)
				inode_table_forget(fs->inodes, entry.ino, 1);
			break;
		}
		used += needed;
	}
	fuse_reply_buf(req, buffer, used);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	handle_free(fs_of(req), (struct fs_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* The names listxattr offers, NUL-separated as the kernel wants them. */
static const char xattr_names[] = TREE_XATTR_EXPIRES_AT "\0" TREE_XATTR_FETCHED_AT
	"\0" TREE_XATTR_SOURCE "\0" TREE_XATTR_STALE "\0";

/* Reply with `data` or its size, as getxattr and listxattr do. */
static void reply_xattr_data(fuse_req_t req, const char *data, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct tree_attr stored;

	/* ls asks for security.* and system.* names on every entry: answer
	 * those without walking the tree. */
	if (!g_str_has_prefix(name, "user.infrafs.")) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	g_autofree char *path = path_or_reply(req, ino, &stored);
	g_autoptr(GError) error = NULL;

	if (path == NULL)
		return;
	g_autoptr(GHashTable) xattrs = tree_xattrs(fs_of(req)->tree, path, &error);

	if (xattrs == NULL) {
		reply_error(req, error);
		return;
	}
	const char *value = g_hash_table_lookup(xattrs, name);

	if (value == NULL)
		fuse_reply_err(req, ENODATA);
	else
		reply_xattr_data(req, value, strlen(value), size);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_xattr_data(req, xattr_names, sizeof(xattr_names) - 1, size);
}

/* The tree is the backend's: names are neither made nor removed here.
 * EACCES ("Permission denied") tells rm, mv and mkdir so plainly. */
static void deny_name(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EACCES);
}

static void deny_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       dev_t rdev)
{
	fuse_reply_err(req, EACCES);
}

static void deny_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EACCES);
}

static void deny_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EACCES);
}

static void deny_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EACCES);
}

static void deny_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EACCES);
}

static void deny_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, EACCES);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* Content never changes under an inode (new content, new inode), so
	 * the kernel must not drop pages just because st_mtime moved. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static const struct fuse_lowlevel_ops ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.mknod = deny_mknod,
	.mkdir = deny_mkdir,
	.unlink = deny_name,
	.rmdir = deny_name,
	.symlink = deny_symlink,
	.rename = deny_rename,
	.link = deny_link,
	.create = deny_create,
};

const struct fuse_lowlevel_ops *fs_ops_table(void)
{
	return &ops;
}

struct change_walk {
	const char *const *globs;
	GArray *inos;           /* guint64 of matching inodes */
	GPtrArray *paths;       /* their paths, same order */
};

static gboolean path_changed(const char *path, gpointer user_data)
{
	const struct change_walk *walk = user_data;

	for (const char *const *glob = walk->globs; *glob != NULL; glob++)
		if (control_glob_contains(*glob, path))
			return TRUE;
	return FALSE;
}

static void collect_inode(guint64 ino, const char *path, gpointer user_data)
{
	struct change_walk *walk = user_data;

	g_array_append_val(walk->inos, ino);
	g_ptr_array_add(walk->paths, g_strdup(path));
}

void fs_on_tree_changed(const char *const *globs, gpointer user_data)
{
	struct fs *fs = user_data;
	g_autoptr(GArray) inos = g_array_new(FALSE, FALSE, sizeof(guint64));
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	struct change_walk walk = { .globs = globs, .inos = inos, .paths = paths };

	if (fs->notify == NULL)
		return;
	/* Collect under the table lock, look parents up after it. */
	inode_table_foreach_matching(fs->inodes, path_changed, collect_inode, &walk);
	for (guint i = 0; i < inos->len; i++) {
		const char *path = paths->pdata[i];
		const char *slash = strrchr(path, '/');
		g_autofree char *parent_path = slash ? g_strndup(path, slash - path) : g_strdup("");
		guint64 parent = inode_table_find(fs->inodes, parent_path);

		/* Dropping the name is enough: the next lookup finds the new
		 * version's inode, and the old one keeps serving open files. */
		if (parent != 0)
			fs_notify_entry(fs->notify, parent, slash ? slash + 1 : path);
	}
}
