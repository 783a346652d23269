/* clock: the time sources of infrafs.
 *
 * Monotonic time drives TTLs and deadlines; wall time is only for what users
 * see (st_mtime, xattrs, the errors file). Both can be replaced by a manual
 * source in unit tests, so that no test ever sleeps. Thread-safe. */
#pragma once

#include <glib.h>

/* Microseconds on the monotonic clock. */
gint64 clock_mono_us(void);

/* Microseconds since the Unix epoch. */
gint64 clock_wall_us(void);

/* Test hook: make both clocks read *mono_us and *wall_us (NULL restores the
 * real clocks). The values are read on every call; a test changes them from
 * one thread while others only read. */
void clock_use_manual(gint64 *mono_us, gint64 *wall_us);
