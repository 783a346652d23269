/* fs_ops: libfuse low-level handlers (see infrafs/fs_ops.h). */
#include "infrafs/fs_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "infrafs/control.h"
#include "infrafs/write_lines.h"

/* Per-open state of a directory, stored in fi->fh. Files have none: the
 * kernel opens them without asking (see fs_ops.h). */
struct fs_handle {
	GPtrArray *entries;    /* struct tree_dirent */
	char *path;
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* fs_of(), counting the request as one of `kind`. */
static struct fs *fs_counting(fuse_req_t req, enum request_kind kind)
{
	struct fs *fs = fuse_req_userdata(req);

	request_counts_add(&fs->requests, kind);
	return fs;
}

static void handle_destroy(gpointer data)
{
	struct fs_handle *handle = data;

	g_clear_pointer(&handle->entries, g_ptr_array_unref);
	g_free(handle->path);
	g_free(handle);
}

void fs_init_handles(struct fs *fs)
{
	g_mutex_init(&fs->handles_lock);
	fs->handles = g_hash_table_new_full(g_direct_hash, g_direct_equal, handle_destroy, NULL);
	fs->write_lines = write_lines_new(tree_write_fragment, NULL);
}

void fs_free_handles(struct fs *fs)
{
	if (fs->handles == NULL)
		return;
	g_hash_table_unref(fs->handles);
	fs->handles = NULL;
	g_clear_pointer(&fs->write_lines, write_lines_free);
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
	return current->kind == TREE_DIR || current->version == stored->version;
}

/* The entry reply for `path`, taking the lookup reference it hands over;
 * the inode keeps `content` (a file's bytes; NULL for a directory). */
static void make_entry(struct fs *fs, const char *path, const struct tree_attr *attr,
		       GBytes *content, struct fuse_entry_param *entry)
{
	entry->ino = inode_table_ref(fs->inodes, path, attr, content);
	entry->generation = 1;
	entry->attr_timeout = attr->cache_s;
	entry->entry_timeout = attr->cache_s;
	fill_stat(fs, entry->ino, attr, &entry->attr);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_counting(req, REQUEST_LOOKUP);
	struct tree_attr attr;
	g_autofree char *parent_path = path_or_reply(req, parent, &attr);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) content = NULL;

	if (parent_path == NULL)
		return;
	g_autofree char *path = child_path(parent_path, name);

	if (!tree_lookup(fs->tree, path, &attr, &content, &error)) {
		reply_error(req, error);
		return;
	}
	struct fuse_entry_param entry = { 0 };

