/* fuzz_control: what a write to /.infrafs/ goes through before it changes
 * anything — the pattern grammar (control.h), the classification of a
 * line that lacks its newline (tree_write_fragment(), a plain function
 * that needs no tree), and the reassembly of lines from several writes
 * (write_lines.h).
 *
 * The input is the text written. It is
 *   1. parsed whole as invalidate patterns, and each pattern matched
 *      against a few paths;
 *   2. cut into lines, each classified for every control file, together
 *      with its prefixes (a fragment is what follows a writer's last
 *      newline, so none holds one);
 *   3. written by three fake writers, each to a control file of its own, in
 *      chunks of sizes drawn from a generator seeded by the input's first
 *      byte, interleaved, sometimes at a wrong offset; what write_lines
 *      hands back is applied as fs_ops.c does (a rejected text makes it
 *      forget the writer's line).
 *
 * Properties: parsed patterns are what the grammar promises (non-empty,
 * no '/' at either end, no empty, "." or ".." component, no control
 * character, UTF-8); a pattern without glob characters covers its own
 * path, its ancestors and what lies below it; a COMPLETE fragment parses;
 * a PARTIAL one holds no NUL; a prefix of a complete line is
 * never INVALID (save a bare word that is no top name's prefix and becomes
 * a glob only later: "x" of "x*"); write_lines hands back whole lines plus
 * at most a tail that is complete or hopeless, keeps at most
 * WRITE_LINES_MAX_PENDING lines, and for a writer whose writes all
 * followed on and were all accepted, the whole lines handed back are
 * exactly the whole lines written. */
#include <string.h>

#include "fuzz_common.h"
#include "infrafs/control.h"
#include "infrafs/tree.h"
#include "infrafs/write_lines.h"

/* What is at the top of the mount: the same list as top_names in tree.c. */
static const char *const top_names[] = {
	"README", "aggregates.json", "hosts.json", "flavors.json", "projects.json",
	"aggregates", "hosts", "flavors", "quotas", "live", ".infrafs", NULL,
};

/* The writable control files, and one that is not. */
static const char *const control_paths[] = {
	".infrafs/invalidate", ".infrafs/refresh", ".infrafs/ttl", ".infrafs/warm",
	".infrafs/stats",
};
#define N_PATHS G_N_ELEMENTS(control_paths)

static const char *const sample_paths[] = {
	"", "hosts", "hosts/CA1-l40-node01/state", "aggregates/GPU-L40/metadata/gpu_type",
	"quotas/ml-research/compute", ".infrafs/ttl", "live/hosts/x/servers.json",
};

/* Lines per input whose prefixes are all classified. */
#define MAX_LINES 8
/* Beyond this length, only some prefixes of a line are classified. */
#define ALL_PREFIXES_BYTES 96

#define N_WRITERS 3

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup_logging();
	return 0;
}

static gboolean is_pattern_path(const char *path)
{
	return strcmp(path, ".infrafs/invalidate") == 0 || strcmp(path, ".infrafs/refresh") == 0;
}

static gboolean has_glob_chars(const char *text, gsize len)
{
	for (gsize i = 0; i < len; i++)
		if (strchr("*?[\\", text[i]) != NULL && text[i] != '\0')
			return TRUE;
	return FALSE;
}

/* ---- 1. patterns ---------------------------------------------------- */

static void check_pattern(const char *pattern)
{
	gsize len = strlen(pattern);

	FUZZ_CHECK(len > 0, "an empty pattern");
	FUZZ_CHECK(pattern[0] != '/' && pattern[len - 1] != '/', "\"%s\": '/' at an end",
		   fuzz_shown(pattern));
	FUZZ_CHECK(g_utf8_validate(pattern, (gssize)len, NULL), "\"%s\": not UTF-8",
		   fuzz_shown(pattern));
	for (gsize i = 0; i < len; i++)
		FUZZ_CHECK((guchar)pattern[i] >= 0x20 && pattern[i] != 0x7f,
			   "\"%s\": control character", fuzz_shown(pattern));
	g_auto(GStrv) parts = g_strsplit(pattern, "/", -1);

	for (int i = 0; parts[i] != NULL; i++)
		FUZZ_CHECK(parts[i][0] != '\0' && strcmp(parts[i], ".") != 0 &&
				   strcmp(parts[i], "..") != 0,
			   "\"%s\": empty, '.' or '..' component", fuzz_shown(pattern));
	FUZZ_CHECK(has_glob_chars(parts[0], strlen(parts[0])) ||
			   g_strv_contains(top_names, parts[0]),
		   "\"%s\": first component neither a glob nor a top name", fuzz_shown(pattern));

	for (gsize i = 0; i < G_N_ELEMENTS(sample_paths); i++) {
		gboolean contains = control_glob_contains(pattern, sample_paths[i]);
		gboolean covers = control_pattern_covers(pattern, sample_paths[i]);

		FUZZ_CHECK(!contains || covers, "\"%s\" contains \"%s\" but does not cover it",
			   fuzz_shown(pattern), sample_paths[i]);
	}
	if (has_glob_chars(pattern, len))
		return;
	/* A plain path covers itself, what is above it and what is below. */
	g_autofree char *below = g_strconcat(pattern, "/x", NULL);

	FUZZ_CHECK(control_pattern_covers(pattern, pattern), "\"%s\" does not cover itself",
		   fuzz_shown(pattern));
	FUZZ_CHECK(control_glob_contains(pattern, below), "\"%s\" does not contain %s/x",
		   fuzz_shown(pattern), fuzz_shown(pattern));
	for (const char *slash = strchr(pattern, '/'); slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		g_autofree char *ancestor = g_strndup(pattern, (gsize)(slash - pattern));

		FUZZ_CHECK(control_pattern_covers(pattern, ancestor),
			   "\"%s\" does not cover its ancestor", fuzz_shown(pattern));
	}
}

