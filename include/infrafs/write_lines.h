/* write_lines: the lines written to control files, put back together.
 *
 * infrafs answers no open and no flush (see fs_ops.h), so a write arrives
 * without a file handle and nothing says when its writer is done. A write
 * is known by its path, its writer (the kernel's thread id) and its offset:
 * a write at the offset where the same writer's last one ended continues
 * that writer's unfinished line; anything else starts afresh.
 *
 * Complete lines are applied at once. A last line without its newline is
 * applied at once if it is already a whole command (`printf hosts`), kept
 * for its continuation if it may still become one ("hos" of "hosts"), and
 * rejected if it never can. A kept line that was already applied is
 * applied again, whole, when its rest arrives (every command is
 * idempotent). Thread-safe; no libfuse calls. */
#pragma once

#include <glib.h>

#include "infrafs/control.h"

/* Unfinished lines kept at most, one per (path, writer); the oldest goes. */
#define WRITE_LINES_MAX_PENDING 64

/* How `len` bytes without a newline stand for control file `path`. */
typedef enum control_fragment (*write_lines_classify_fn)(const char *path, const char *data,
							  gsize len, gpointer user_data);

struct write_lines;

struct write_lines *write_lines_new(write_lines_classify_fn classify, gpointer user_data);
void write_lines_free(struct write_lines *lines);

/* One write of `len` bytes at `offset` by `writer` to `path`: the text to
 * apply now (owned; may be empty). The caller applies it, validating it
 * whole; when that fails it calls write_lines_forget() so that nothing of
 * a rejected write lingers. */
GString *write_lines_feed(struct write_lines *lines, const char *path, guint64 writer,
			  guint64 offset, const char *data, gsize len);

/* Drop the unfinished line of (path, writer), if any. */
void write_lines_forget(struct write_lines *lines, const char *path, guint64 writer);

/* Unfinished lines held (for tests). */
guint write_lines_pending(struct write_lines *lines);
