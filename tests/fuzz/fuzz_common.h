/* fuzz_common: what every libFuzzer target of tests/fuzz/ shares.
 *
 * A target states the properties it relies on with FUZZ_CHECK(): a broken
 * one prints what was expected and aborts, which libFuzzer reports as a
 * crash and saves as a reproducer. GLib warnings and criticals are fatal
 * too, as in the unit tests: they mean "cannot happen". */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__,        \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* `text` with its control characters and non-ASCII bytes escaped, for a
 * message of FUZZ_CHECK(): only evaluated when the check fails, and never
 * freed, as abort() follows. */
static inline char *fuzz_shown(const char *text)
{
	return g_strescape(text != NULL ? text : "(null)", NULL);
}

/* GLib's log handler aborts on warnings and criticals; everything quieter
 * is dropped, so that a long run does not fill the terminal. */
static inline void fuzz_log_quiet(const gchar *domain, GLogLevelFlags level, const gchar *message,
				  gpointer user_data)
{
	(void)domain;
	(void)level;
	(void)message;
	(void)user_data;
}

static inline void fuzz_setup_logging(void)
{
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	g_log_set_handler(NULL, G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG,
			  fuzz_log_quiet, NULL);
	g_log_set_handler("infrafs", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG,
			  fuzz_log_quiet, NULL);
}

/* Whether `text` (NUL-terminated) is one valid path component as the name
 * encoder promises: 1 to NAME_MAX bytes, no '/', no control character, not
 * starting with '.', valid UTF-8, and every '%' the start of a %XX escape
 * with upper-case hex digits. Returns NULL when it is, else what is wrong. */
static inline const char *fuzz_component_problem(const char *text, gsize max_bytes)
{
	gsize len = strlen(text);

	if (len == 0)
		return "empty";
	if (len > max_bytes)
		return "longer than NAME_MAX";
	if (text[0] == '.')
		return "starts with '.'";
	if (!g_utf8_validate(text, (gssize)len, NULL))
		return "not UTF-8";
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)text[i];

		if (c == '/')
			return "has a '/'";
		if (c < 0x20 || c == 0x7f)
			return "has a control character";
		if (c == 0xc2 && i + 1 < len && (guchar)text[i + 1] >= 0x80 &&
		    (guchar)text[i + 1] < 0xa0)
			return "has a C1 control character";
		if (c == '%') {
			if (i + 2 >= len || !g_ascii_isxdigit(text[i + 1]) ||
			    !g_ascii_isxdigit(text[i + 2]) || g_ascii_islower(text[i + 1]) ||
			    g_ascii_islower(text[i + 2]))
				return "has a '%' that starts no %XX escape";
		}
	}
	return NULL;
}
