/* control: the grammar of writes to /.infrafs/ files. Pure; thread-safe.
 *
 * A write is one or more lines. For `invalidate`, each non-blank line is a
 * path or glob relative to the mount: "hosts", "*" or a glob such as
 * "*h100*" in the hosts directory. Globs
 * are fnmatch(3) patterns in which '*' also crosses '/'. Naming a directory
 * selects everything below it. All lines are checked before any is used:
 * one bad line rejects the whole write. */
#pragma once

#include <glib.h>

/* Longest accepted line, in bytes. */
#define CONTROL_MAX_LINE_BYTES 4096

/* Split `data` (complete lines; a missing final newline is tolerated) into
 * patterns and validate each: not empty, no '.' or '..' component, no
 * control characters, valid bracket expressions, no trailing backslash,
 * and a first component that is either a glob or one of `top_names`
 * (NULL-terminated). A leading '/' is dropped. Blank lines are skipped, so
 * a write of only blank lines gives an empty array (shells write each line
 * of `printf 'a\n\nb\n'` separately). Returns the patterns (owned by the
 * array) or NULL with INFRAFS_ERROR_INVALID quoting the bad line. */
GPtrArray *control_parse_patterns(const char *data, gsize len, const char *const *top_names,
				  GError **error);

/* How a line stands that has arrived without its newline (yet). */
enum control_fragment {
	CONTROL_FRAGMENT_COMPLETE, /* already a whole, valid line */
	CONTROL_FRAGMENT_PARTIAL,  /* not valid, but more bytes could make it so */
	CONTROL_FRAGMENT_INVALID,  /* no continuation can make it valid, but for
				    * one case taken as invalid on purpose: a
				    * first word naming nothing at the top
				    * ("garbage") that a glob character could
				    * still follow ("garbage*") */
};

/* Classify `len` bytes (no newline) as the start of a pattern line. */
enum control_fragment control_pattern_fragment(const char *data, gsize len,
					       const char *const *top_names);

/* Whether `pattern` selects `path`, an ancestor of it, or anything below
 * it: the data at `path` is affected by invalidating `pattern`. */
gboolean control_pattern_covers(const char *pattern, const char *path);

/* Whether `path` is matched by `glob` or lies below a path it matches. */
gboolean control_glob_contains(const char *glob, const char *path);
