/* control: parsing and matching of control-file patterns (see infrafs/control.h). */
#include "infrafs/control.h"

#include <fnmatch.h>
#include <string.h>

#include "infrafs/errors.h"

static gboolean has_glob_chars(const char *text)
{
	return strpbrk(text, "*?[\\") != NULL;
}

/* Brackets must close: fnmatch treats an unclosed '[' as a literal, which
 * would silently match nothing the user meant. */
static gboolean brackets_balanced(const char *pattern)
{
	for (const char *p = pattern; *p; p++) {
		if (*p == '\\') {
			if (p[1] == '\0')
				return FALSE;
			p++;
			continue;
		}
		if (*p != '[')
			continue;
		const char *q = p + 1;

		if (*q == '!' || *q == '^')
			q++;
		if (*q == ']')
			q++;
		while (*q && *q != ']')
			q++;
		if (*q != ']')
			return FALSE;
		p = q;
	}
	return TRUE;
}

static gboolean check_pattern(const char *pattern, const char *const *top_names,
			      GError **error)
{
	if (*pattern == '\0') {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID, "empty pattern");
		return FALSE;
	}
	for (const char *p = pattern; *p; p++) {
		if ((guchar)*p < 0x20 || *p == 0x7f) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
				    "pattern has a control character");
			return FALSE;
		}
	}
	if (!g_utf8_validate(pattern, -1, NULL)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
			    "pattern is not valid UTF-8");
		return FALSE;
	}
	if (!brackets_balanced(pattern)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
			    "pattern \"%s\": unbalanced '[' or trailing '\\'", pattern);
		return FALSE;
	}
	g_auto(GStrv) parts = g_strsplit(pattern, "/", -1);

	for (int i = 0; parts[i] != NULL; i++) {
		if (g_strcmp0(parts[i], ".") == 0 || g_strcmp0(parts[i], "..") == 0 ||
		    (parts[i][0] == '\0' && parts[i + 1] != NULL)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
				    "pattern \"%s\": empty, '.' or '..' component", pattern);
			return FALSE;
		}
	}
	if (!has_glob_chars(parts[0]) && !g_strv_contains(top_names, parts[0])) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
			    "pattern \"%s\": nothing called \"%s\" at the top of the mount",
			    pattern, parts[0]);
		return FALSE;
	}
	return TRUE;
}

GPtrArray *control_parse_patterns(const char *data, gsize len, const char *const *top_names,
				  GError **error)
{
	g_autoptr(GPtrArray) patterns = g_ptr_array_new_with_free_func(g_free);
	const char *end = data + len;

	if (memchr(data, '\0', len) != NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID, "write contains a NUL byte");
		return NULL;
	}
	for (const char *line = data; line < end;) {
		const char *newline = memchr(line, '\n', end - line);
		const char *line_end = newline ? newline : end;
		gsize line_len = line_end - line;

		if (line_len > CONTROL_MAX_LINE_BYTES) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_INVALID,
				    "line longer than %d bytes", CONTROL_MAX_LINE_BYTES);
			return NULL;
		}
		g_autofree char *text = g_strstrip(g_strndup(line, line_len));
		char *pattern = text;

		line = newline ? newline + 1 : end;
		if (*pattern == '\0')
			continue;
		while (*pattern == '/')
			pattern++;
		/* "hosts/" means the directory hosts. */
		gsize plen = strlen(pattern);

		while (plen > 0 && pattern[plen - 1] == '/')
			pattern[--plen] = '\0';
		if (!check_pattern(pattern, top_names, error))
			return NULL;
		g_ptr_array_add(patterns, g_strdup(pattern));
	}
	return g_steal_pointer(&patterns);
}

/* Whether the glob matches `path` itself or one of its ancestors. */
gboolean control_glob_contains(const char *glob, const char *path)
{
	if (fnmatch(glob, path, 0) == 0)
		return TRUE;
	g_autofree char *prefix = g_strdup(path);

	for (char *slash = strrchr(prefix, '/'); slash != NULL; slash = strrchr(prefix, '/')) {
		*slash = '\0';
		if (fnmatch(glob, prefix, 0) == 0)
			return TRUE;
	}
	return FALSE;
}