static void fuzz_patterns(const char *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) patterns = control_parse_patterns(data, len, top_names, &error);

	FUZZ_CHECK((patterns == NULL) == (error != NULL),
		   "control_parse_patterns: result and error");
	if (patterns == NULL)
		return;
	for (guint i = 0; i < patterns->len; i++)
		check_pattern(patterns->pdata[i]);
}

/* ---- 2. fragments ------------------------------------------------------- */

static enum control_fragment classify(const char *path, const char *data, gsize len)
{
	enum control_fragment status = tree_write_fragment(path, data, len, NULL);

	FUZZ_CHECK(status == CONTROL_FRAGMENT_COMPLETE || status == CONTROL_FRAGMENT_PARTIAL ||
			   status == CONTROL_FRAGMENT_INVALID,
		   "tree_write_fragment: %d", (int)status);
	if (status == CONTROL_FRAGMENT_PARTIAL)
		FUZZ_CHECK(memchr(data, '\0', len) == NULL && len <= CONTROL_MAX_LINE_BYTES,
			   "PARTIAL with a NUL or too long (%zu bytes)", len);
	if (status == CONTROL_FRAGMENT_COMPLETE && is_pattern_path(path)) {
		g_autoptr(GPtrArray) patterns = control_parse_patterns(data, len, top_names, NULL);

		FUZZ_CHECK(patterns != NULL, "%s: a COMPLETE line does not parse", path);
	}
	if (strcmp(path, ".infrafs/stats") == 0)
		FUZZ_CHECK(status == CONTROL_FRAGMENT_INVALID, "%s is not writable", path);
	return status;
}

/* The excuse of an INVALID prefix of a valid pattern line: a bare word, no
 * top name's prefix, that a later glob character makes valid ("x" of "x*"). */
static gboolean bare_word(const char *data, gsize len)
{
	g_autofree char *text = g_strstrip(g_strndup(data, len));
	const char *word = text;

	while (*word == '/')
		word++;
	return strchr(word, '/') == NULL && !has_glob_chars(word, strlen(word));
}

static void fuzz_line(const char *line, gsize len)
{
	for (gsize p = 0; p < N_PATHS; p++) {
		const char *path = control_paths[p];

		if (classify(path, line, len) != CONTROL_FRAGMENT_COMPLETE)
			continue;
		/* Every prefix of a complete line can still become one. */
		gsize step = len <= ALL_PREFIXES_BYTES ? 1 : len / ALL_PREFIXES_BYTES + 1;

		for (gsize cut = 0; cut < len; cut += step) {
			if (classify(path, line, cut) != CONTROL_FRAGMENT_INVALID)
				continue;
			g_autofree char *line_text = g_strndup(line, len);
			g_autofree char *prefix = g_strndup(line, cut);

			FUZZ_CHECK(is_pattern_path(path) && bare_word(line, cut),
				   "%s: \"%s\" is INVALID, yet \"%s\" is COMPLETE", path,
				   fuzz_shown(prefix), fuzz_shown(line_text));
		}
	}
}

static void fuzz_fragments(const char *data, gsize len)
{
	const char *end = data + len;
	guint n = 0;

	for (const char *line = data; line < end && n < MAX_LINES; n++) {
		const char *newline = memchr(line, '\n', (size_t)(end - line));
		const char *line_end = newline ? newline : end;

		fuzz_line(line, (gsize)(line_end - line));
		line = newline ? newline + 1 : end;
	}
}

/* ---- 3. write_lines ----------------------------------------------------- */

struct writer {
	guint64 id;
	const char *path;
	gsize written;       /* bytes of the text written so far */
	guint64 offset;      /* the file offset of its next write */
	gboolean clean;      /* every write followed on and every tail was kept */
	GString *handed;     /* the whole lines handed back for it */
};

