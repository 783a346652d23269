/* log: where log lines go, and the masking of secrets.
 *
 * Every module logs through GLib (g_debug, g_info, g_message) in the
 * "infrafs" domain; g_warning means "cannot happen" (tests make it fatal).
 * Nothing that could be a token or password is ever logged in clear: pass it
 * through log_mask_secret() first. */
#pragma once

#include <glib.h>

/* Route GLib's and libfuse's messages to stderr with a timestamp; `debug`
 * turns on g_debug. Call once from main before starting threads. */
void log_init(gboolean debug);

/* A printable stand-in for a secret: its length and a short digest, never
 * the secret itself ("<secret len=32 sha256:1a2b3c4d>"). Free with g_free. */
char *log_mask_secret(const char *secret);
