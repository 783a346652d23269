/* log: where log lines go, and the masking of secrets.
 *
 * Every module logs through GLib (g_debug, g_info, g_message) in the
 * "infrafs" domain; g_warning means "cannot happen" (tests make it fatal).
 * Nothing that could be a token or password is ever logged in clear: pass it
 * through log_mask_secret() first. */
#pragma once

#include <glib.h>

/* Route GLib's messages to stderr with a timestamp; `debug` turns on
 * g_debug. Call once from main before starting threads. */
void log_init(gboolean debug);

/* From now on log to syslog (daemon facility) instead of stderr: call once
 * the daemon has detached from its terminal. */
void log_use_syslog(void);

/* A string that holds a credential: g_autoptr(secret_string) wipes it
 * before freeing, so tokens do not linger in freed memory. */
typedef char secret_string;
void secret_string_free(secret_string *secret);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(secret_string, secret_string_free)

/* A printable stand-in for a secret: its length and a short digest, never
 * the secret itself ("<secret len=32 sha256:1a2b3c4d>"). Free with g_free. */
char *log_mask_secret(const char *secret);