/* xorshift32: chunk sizes and turns, from the input's first byte. */
static guint32 next_random(guint32 *state)
{
	guint32 x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/* Apply what write_lines handed back, as fs_ops.c would: validated whole;
 * rejected, the writer's line is forgotten. Only patterns can be validated
 * without a tree; ttl and warm texts are taken as accepted. */
static void apply(struct write_lines *lines, struct writer *writer, const GString *text)
{
	if (text->len == 0 || !is_pattern_path(writer->path))
		return;
	g_autoptr(GPtrArray) patterns =
		control_parse_patterns(text->str, text->len, top_names, NULL);

	if (patterns == NULL) {
		write_lines_forget(lines, writer->path, writer->id);
		writer->clean = FALSE;
	}
}

static void write_chunk(struct write_lines *lines, struct writer *writer, const char *data,
			gsize len)
{
	g_autoptr(GString) text =
		write_lines_feed(lines, writer->path, writer->id, writer->offset, data, len);
	const char *last_newline = memrchr(text->str, '\n', text->len);
	gsize complete = last_newline ? (gsize)(last_newline - text->str) + 1 : 0;
	gsize tail = text->len - complete;

	/* What was kept is one line of at most CONTROL_MAX_LINE_BYTES. */
	FUZZ_CHECK(text->len <= CONTROL_MAX_LINE_BYTES + len,
		   "write_lines handed back %zu bytes for a write of %zu", text->len, len);
	if (tail > 0) {
		enum control_fragment status =
			tail > CONTROL_MAX_LINE_BYTES
				? CONTROL_FRAGMENT_INVALID
				: tree_write_fragment(writer->path, text->str + complete, tail,
						      NULL);

		FUZZ_CHECK(status != CONTROL_FRAGMENT_PARTIAL,
			   "%s: handed back a tail of %zu bytes that may still grow", writer->path,
			   tail);
		/* Handed back whole: the write itself is at its end. */
		FUZZ_CHECK(text->len >= len && memcmp(text->str + text->len - len, data, len) == 0,
			   "%s: a tail handed back without the write's own bytes", writer->path);
		if (status == CONTROL_FRAGMENT_INVALID)
			writer->clean = FALSE; /* its line was dropped */
	}
	g_string_append_len(writer->handed, text->str, (gssize)complete);
	writer->offset += len;
	writer->written += len;
	apply(lines, writer, text);
	FUZZ_CHECK(write_lines_pending(lines) <= WRITE_LINES_MAX_PENDING, "%u lines pending",
		   write_lines_pending(lines));
}

static void fuzz_write_lines(const char *data, gsize len)
{
	guint32 state = 0x9e3779b9u ^ (len > 0 ? (guint32)(guchar)data[0] * 0x01000193u : 0u);
	struct write_lines *lines = write_lines_new(tree_write_fragment, NULL);
	struct writer writers[N_WRITERS];

	for (guint w = 0; w < N_WRITERS; w++) {
		writers[w] = (struct writer){
			.id = 1000 + w,
			.path = control_paths[(next_random(&state) + w) % N_PATHS],
			.clean = TRUE,
			.handed = g_string_new(NULL),
		};
	}
	/* Each writer writes the whole text, in chunks of 0 to 16 bytes (a
	 * zero-length write now and then), taking turns at random. */
	for (gsize round = 0; round < 4 * len + 16; round++) {
		struct writer *writer = &writers[next_random(&state) % N_WRITERS];

		if (writer->written >= len)
			continue;
		gsize chunk = next_random(&state) % 17;

		chunk = MIN(chunk, len - writer->written);

		/* One write in 32 lands at a wrong offset, as a new writer's
		 * would: whatever line was pending is not continued. */
		if (next_random(&state) % 32 == 0) {
			writer->offset += 1 + next_random(&state) % 8;
			writer->clean = FALSE;
		}
		write_chunk(lines, writer, data + writer->written, chunk);
	}

	for (guint w = 0; w < N_WRITERS; w++) {
		struct writer *writer = &writers[w];
		const char *last_newline =
			writer->written > 0 ? memrchr(data, '\n', writer->written) : NULL;
		gsize whole = last_newline ? (gsize)(last_newline - data) + 1 : 0;

		if (writer->clean)
			FUZZ_CHECK(writer->handed->len == whole &&
					   memcmp(writer->handed->str, data, whole) == 0,
				   "%s: writer %" G_GUINT64_FORMAT " got back \"%s\" (%zu bytes), "
				   "not the %zu bytes of whole lines it wrote",
				   writer->path, writer->id, fuzz_shown(writer->handed->str),
				   writer->handed->len, whole);
		g_string_free(writer->handed, TRUE);
	}
	write_lines_free(lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	fuzz_patterns(text, size);
	fuzz_fragments(text, size);
	fuzz_write_lines(text, size);
	return 0;
}