	make_entry(fs, path, &attr, content, &entry);
	if (fuse_reply_entry(req, &entry) != 0)
		inode_table_forget(fs->inodes, entry.ino, 1); /* the kernel never saw it */
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_table_forget(fs_counting(req, REQUEST_OTHER)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_counting(req, REQUEST_OTHER);

	for (size_t i = 0; i < count; i++)
		inode_table_forget(fs->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_counting(req, REQUEST_GETATTR);
	struct tree_attr stored;
	g_autofree char *path = path_or_reply(req, ino, &stored);
	g_autoptr(GError) error = NULL;
	struct tree_attr attr;
	struct stat st;

	if (path == NULL)
		return;
	/* A volatile file's inode is the snapshot its lookup took (every path
	 * walk looks it up again): what it holds is all there is to say, and
	 * asking the tree would render, or under /live fetch, for nothing. */
	if (stored.kind == TREE_FILE && stored.volatile_data) {
		fill_stat(fs, ino, &stored, &st);
		fuse_reply_attr(req, &st, 0.0);
		return;
	}
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
	struct fs *fs = fs_counting(req, REQUEST_OTHER);
	struct tree_attr stored;
	g_autofree char *path = path_or_reply(req, ino, &stored);
	struct stat st;

	if (path == NULL)
		return;
	/* Only "truncate to zero" of a control file, as `echo x > file` does. */
	if (to_set != FUSE_SET_ATTR_SIZE || attr->st_size != 0 ||
	    !tree_is_writable(fs->tree, path)) {
		fuse_reply_err(req, to_set == FUSE_SET_ATTR_SIZE ? EACCES : EPERM);
		return;
	}
	/* Say "truncated": the kernel drops the pages it had of this inode, so
	 * that the bytes about to be written never mix with them. */
	stored.size = 0;
	fill_stat(fs, ino, &stored, &st);
	fuse_reply_attr(req, &st, 0.0);
}

/* Files are opened without us: the first open answers ENOSYS, and from
 * then on the kernel opens every file by itself with keep_cache (its
 * "no open" support). A warm read then costs no request at all. Kernels
 * without that support get the same behaviour the long way round. */
static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_counting(req, REQUEST_OPEN);
	struct tree_attr stored;

	if (fs->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	g_autofree char *path = path_or_reply(req, ino, &stored);

	if (path == NULL)
		return;
	if ((fi->flags & O_ACCMODE) != O_RDONLY && !tree_is_writable(fs->tree, path)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

/* Reads come from the bytes the inode holds: its version's, whatever has
 * happened to the path since, so that a file read in several calls is one
 * snapshot. */
static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_counting(req, REQUEST_READ);
	g_autoptr(GBytes) content = inode_table_content(fs->inodes, ino);
	gsize length = 0;

	if (content == NULL) {
		fuse_reply_err(req, inode_table_get(fs->inodes, ino, NULL, NULL) ? EISDIR : ESTALE);
		return;
	}
	const char *data = g_bytes_get_data(content, &length);

	if (offset < 0 || (guint64)offset >= length) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, data + offset, MIN(size, length - (gsize)offset));
}

/* A write to a control file. Lines are put together per writer (see
 * write_lines.h) and applied as they complete; the reply waits until the
 * kernel has been told what they changed. */
static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_counting(req, REQUEST_WRITE);
	struct tree_attr stored;
	g_autofree char *path = path_or_reply(req, ino, &stored);
	g_autoptr(GError) error = NULL;
	guint64 writer = (guint64)fuse_req_ctx(req)->pid;

	if (path == NULL)
		return;
	if (!tree_is_writable(fs->tree, path) || off < 0) {
		fuse_reply_err(req, EACCES);
		return;
	}
	tree_note_write(fs->tree);
	g_autoptr(GString) apply =
		write_lines_feed(fs->write_lines, path, writer, (guint64)off, buf, size);

	if (apply->len > 0 && !tree_write(fs->tree, path, apply->str, apply->len, &error)) {
		write_lines_forget(fs->write_lines, path, writer);
		g_info("rejected write to /%s: %s", path, error->message);
		reply_error(req, error);
		return;
	}
	if (apply->len > 0 && fs->notify != NULL &&
	    !fs_notify_flush(fs->notify, FS_NOTIFY_FLUSH_MS))
		g_message("kernel invalidations still queued after %d ms", FS_NOTIFY_FLUSH_MS);
	/* The kernel copied the written bytes into this inode's pages. They
	 * are not dropped here: an invalidation waits for the page locks the
	 * writer holds across its next write, which waits for our flush.
	 * tree_note_write() gave the file a new inode instead. */
	fuse_reply_write(req, size);
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_counting(req, REQUEST_OPENDIR);
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

	request_counts_add(&fs_of(req)->requests, REQUEST_READDIR);
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
	struct fs *fs = fs_counting(req, REQUEST_READDIR);
	struct fs_handle *handle = (struct fs_handle *)(uintptr_t)fi->fh;
	g_autofree char *buffer = g_malloc(size);
	size_t used = 0;
	guint total = handle->entries->len + 2;

	for (off_t next = offset; next < (off_t)total; next++) {
		struct fuse_entry_param entry = { .attr.st_ino = 0xffffffffu };
		const char *name = next == 0 ? "." : "..";
		struct tree_attr attr;
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) content = NULL;

		entry.attr.st_mode = S_IFDIR;
		if (next >= 2) {
			const struct tree_dirent *dirent = handle->entries->pdata[next - 2];
			g_autofree char *path = child_path(handle->path, dirent->name);

			name = dirent->name;
			entry.attr.st_mode = dirent->kind == TREE_DIR ? S_IFDIR : S_IFREG;
			/* An entry the kernel already has an inode for is passed bare
			 * (no inode number): it keeps what it has, cached ACLs
			 * included, which attributes given again would drop. So a
			 * warm `ls -l` asks nothing of it. Files under /live are
			 * passed bare (their lookup fetches: `ls` must not), and so
			 * is an entry whose attributes fail; all are looked up when
			 * used. */
			if (inode_table_find(fs->inodes, path) == 0 && !dirent->fetched_at_lookup &&
			    tree_lookup(fs->tree, path, &attr, &content, &error))
				make_entry(fs, path, &attr, content, &entry);
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
	handle_free(fs_counting(req, REQUEST_OTHER), (struct fs_handle *)(uintptr_t)fi->fh);
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

	request_counts_add(&fs_of(req)->requests, REQUEST_GETXATTR);
	/* ls -l asks for security.selinux on every entry. infrafs keeps no
	 * security labels: "not supported" (rather than "no such attribute")
	 * tells ls so, and it stops asking for the rest of the listing. Other
	 * names are answered without walking the tree; the ACL names come
	 * here once per inode, as the kernel caches the answer. */
	if (g_str_has_prefix(name, "security.")) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
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
	request_counts_add(&fs_of(req)->requests, REQUEST_GETXATTR);
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
	struct fs *fs = userdata;

	/* Content never changes under an inode (new content, new inode), so
	 * the kernel must not drop pages just because st_mtime moved. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* O_TRUNC must reach us as a setattr, which a data file refuses: with
	 * no open request, an atomic O_TRUNC would only truncate the kernel's
	 * idea of the file. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	fs->no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
	/* With POSIX ACL support the kernel caches "no ACL" per inode, where
	 * without it every `ls -l` entry costs two getxattr requests. */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
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
	/* No flush and no release: without them (ENOSYS) the kernel stops
	 * sending either, and closing a file costs no request. */
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
