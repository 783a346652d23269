/* requests: how many requests of each kind the kernel has sent the daemon.
 * A warm read should send none; .infrafs/stats.json and metrics show the
 * counts so that this can be seen and tested. Counting is lock-free. */
#pragma once

#include <glib.h>

enum request_kind {
	REQUEST_LOOKUP,
	REQUEST_GETATTR,
	REQUEST_OPEN,
	REQUEST_READ,
	REQUEST_WRITE,
	REQUEST_OPENDIR,
	REQUEST_READDIR,
	REQUEST_GETXATTR,
	REQUEST_OTHER,
	REQUEST_KIND_COUNT
};

struct request_counts {
	guint64 counts[REQUEST_KIND_COUNT];
};

/* "lookup", "getattr", ...: the label of `kind` in stats and metrics. */
const char *request_kind_name(enum request_kind kind);

static inline void request_counts_add(struct request_counts *requests, enum request_kind kind)
{
	__atomic_fetch_add(&requests->counts[kind], 1, __ATOMIC_RELAXED);
}

static inline guint64 request_counts_get(const struct request_counts *requests,
					 enum request_kind kind)
{
	return __atomic_load_n(&requests->counts[kind], __ATOMIC_RELAXED);
}
