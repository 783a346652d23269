/* requests: names of the request kinds (see infrafs/requests.h). */
#include "infrafs/requests.h"

const char *request_kind_name(enum request_kind kind)
{
	static const char *const names[REQUEST_KIND_COUNT] = {
		[REQUEST_LOOKUP] = "lookup",   [REQUEST_GETATTR] = "getattr",
		[REQUEST_OPEN] = "open",       [REQUEST_READ] = "read",
		[REQUEST_WRITE] = "write",     [REQUEST_OPENDIR] = "opendir",
		[REQUEST_READDIR] = "readdir", [REQUEST_GETXATTR] = "getxattr",
		[REQUEST_OTHER] = "other",
	};

	return (guint)kind < REQUEST_KIND_COUNT ? names[kind] : "other";
}