gboolean control_pattern_covers(const char *pattern, const char *path)
{
	if (control_glob_contains(pattern, path))
		return TRUE;

	/* Below `path`: the pattern's leading components match path's. */
	g_auto(GStrv) pattern_parts = g_strsplit(pattern, "/", -1);
	g_auto(GStrv) path_parts = g_strsplit(path, "/", -1);
	guint n_pattern = g_strv_length(pattern_parts);
	guint n_path = g_strv_length(path_parts);

	if (n_pattern <= n_path)
		return FALSE;
	for (guint i = 0; i < n_path; i++)
		if (fnmatch(pattern_parts[i], path_parts[i], 0) != 0)
			return FALSE;
	return TRUE;
}

/* Whether `bad`, the invalid end of a text, is the start of a UTF-8
 * character that a write cut in two, which the next write may complete. */
static gboolean is_cut_character(const char *bad)
{
	const guchar *bytes = (const guchar *)bad;
	gsize have = strlen(bad);
	gsize need = bytes[0] >= 0xf0 && bytes[0] <= 0xf4   ? 4
		     : bytes[0] >= 0xe0 && bytes[0] <= 0xef ? 3
		     : bytes[0] >= 0xc2 && bytes[0] <= 0xdf ? 2
							    : 0;

	if (need == 0 || have >= need)
		return FALSE;
	for (gsize i = 1; i < have; i++)
		if ((bytes[i] & 0xc0) != 0x80)
			return FALSE;
	return TRUE;
}

static gboolean is_prefix_of_any(const char *start, const char *const *names)
{
	for (const char *const *name = names; *name != NULL; name++)
		if (g_str_has_prefix(*name, start))
			return TRUE;
	return FALSE;
}

enum control_fragment control_pattern_fragment(const char *data, gsize len,
					       const char *const *top_names)
{
	g_autoptr(GPtrArray) whole = control_parse_patterns(data, len, top_names, NULL);

	if (whole != NULL)
		return CONTROL_FRAGMENT_COMPLETE;
	if (len > CONTROL_MAX_LINE_BYTES || memchr(data, '\0', len) != NULL ||
	    memchr(data, '\n', len) != NULL)
		return CONTROL_FRAGMENT_INVALID;
	g_autofree char *text = g_strndup(data, len);
	const char *bad_utf8 = NULL;

	if (!g_utf8_validate(text, -1, &bad_utf8) && !is_cut_character(bad_utf8))
		return CONTROL_FRAGMENT_INVALID;
	char *pattern = g_strstrip(text);

	for (const char *p = pattern; *p; p++)
		if ((guchar)*p < 0x20 || *p == 0x7f)
			return CONTROL_FRAGMENT_INVALID;
	while (*pattern == '/')
		pattern++;
	if (*pattern == '\0')
		return CONTROL_FRAGMENT_PARTIAL;
	g_auto(GStrv) parts = g_strsplit(pattern, "/", -1);
	guint n_parts = g_strv_length(parts);

	/* Every component but the last is final already. */
	for (guint i = 0; i + 1 < n_parts; i++)
		if (g_strcmp0(parts[i], ".") == 0 || g_strcmp0(parts[i], "..") == 0 ||
		    parts[i][0] == '\0')
			return CONTROL_FRAGMENT_INVALID;
	if (has_glob_chars(parts[0]))
		return CONTROL_FRAGMENT_PARTIAL;
	if (n_parts == 1)
		return is_prefix_of_any(parts[0], top_names) ? CONTROL_FRAGMENT_PARTIAL
							      : CONTROL_FRAGMENT_INVALID;
	return g_strv_contains(top_names, parts[0]) ? CONTROL_FRAGMENT_PARTIAL
						    : CONTROL_FRAGMENT_INVALID;
}
